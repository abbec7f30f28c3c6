/// Reverse-mode differentiation by a tape (as `torch.autograd` does it): every operation on a
/// ``Variable`` that belongs to the tape records its output and a pullback, a closure that maps the
/// output's gradient to its inputs' gradients (a vector-Jacobian product). ``gradients(of:seed:)``
/// runs the pullbacks in reverse order.
///
/// A model runs forward on variables exactly as on tensors: its layers ask the input's tape for
/// their parameters by diffusers name, and the tape hands back a differentiable leaf for each name
/// that ``ParameterSelection`` selects, a constant otherwise. Variables on no tape are constants
/// and record nothing, so a forward pass without a tape costs what the tensor code costs.
///
/// The products in the pullbacks sum in a fixed order, so gradients do not depend on the number
/// of threads. A tape is used once: the backward pass frees what each pullback kept.
public final class GradientTape {
    /// Which parameters of a model get gradients.
    public enum ParameterSelection {
        /// None: gradients with respect to the watched inputs only.
        case none
        /// Every parameter.
        case all
        /// The parameters whose diffusers names pass the test.
        case matching((String) -> Bool)

        func includes(_ name: String) -> Bool {
            switch self {
            case .none: return false
            case .all: return true
            case .matching(let test): return test(name)
            }
        }
    }

    struct Node {
        var inputs: [Int]
        var pullback: ((Tensor) -> [Tensor?])?
    }

    let selection: ParameterSelection
    /// Whether models recompute each block in the backward pass instead of keeping its activations.
    public let checkpointsSegments: Bool
    var nodes: [Node] = []
    /// Leaves made for parameters, by node index.
    var parameterNames: [Int: String] = [:]
    /// Parameter gradients handed up by checkpointed segments (see `checkpointed`).
    var segmentParameterGradients: [String: Tensor] = [:]
    var finished = false
    /// Module outputs kept by name (value and node), for `captured(_:)`.
    var capturedOutputs: [String: (value: Tensor, node: Int?)] = [:]

    /// Diffusers names of modules (`up_blocks.1.attentions.0.transformer_blocks.0.attn1`, a
    /// `Transformer2DModel`'s or a `ResnetBlock2D`'s name) whose outputs this tape keeps while a
    /// model runs on it: a loss on them differentiates back through the part of the model before them.
    public var capturing: Set<String> = []

    /// The output of the module `name` (one of `capturing`) from the last forward on this tape.
    public func captured(_ name: String) -> Variable? {
        capturedOutputs[name].map { Variable($0.value, tape: self, node: $0.node) }
    }

    func capture(_ name: String, _ variable: Variable) {
        if capturing.contains(name) { capturedOutputs[name] = (variable.value, variable.node) }
    }

    /// A tape that differentiates the selected `parameters` besides the watched inputs; with
    /// `checkpointing`, models keep only each block's input and recompute the block backward.
    public init(parameters: ParameterSelection = .none, checkpointing: Bool = false) {
        selection = parameters
        checkpointsSegments = checkpointing
    }

    /// `value` as a differentiable input of this tape.
    public func watch(_ value: Tensor) -> Variable {
        Variable(value, tape: self, node: addNode(inputs: [], pullback: nil))
    }

    /// `value` on this tape without a gradient: data, labels, fixed conditioning.
    public func constant(_ value: Tensor) -> Variable {
        Variable(value, tape: self, node: nil)
    }

    /// The parameter `name`: a leaf when the selection includes it, else a constant.
    public func parameter(_ name: String, _ value: Tensor) -> Variable {
        guard selection.includes(name) else { return constant(value) }
        let node = addNode(inputs: [], pullback: nil)
        parameterNames[node] = name
        return Variable(value, tape: self, node: node)
    }

    func addNode(inputs: [Int], pullback: ((Tensor) -> [Tensor?])?) -> Int {
        precondition(!finished, "GradientTape: this tape has already run its backward pass")
        nodes.append(Node(inputs: inputs, pullback: pullback))
        return nodes.count - 1
    }

