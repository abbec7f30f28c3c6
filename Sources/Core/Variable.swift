/// A tensor that may sit on a ``GradientTape``: operations on variables compute what the tensor
/// operations compute and, when an input is differentiable, record how to pull gradients back.
/// `Variable(tensor)` is a constant on no tape.
public struct Variable {
    public let value: Tensor
    let tape: GradientTape?
    /// The tape's node for this value; nil for a constant.
    let node: Int?

    init(_ value: Tensor, tape: GradientTape?, node: Int?) {
        (self.value, self.tape, self.node) = (value, tape, node)
    }

    /// A constant on no tape.
    public init(_ value: Tensor) { self.init(value, tape: nil, node: nil) }

    public var shape: [Int] { value.shape }
    /// Whether gradients flow back through this value.
    public var isDifferentiable: Bool { node != nil }

    /// The parameter `name` of a layer applied to this value: a leaf of this value's tape when the
    /// tape selects it, a constant otherwise.
    public func parameter(_ name: String, _ value: Tensor) -> Variable {
        tape?.parameter(name, value) ?? Variable(value)
    }

    /// The result of an operation on `inputs`, recorded on their tape when one is differentiable.
    /// `pullback` maps the result's gradient to one gradient per input (nil where not needed);
    /// it must keep tensors, never variables.
    static func record(_ value: Tensor, _ inputs: [Variable], _ pullback: @escaping (Tensor) -> [Tensor?]) -> Variable {
        guard let tape = inputs.lazy.compactMap(\.tape).first else { return Variable(value) }
        return tape.record(value, inputs: inputs, pullback: pullback)
    }
}

// MARK: Element-wise arithmetic and shapes

extension Variable {
    public static func + (lhs: Variable, rhs: Variable) -> Variable {
        record(lhs.value + rhs.value, [lhs, rhs]) { g in [g, g] }
    }

    public static func - (lhs: Variable, rhs: Variable) -> Variable {
        record(lhs.value - rhs.value, [lhs, rhs]) { g in [g, g.scaled(by: -1)] }
    }

    /// `a·self + b·other`.
    public func linearCombination(_ a: Float, _ other: Variable, _ b: Float) -> Variable {
        Variable.record(value.linearCombination(a, other.value, b), [self, other]) { g in [g.scaled(by: a), g.scaled(by: b)] }
    }

    /// `self·s`.
    public func scaled(by s: Float) -> Variable {
        Variable.record(value.scaled(by: s), [self]) { g in [g.scaled(by: s)] }
    }

    /// `self·scale + shift`, element-wise.
    public func affine(scale: Float, shift: Float) -> Variable {
        Variable.record(value.mapped({ $0 * scale + shift }, { $0 * scale + shift }), [self]) { g in [g.scaled(by: scale)] }
    }

    /// The same values under another shape.
    public func reshaped(_ shape: [Int]) -> Variable {
        let old = self.shape
        return Variable.record(value.reshaped(shape), [self]) { g in [g.reshaped(old)] }
    }

    /// NCHW → N(HW)C tokens.
    public func channelsLast() -> Variable {
        let (h, w) = (shape[2], shape[3])
        return Variable.record(value.channelsLast(), [self]) { g in [g.channelsFirst(height: h, width: w)] }
    }

    /// N(HW)C tokens → NCHW.
    public func channelsFirst(height h: Int, width w: Int) -> Variable {
        Variable.record(value.channelsFirst(height: h, width: w), [self]) { g in [g.channelsLast()] }
    }

    /// Concatenation along the channel axis.
    public static func concatenateChannels(_ a: Variable, _ b: Variable) -> Variable {
        let ca = a.shape[1], cb = b.shape[1], shapeA = a.shape, shapeB = b.shape
        let (wantA, wantB) = (a.node != nil, b.node != nil)
        return record(Tensor.concatenateChannels(a.value, b.value), [a, b]) { g in
            [wantA ? g.channels(0..<ca).reshaped(shapeA) : nil,
             wantB ? g.channels(ca..<(ca + cb)).reshaped(shapeB) : nil]
        }
    }

