// The data every analysis method reads and writes: a dense row-major matrix of Floats,
// one sample per row (scikit-learn's X of shape [n_samples, n_features]).
import PhalanxCore

/// `rows × cols` Floats, row-major: sample `i` is `values[i * cols ..< (i + 1) * cols]`.
public struct Matrix: Sendable, Equatable {
    public let rows: Int
    public let cols: Int
    public var values: [Float]

    /// A zero matrix.
    public init(rows: Int, cols: Int) {
        self.rows = rows
        self.cols = cols
        values = [Float](repeating: 0, count: rows * cols)
    }

    /// A matrix of `values` (row-major); their count must be `rows × cols`.
    public init(rows: Int, cols: Int, values: [Float]) throws(AnalysisError) {
        guard rows >= 0, cols >= 0, values.count == rows * cols else {
            throw .input("\(values.count) values do not make a \(rows)×\(cols) matrix")
        }
        self.rows = rows
        self.cols = cols
        self.values = values
    }

    /// A matrix of Doubles, rounded to Float.
    public init(rows: Int, cols: Int, doubles: [Double]) {
        precondition(doubles.count == rows * cols, "Matrix: \(doubles.count) values for \(rows)×\(cols)")
        self.rows = rows
        self.cols = cols
        values = doubles.map { Float($0) }
    }

    /// The samples of a tensor `[N, …]`, flattened: N rows of the remaining sizes' product.
    public init(_ tensor: Tensor) {
        rows = tensor.shape.first ?? 0
        cols = rows == 0 ? tensor.shape.dropFirst().reduce(1, *) : tensor.count / rows
        values = tensor.scalars
    }

    @inlinable public subscript(i: Int, j: Int) -> Float {
        get { values[i * cols + j] }
        set { values[i * cols + j] = newValue }
    }

    /// Row `i` as an array.
    public func row(_ i: Int) -> [Float] { Array(values[(i * cols)..<((i + 1) * cols)]) }

    /// The rows at `indices`, in that order.
    public func selecting(rows indices: [Int]) -> Matrix {
        var out = Matrix(rows: indices.count, cols: cols)
        for (r, i) in indices.enumerated() {
            for j in 0..<cols { out.values[r * cols + j] = values[i * cols + j] }
        }
        return out
    }

    /// The first `count` columns.
    public func leadingColumns(_ count: Int) -> Matrix {
        var out = Matrix(rows: rows, cols: count)
        for i in 0..<rows { for j in 0..<count { out.values[i * count + j] = values[i * cols + j] } }
        return out
    }

    /// The values as Doubles (row-major).
    public var doubles: [Double] { values.map(Double.init) }

    /// The first non-finite value, as (row, column), or nil.
    public var firstNonFinite: (row: Int, column: Int)? {
        guard let k = values.firstIndex(where: { !$0.isFinite }) else { return nil }
        return (k / max(cols, 1), k % max(cols, 1))
    }

    /// The values as a tensor `[rows, cols]`.
    public var tensor: Tensor { Tensor(shape: [rows, cols], values: values) }
}

/// A bad option or bad input of an analysis method; says which and why.
public struct AnalysisError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The option at fault (`--clusters`), or nil for a fault of the input data.
    public var option: String?
    public var message: String

    /// A bad value of `option` (named as on the command line, `--clusters`).
    public static func option(_ option: String, _ message: String) -> AnalysisError {
        AnalysisError(option: option, message: message)
    }

    /// A fault of the input features.
    public static func input(_ message: String) -> AnalysisError {
        AnalysisError(option: nil, message: message)
    }

    public var description: String { option.map { "\($0): \(message)" } ?? message }
}

extension Matrix {
    /// Refuses an empty matrix, a non-finite value (naming its row and column), or fewer
    /// than `minimumRows` samples — the checks every method makes on its input.
    public func validate(minimumRows: Int = 1, method: String) throws(AnalysisError) {
        guard rows >= minimumRows, cols > 0 else {
            throw .input("\(method) needs at least \(minimumRows) samples of at least one feature, got \(rows)×\(cols)")
        }
        if let bad = firstNonFinite {
            throw .input("the features hold \(self[bad.row, bad.column]) at sample \(bad.row), feature \(bad.column)")
        }
    }
}