    /// The result of an operation on `inputs`: recorded with `pullback` (one gradient per input,
    /// nil where none) when any input is differentiable, a constant otherwise.
    func record(_ value: Tensor, inputs: [Variable], pullback: @escaping (Tensor) -> [Tensor?]) -> Variable {
        guard inputs.contains(where: { $0.node != nil }) else { return constant(value) }
        let ids = inputs.map { $0.node ?? -1 }
        return Variable(value, tape: self, node: addNode(inputs: ids, pullback: pullback))
    }

    /// Runs the backward pass from `output` with the cotangent `seed` (its shape; ones when nil),
    /// and returns the gradients of `⟨output, seed⟩`.
    public func gradients(of output: Variable, seed: Tensor? = nil) -> Gradients {
        let seed = seed ?? Tensor(shape: output.shape, repeating: 1)
        precondition(seed.shape == output.shape, "gradients: seed \(seed.shape) for an output \(output.shape)")
        precondition(output.tape == nil || output.tape === self, "gradients: the output belongs to another tape")
        precondition(!finished, "GradientTape: this tape has already run its backward pass")
        finished = true
        var grads = [Tensor?](repeating: nil, count: nodes.count)
        if let root = output.node { grads[root] = seed }
        for i in stride(from: (output.node ?? -1), through: 0, by: -1) {
            guard let g = grads[i], let pullback = nodes[i].pullback else { continue }
            let inputGrads = pullback(g)
            nodes[i].pullback = nil
            grads[i] = nil
            for (input, ig) in zip(nodes[i].inputs, inputGrads) where input >= 0 {
                guard let ig else { continue }
                if let existing = grads[input] { grads[input] = existing + ig } else { grads[input] = ig }
            }
        }
        var parameters = segmentParameterGradients
        for (node, name) in parameterNames.sorted(by: { $0.key < $1.key }) {
            guard let g = grads[node] else { continue }
            parameters[name] = parameters[name].map { $0 + g } ?? g
        }
        nodes = []
        return Gradients(leaves: grads, parameters: parameters)
    }

    /// Runs `body` on `inputs` without keeping its intermediate values, and records one node whose
    /// pullback runs `body` again on a tape of its own and back-propagates through that
    /// (activation checkpointing: memory for the segment's input instead of all its activations).
    /// `body` must compute the same function each time it is called.
    public static func checkpointed(_ inputs: [Variable], _ body: @escaping ([Variable]) -> Variable) -> Variable {
        guard let tape = inputs.lazy.compactMap(\.tape).first else { return body(inputs) }
        let values = inputs.map(\.value)
        let output = body(values.map { Variable($0) })
        let differentiable = inputs.map { $0.node != nil }
        let selection = tape.selection
        if !differentiable.contains(true), case .none = selection { return tape.constant(output.value) }
        let node = tape.addNode(inputs: inputs.map { $0.node ?? -1 }) { [unowned tape] g in
            let inner = GradientTape(parameters: selection)
            let innerInputs = zip(values, differentiable).map { $1 ? inner.watch($0) : inner.constant($0) }
            let grads = inner.gradients(of: body(innerInputs), seed: g)
            for (name, pg) in grads.parameters {
                tape.segmentParameterGradients[name] = tape.segmentParameterGradients[name].map { $0 + pg } ?? pg
            }
            return innerInputs.map { grads[$0] }
        }
        return Variable(output.value, tape: tape, node: node)
    }
}

/// What a backward pass computed: gradients of the watched inputs and of the selected parameters.
public struct Gradients {
    let leaves: [Tensor?]
    /// Gradients of the selected parameters, by diffusers name (absent: the output does not
    /// depend on that parameter).
    public let parameters: [String: Tensor]

    /// The gradient of a watched input (zeros of its shape when the output does not depend on it).
    public subscript(_ variable: Variable) -> Tensor {
        guard let node = variable.node, node < leaves.count, let g = leaves[node] else { return Tensor(zeros: variable.shape) }
        return g
    }
}
