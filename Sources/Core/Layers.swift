/// `torch.nn.Linear`: `weight` [out, in], optional `bias` [out].
public struct Linear {
    public var weight: Tensor
    public var bias: Tensor?

    public init(weight: Tensor, bias: Tensor?) { (self.weight, self.bias) = (weight, bias) }

    /// Loads `<prefix>.weight` and, when `bias`, `<prefix>.bias`.
    public init(_ store: ParameterStore, _ prefix: String, inFeatures: Int, outFeatures: Int, bias: Bool = true) throws {
        weight = try store.tensor("\(prefix).weight", shape: [outFeatures, inFeatures])
        self.bias = bias ? try store.tensor("\(prefix).bias", shape: [outFeatures]) : nil
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { x.linear(weight: weight, bias: bias) }
}

/// `torch.nn.Conv2d` with square kernels.
public struct Conv2d {
    public var weight: Tensor
    public var bias: Tensor?
    public var stride: Int
    public var padding: Padding2D

    public init(_ store: ParameterStore, _ prefix: String, inChannels: Int, outChannels: Int, kernel: Int,
                stride: Int = 1, padding: Padding2D? = nil) throws {
        weight = try store.tensor("\(prefix).weight", shape: [outChannels, inChannels, kernel, kernel])
        bias = try store.tensor("\(prefix).bias", shape: [outChannels])
        self.stride = stride
        self.padding = padding ?? .uniform(kernel / 2)
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        x.conv2d(weight: weight, bias: bias, stride: stride, padding: padding)
    }
}

/// A 1x1 projection stored either as `nn.Linear` [out, in] or as `nn.Conv2d` [out, in, 1, 1];
/// used where diffusers switches on `use_linear_projection`. Applied to tokens [B, L, C].
public struct TokenProjection {
    public var linear: Linear

    public init(_ store: ParameterStore, _ prefix: String, inFeatures: Int, outFeatures: Int, asConv: Bool) throws {
        let shape = asConv ? [outFeatures, inFeatures, 1, 1] : [outFeatures, inFeatures]
        let w = try store.tensor("\(prefix).weight", shape: shape)
        let b = try store.tensor("\(prefix).bias", shape: [outFeatures])
        linear = Linear(weight: w.reshaped([outFeatures, inFeatures]), bias: b)
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { linear(x) }
}

/// `torch.nn.GroupNorm` with affine parameters.
public struct GroupNorm {
    public var weight: Tensor, bias: Tensor
    public var groups: Int
    public var eps: Float

    public init(_ store: ParameterStore, _ prefix: String, channels: Int, groups: Int, eps: Float) throws {
        guard channels % groups == 0 else {
            throw InputError(store.source, "'\(prefix)': \(channels) channels do not split into \(groups) groups (norm_num_groups)")
        }
        weight = try store.tensor("\(prefix).weight", shape: [channels])
        bias = try store.tensor("\(prefix).bias", shape: [channels])
        (self.groups, self.eps) = (groups, eps)
    }

    /// Normalises `x`, then applies SiLU in the same pass when `thenSiLU`.
    public func callAsFunction(_ x: Tensor, thenSiLU: Bool = false) -> Tensor {
        x.groupNorm(groups: groups, weight: weight, bias: bias, eps: eps, thenSiLU: thenSiLU)
    }
}

/// `torch.nn.LayerNorm` over the last axis, with affine parameters.
public struct LayerNorm {
    public var weight: Tensor, bias: Tensor
    public var eps: Float

    public init(_ store: ParameterStore, _ prefix: String, dim: Int, eps: Float) throws {
        weight = try store.tensor("\(prefix).weight", shape: [dim])
        bias = try store.tensor("\(prefix).bias", shape: [dim])
        self.eps = eps
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { x.layerNorm(weight: weight, bias: bias, eps: eps) }
}
