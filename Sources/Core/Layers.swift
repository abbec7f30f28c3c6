/// `torch.nn.Linear`: `weight` [out, in], optional `bias` [out].
public struct Linear {
    public var weight: Tensor
    public var bias: Tensor?
    /// The state-dict prefix of `weight` and `bias`: the names their gradients go by.
    public var name: String

    /// `weight` [out, in] (or [out, in, 1, 1]: a 1x1 convolution's, applied to tokens).
    public init(weight: Tensor, bias: Tensor?, name: String = "") { (self.weight, self.bias, self.name) = (weight, bias, name) }

    /// Loads `<prefix>.weight` and, when `bias`, `<prefix>.bias`.
    public init(_ store: ParameterStore, _ prefix: String, inFeatures: Int, outFeatures: Int, bias: Bool = true) throws {
        weight = try store.tensor("\(prefix).weight", shape: [outFeatures, inFeatures])
        self.bias = bias ? try store.tensor("\(prefix).bias", shape: [outFeatures]) : nil
        name = prefix
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { x.linear(weight: weight, bias: bias) }

    public func callAsFunction(_ x: Variable) -> Variable {
        x.linear(weight: x.parameter("\(name).weight", weight), bias: bias.map { x.parameter("\(name).bias", $0) })
    }
}

/// `torch.nn.Conv2d` with square kernels.
public struct Conv2d {
    public var weight: Tensor
    public var bias: Tensor?
    public var stride: Int
    public var padding: Padding2D
    /// The state-dict prefix of `weight` and `bias`.
    public var name: String

    public init(_ store: ParameterStore, _ prefix: String, inChannels: Int, outChannels: Int, kernel: Int,
                stride: Int = 1, padding: Padding2D? = nil) throws {
        weight = try store.tensor("\(prefix).weight", shape: [outChannels, inChannels, kernel, kernel])
        bias = try store.tensor("\(prefix).bias", shape: [outChannels])
        self.stride = stride
        self.padding = padding ?? .uniform(kernel / 2)
        name = prefix
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        x.conv2d(weight: weight, bias: bias, stride: stride, padding: padding)
    }

    public func callAsFunction(_ x: Variable) -> Variable {
        x.conv2d(weight: x.parameter("\(name).weight", weight), bias: bias.map { x.parameter("\(name).bias", $0) },
                 stride: stride, padding: padding)
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
        linear = Linear(weight: w, bias: b, name: prefix)
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { linear(x) }
    public func callAsFunction(_ x: Variable) -> Variable { linear(x) }
}

/// `torch.nn.GroupNorm` with affine parameters.
public struct GroupNorm {
    public var weight: Tensor, bias: Tensor
    public var groups: Int
    public var eps: Float
    /// The state-dict prefix of `weight` and `bias`.
    public var name: String

    public init(_ store: ParameterStore, _ prefix: String, channels: Int, groups: Int, eps: Float) throws {
        guard channels % groups == 0 else {
            throw InputError(store.source, "'\(prefix)': \(channels) channels do not split into \(groups) groups (norm_num_groups)")
        }
        weight = try store.tensor("\(prefix).weight", shape: [channels])
        bias = try store.tensor("\(prefix).bias", shape: [channels])
        (self.groups, self.eps, self.name) = (groups, eps, prefix)
    }

    /// Normalises `x`, then applies SiLU in the same pass when `thenSiLU`.
    public func callAsFunction(_ x: Tensor, thenSiLU: Bool = false) -> Tensor {
        x.groupNorm(groups: groups, weight: weight, bias: bias, eps: eps, thenSiLU: thenSiLU)
    }

    public func callAsFunction(_ x: Variable, thenSiLU: Bool = false) -> Variable {
        x.groupNorm(groups: groups, weight: x.parameter("\(name).weight", weight), bias: x.parameter("\(name).bias", bias),
                    eps: eps, thenSiLU: thenSiLU)
    }
}

/// `torch.nn.LayerNorm` over the last axis, with affine parameters.
public struct LayerNorm {
    public var weight: Tensor, bias: Tensor
    public var eps: Float
    /// The state-dict prefix of `weight` and `bias`.
    public var name: String

    public init(_ store: ParameterStore, _ prefix: String, dim: Int, eps: Float) throws {
        weight = try store.tensor("\(prefix).weight", shape: [dim])
        bias = try store.tensor("\(prefix).bias", shape: [dim])
        (self.eps, name) = (eps, prefix)
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { x.layerNorm(weight: weight, bias: bias, eps: eps) }

    public func callAsFunction(_ x: Variable) -> Variable {
        x.layerNorm(weight: x.parameter("\(name).weight", weight), bias: x.parameter("\(name).bias", bias), eps: eps)
    }
}
