import Engine

/// An ordered list of modules whose keys are their indices, like `torch.nn.ModuleList`: the first layer's weight is
/// `0.weight` under the list's own key (`to_out.0.weight` for diffusers' `to_out` list). A list stored in a `[Module]`
/// property gets the same keys; this class is for when the list itself is the child or is built dynamically.
open class ModuleList: Module {
    public private(set) var modules: [Module]

    public init(_ modules: [Module] = []) {
        self.modules = modules
        super.init()
    }

    public var count: Int { modules.count }
    public subscript(index: Int) -> Module { modules[index] }

    public func append(_ module: Module) { modules.append(module) }

    /// The entries are the children, keyed "0", "1", … with no property name in between.
    override public func children() -> [(key: String, module: Module)] {
        modules.enumerated().map { (String($0.offset), $0.element) }
    }
}

/// Layers applied one after another, keyed by index like `torch.nn.Sequential`. Parameter-free layers (activations,
/// dropout) keep their index, so keys line up with PyTorch's (`net.0.proj.weight`, `net.2.weight`).
public final class Sequential: ModuleList, UnaryLayer {
    public init(_ layers: [Module & UnaryLayer]) {
        super.init(layers)
    }

    public convenience init(_ layers: (Module & UnaryLayer)...) { self.init(layers) }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        modules.enumerated().reduce(x) { y, entry in
            guard let layer = entry.element as? UnaryLayer else {
                preconditionFailure(
                    "Sequential: entry \(entry.offset) (\(type(of: entry.element))) is not a UnaryLayer")
            }
            return layer(y)
        }
    }
}