    /// Channels `range`.
    public func channels(_ range: Range<Int>) -> Variable {
        let old = shape
        return Variable.record(value.channels(range), [self]) { g in [Tensor.channelsGradient(g, range: range, inputShape: old)] }
    }

    /// Adds [N, C] to every pixel of each (item, channel) plane.
    public func addingPerChannel(_ perChannel: Variable) -> Variable {
        Variable.record(value.addingPerChannel(perChannel.value), [self, perChannel]) { g in [g, g.sumPerChannel()] }
    }

    /// Nearest-neighbour resize (`F.interpolate(mode="nearest")`).
    public func upsampleNearest(height: Int, width: Int) -> Variable {
        let old = shape
        return Variable.record(value.upsampleNearest(height: height, width: width), [self]) { g in
            [Tensor.upsampleNearestGradient(g, inputShape: old)]
        }
    }

    /// Rows `indices` of a [R, D] table.
    public func gatheringRows(_ indices: [Int]) -> Variable {
        let old = shape
        return Variable.record(value.gatheringRows(indices), [self]) { g in
            [Tensor.gatheringRowsGradient(g, indices: indices, tableShape: old)]
        }
    }

    /// ⟨self, c⟩ as a one-element tensor: a loss whose gradient with respect to `self` is `c`
    /// (how a hand-written gradient on an intermediate value enters the tape).
    public func innerProduct(with c: Tensor) -> Variable {
        precondition(shape == c.shape, "innerProduct: shapes \(shape) and \(c.shape) differ")
        var total = 0.0
        for (a, b) in zip(value.storage, c.storage) { total += Double(a) * Double(b) }
        return Variable.record(Tensor(shape: [1], storage: [Float(total)]), [self]) { g in [c.scaled(by: g.storage[0])] }
    }

    /// Σ (self − target)² / count, as a one-element tensor.
    public func meanSquaredError(to target: Tensor) -> Variable {
        precondition(shape == target.shape, "meanSquaredError: shapes \(shape) and \(target.shape) differ")
        let difference = value - target
        var total = 0.0
        for v in difference.storage { total += Double(v) * Double(v) }
        let n = Float(value.count)
        return Variable.record(Tensor(shape: [1], storage: [Float(total / Double(n))]), [self]) { g in
            [difference.scaled(by: 2 * g.storage[0] / n)]
        }
    }
}

// MARK: Activations

extension Variable {
    func activated(_ forward: (Tensor) -> Tensor, _ f: Tensor.Activation) -> Variable {
        let x = value
        return Variable.record(forward(x), [self]) { g in [Tensor.activationGradient(g, input: x, f)] }
    }

    public func silu() -> Variable { activated({ $0.silu() }, .silu) }
    public func gelu() -> Variable { activated({ $0.gelu() }, .gelu) }
    public func geluTanh() -> Variable { activated({ $0.geluTanh() }, .geluTanh) }
    public func quickGelu() -> Variable { activated({ $0.quickGelu() }, .quickGelu) }

    /// Softmax over the last axis.
    public func softmax() -> Variable {
        let y = value.softmax()
        return Variable.record(y, [self]) { g in [Tensor.softmaxGradient(g, output: y)] }
    }

    /// GEGLU: `value·gelu(gate)` over the two halves of the last axis.
    public func gatedGelu() -> Variable {
        let x = value
        return Variable.record(BasicTransformerBlock.gatedGelu(x), [self]) { g in [Tensor.gatedGeluGradient(g, input: x)] }
    }
}

// MARK: Layers

extension Variable {
    /// `self·Wᵀ + b` over the last axis, `weight` [out, in, …].
    public func linear(weight: Variable, bias: Variable?) -> Variable {
        let (x, w) = (value, weight.value)
        let inputs = [self, weight] + (bias.map { [$0] } ?? [])
        let wantInput = node != nil, wantWeight = weight.node != nil, wantBias = bias?.node != nil
        return Variable.record(x.linear(weight: w, bias: bias?.value), inputs) { g in
            let products = Double((wantInput ? 1 : 0) + (wantWeight ? 1 : 0))
            return Profiler.measure(.linearBackward, flops: products * 2 * Double(g.count) * Double(w.count / w.shape[0])) {
                [wantInput ? Tensor.linearInputGradient(g, weight: w, inputShape: x.shape) : nil,
                 wantWeight ? Tensor.linearWeightGradient(g, input: x, weightShape: w.shape) : nil,
                 wantBias ? g.sumOverLeadingAxes() : nil]
            }
        }
    }

