// Tensor: a Float32 array with a shape, row-major (NCHW for images).
//
// A `Tensor` is a reference type, like Caffe's Blob: a layer owns its output and
// gradient tensors and reuses them from step to step, so a training step allocates
// nothing once the shapes are known. A tensor returned by `forward` belongs to the
// layer and is overwritten by the next call; copy it (`copy()`) to keep it.
import Foundation

/// Backing memory of one or more tensors (views share it), 64-byte aligned.
public final class TensorStorage: @unchecked Sendable {
    public let pointer: UnsafeMutablePointer<Float>
    public let capacity: Int
    /// The storage this one is a window of (kept alive by it), or nil when it owns its memory.
    private let parent: TensorStorage?

    /// Zero-filled memory for `capacity` floats.
    public init(capacity: Int) {
        self.capacity = capacity
        parent = nil
        var raw: UnsafeMutableRawPointer?
        let bytes = max(capacity, 1) * MemoryLayout<Float>.stride
        guard posix_memalign(&raw, 64, bytes) == 0, let raw else {
            fatalError("Tensor: cannot allocate \(bytes) bytes")
        }
        pointer = raw.bindMemory(to: Float.self, capacity: max(capacity, 1))
        pointer.initialize(repeating: 0, count: max(capacity, 1))
    }

    /// A window of `capacity` floats of `parent` from `offset` on (a gradient bucket's
    /// slice for one parameter); it shares the parent's memory and keeps it alive.
    public init(window parent: TensorStorage, offset: Int, capacity: Int) {
        precondition(offset >= 0 && offset + capacity <= parent.capacity,
                     "TensorStorage: window \(offset)..<\(offset + capacity) outside \(parent.capacity) floats")
        self.parent = parent
        self.capacity = capacity
        pointer = parent.pointer + offset
    }

    deinit {
        if parent == nil { free(pointer) }
    }
}

/// A Float32 tensor, row-major, with reference semantics.
public final class Tensor: @unchecked Sendable, CustomStringConvertible {
    /// The extent of each dimension, outermost first.
    public private(set) var shape: [Int]
    /// The number of elements (product of `shape`).
    public private(set) var count: Int
    /// The memory this tensor reads and writes; views share it.
    public private(set) var storage: TensorStorage

    /// A zero-filled tensor of the given shape.
    public init(shape: [Int]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "Tensor: negative extent in shape \(shape)")
        self.shape = shape
        self.count = shape.reduce(1, *)
        self.storage = TensorStorage(capacity: count)
    }

    /// A tensor holding `values`, whose count must equal the product of `shape`.
    public convenience init(shape: [Int], values: [Float]) {
        self.init(shape: shape)
        precondition(values.count == count,
                     "Tensor: \(values.count) values do not fill shape \(shape) (\(count) elements)")
        values.withUnsafeBufferPointer { data.update(from: $0.baseAddress!, count: count) }
    }

    /// A tensor of `shape` filled with `value`.
    public convenience init(shape: [Int], repeating value: Float) {
        self.init(shape: shape)
        fill(value)
    }

    private init(shape: [Int], storage: TensorStorage) {
        self.shape = shape
        self.count = shape.reduce(1, *)
        self.storage = storage
    }

    /// Moves the tensor onto `newStorage` (at least `count` floats), copying its values:
    /// the tensor object, which layers and optimizers hold, stays the same.
    public func rebind(to newStorage: TensorStorage) {
        precondition(newStorage.capacity >= count, "Tensor.rebind: \(newStorage.capacity) floats cannot hold \(count)")
        newStorage.pointer.update(from: storage.pointer, count: count)
        storage = newStorage
    }

    /// First element; the tensor's memory is `data[0..<count]`.
    @inlinable public var data: UnsafeMutablePointer<Float> { storage.pointer }

    /// The elements as a buffer pointer.
    @inlinable public var buffer: UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(start: storage.pointer, count: count)
    }

    /// Number of dimensions.
    public var rank: Int { shape.count }

    /// The element at flat index `i`.
    @inlinable public subscript(i: Int) -> Float {
        get { data[i] }
        set { data[i] = newValue }
    }

    /// The elements copied into an array.
    public var scalars: [Float] { Array(buffer) }

    /// A view of the same memory with another shape of the same element count.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        let n = newShape.reduce(1, *)
        precondition(n == count, "Tensor: cannot reshape \(shape) (\(count) elements) to \(newShape) (\(n) elements)")
        return Tensor(shape: newShape, storage: storage)
    }

    /// Changes the shape in place, reallocating only when the memory is too small.
    /// The contents are unspecified afterwards unless the count is unchanged.
    public func resize(_ newShape: [Int]) {
        if newShape == shape { return }
        let n = newShape.reduce(1, *)
        if n > storage.capacity { storage = TensorStorage(capacity: n) }
        shape = newShape
        count = n
    }

    /// An independent copy (new memory).
    public func copy() -> Tensor {
        let t = Tensor(shape: shape)
        t.data.update(from: data, count: count)
        return t
    }

    /// Copies the elements of `other`, which must have the same count; takes its shape.
    public func copy(from other: Tensor) {
        resize(other.shape)
        data.update(from: other.data, count: count)
    }

    /// Sets every element to `value`.
    public func fill(_ value: Float) { data.update(repeating: value, count: count) }

    /// Sets every element to zero.
    public func zero() { fill(0) }

    public var description: String {
        let head = buffer.prefix(8).map { String(format: "%.4g", $0) }.joined(separator: ", ")
        return "Tensor(\(shape): [\(head)\(count > 8 ? ", …" : "")])"
    }
}

extension Tensor {
    /// Returns (or makes) a buffer of `shape` in `slot`, reusing its memory when it fits.
    /// Layers keep their outputs and gradients this way across steps.
    @inlinable
    public static func reuse(_ slot: inout Tensor?, shape: [Int]) -> Tensor {
        if let t = slot {
            t.resize(shape)
            return t
        }
        let t = Tensor(shape: shape)
        slot = t
        return t
    }
}
