// Weight initialisers: LeCun, Glorot (Xavier) and He (Kaiming), uniform or normal.
//
// LeCun et al., "Efficient BackProp" (1998): U(±1/√fan_in).
// Glorot & Bengio, "Understanding the difficulty of training deep feedforward neural
// networks" (2010): U(±√6/√(fan_in + fan_out)).
// He et al., "Delving Deep into Rectifiers" (2015): N(0, √(2/fan_in)).
import PhalanxCore

/// How a weight tensor is filled before training; biases start at zero.
public enum Initializer: String, Codable, Sendable, CaseIterable {
    /// Uniform in ±1/√fan_in.
    case lecun
    /// Uniform in ±√6/√(fan_in + fan_out).
    case glorot
    /// Normal with standard deviation √(2/fan_in).
    case he
    /// Uniform in ±√6/√fan_in (He's bound for uniform draws).
    case heUniform = "he_uniform"
    /// All zeros.
    case zeros

    /// Fills `tensor` given its fan-in and fan-out.
    public func fill(_ tensor: Tensor, fanIn: Int, fanOut: Int, rng: inout RNG) {
        let fi = Float(max(fanIn, 1)), fo = Float(max(fanOut, 1))
        switch self {
        case .lecun:
            let a = 1 / fi.squareRoot()
            rng.fillUniform(tensor, -a, a)
        case .glorot:
            let a = (6 / (fi + fo)).squareRoot()
            rng.fillUniform(tensor, -a, a)
        case .he:
            rng.fillNormal(tensor, std: (2 / fi).squareRoot())
        case .heUniform:
            let a = (6 / fi).squareRoot()
            rng.fillUniform(tensor, -a, a)
        case .zeros:
            tensor.zero()
        }
    }
}
