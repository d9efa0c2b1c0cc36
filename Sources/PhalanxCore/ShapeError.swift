// Errors for shapes and geometries a user can cause through a model config.

/// A shape that a layer cannot take, naming the layer and what is wrong.
public struct ShapeError: Error, CustomStringConvertible, Equatable {
    /// Where the layer sits in the model, outermost first (`["features", "conv1"]`);
    /// containers prepend their child's name as the error travels up.
    public var path: [String]
    /// The layer's kind (`Conv2D`, `Linear`, ...).
    public var kind: String
    /// What is wrong, in words.
    public var message: String

    public init(kind: String, _ message: String, path: [String] = []) {
        self.kind = kind
        self.message = message
        self.path = path
    }

    /// The same error seen from a container that calls the layer `name`.
    public func inside(_ name: String) -> ShapeError {
        ShapeError(kind: kind, message, path: [name] + path)
    }

    public var description: String {
        path.isEmpty ? "\(kind): \(message)" : "layer '\(path.joined(separator: "."))' (\(kind)): \(message)"
    }
}

/// Describes a shape as `[N, C, H, W]`-style text.
public func describe(_ shape: [Int]) -> String {
    "[" + shape.map(String.init).joined(separator: ", ") + "]"
}