    /// 2-D convolution, `weight` [Cout, Cin, kh, kw].
    public func conv2d(weight: Variable, bias: Variable?, stride: Int = 1, padding: Padding2D = .uniform(0)) -> Variable {
        let (x, w) = (value, weight.value)
        let inputs = [self, weight] + (bias.map { [$0] } ?? [])
        let wants = (node != nil, weight.node != nil, bias?.node != nil)
        return Variable.record(x.conv2d(weight: w, bias: bias?.value, stride: stride, padding: padding), inputs) { g in
            let products = Double((wants.0 ? 1 : 0) + (wants.1 ? 1 : 0))
            let flops = products * 2 * Double(x.shape[0]) * Double(w.count) * Double(g.shape[2] * g.shape[3])
            let grads = Profiler.measure(.convolutionBackward, flops: flops) {
                Tensor.conv2dGradients(g, input: x, weight: w, stride: stride, padding: padding,
                                       input: wants.0, weight: wants.1, bias: wants.2)
            }
            return [grads.input, grads.weight, grads.bias]
        }
    }

    /// Group normalisation with an optional affine, then SiLU when `thenSiLU`.
    public func groupNorm(groups: Int, weight: Variable?, bias: Variable?, eps: Float, thenSiLU: Bool = false) -> Variable {
        let x = value, w = weight?.value, b = bias?.value
        let inputs = [self] + [weight, bias].compactMap { $0 }
        return Variable.record(x.groupNorm(groups: groups, weight: w, bias: b, eps: eps, thenSiLU: thenSiLU), inputs) { g in
            let grads = Profiler.measure(.normalizationBackward, flops: 0) {
                Tensor.groupNormGradients(g, input: x, groups: groups, weight: w, bias: b, eps: eps, thenSiLU: thenSiLU)
            }
            return [grads.input] + [grads.weight, grads.bias].compactMap { $0 }
        }
    }

    /// Layer normalisation over the last axis with an optional affine.
    public func layerNorm(weight: Variable?, bias: Variable?, eps: Float) -> Variable {
        let x = value, w = weight?.value, b = bias?.value
        let inputs = [self] + [weight, bias].compactMap { $0 }
        return Variable.record(x.layerNorm(weight: w, bias: b, eps: eps), inputs) { g in
            let grads = Profiler.measure(.normalizationBackward, flops: 0) {
                Tensor.layerNormGradients(g, input: x, weight: w, bias: b, eps: eps)
            }
            return [grads.input] + [grads.weight, grads.bias].compactMap { $0 }
        }
    }

    /// Multi-head scaled dot-product attention, as `Tensor.attention`.
    public static func attention(query: Variable, key: Variable, value: Variable, heads: Int, causal: Bool = false) -> Variable {
        let (q, k, v) = (query.value, key.value, value.value)
        return record(Tensor.attention(query: q, key: k, value: v, heads: heads, causal: causal), [query, key, value]) { g in
            // Five products per head: the recomputed scores, dV, dP, dQ and dK.
            let grads = Profiler.measure(.attentionBackward, flops: 10 * Double(q.count) * Double(k.shape[1])) {
                Tensor.attentionGradients(g, query: q, key: k, value: v, heads: heads, causal: causal)
            }
            return [grads.query, grads.key, grads.value]
        }
    }
}

// MARK: Tapes

extension Variable {
    /// `value` as a constant on this variable's tape (so that layers applied to it find the
    /// tape's parameters), or on no tape.
    public func constant(_ value: Tensor) -> Variable { tape?.constant(value) ?? Variable(value) }

    /// This variable, after its tape (if it captures `name`) has kept it as the output of that module.
    func captured(as name: String) -> Variable {
        tape?.capture(name, self)
        return self
    }

    /// This variable, or, when it is on no tape, its value as a constant on `other`'s tape.
    public func sharingTape(with other: Variable) -> Variable { tape == nil ? other.constant(value) : self }
}
