import Engine
import Foundation

// The only globals a checkpoint's pickle may name. Each is implemented here in Swift (a builder of data, a dtype, a
// container type); nothing outside this list is ever resolved, so `os.system`, `builtins.eval`, `subprocess.Popen`
// and every other callable are refused at the GLOBAL / STACK_GLOBAL opcode, before their arguments are even read.
// The list follows what torch.save writes for state dicts (torch/_utils.py, torch/storage.py, torch/serialization.py)
// and is narrower than torch's own `weights_only` allowlist (torch/_weights_only_unpickler.py): no quantized, sparse,
// nested or meta tensors, no numpy objects.

/// An allowlisted global.
enum TorchGlobal: Equatable, Sendable {
    case orderedDict
    /// `builtins.set` / `builtins.frozenset`: kept as a list.
    case set
    /// `_codecs.encode(text, 'latin1')`: how protocol 2 pickles `bytes`.
    case codecsEncode
    /// `torch.Size(tuple)`.
    case torchSize
    /// `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, backward_hooks[, metadata])`.
    case rebuildTensorV2
    /// `torch._utils._rebuild_tensor(storage, offset, size, stride)` (torch < 1.0).
    case rebuildTensor
    /// `torch._utils._rebuild_parameter(data, requires_grad, backward_hooks)`.
    case rebuildParameter
    /// `torch._utils._rebuild_parameter_with_state(data, requires_grad, backward_hooks, state)`.
    case rebuildParameterWithState
    /// `torch._tensor._rebuild_from_type_v2(func, new_type, args, state)`: a tensor whose class or `__dict__` is not
    /// the plain one; only `torch.Tensor` and `torch.nn.Parameter` are accepted as the type.
    case rebuildFromTypeV2
    /// `torch.Tensor` / `torch.nn.parameter.Parameter` as a type argument.
    case tensorType
    case parameterType
    /// `torch.FloatStorage` and the other typed-storage classes (also `torch.cuda.*Storage` of legacy CUDA files),
    /// and `torch.UntypedStorage` (bytes).
    case storageType(name: String, dtype: DType)
    /// `torch.float32` and the other dtype objects.
    case dtype(name: String, dtype: DType)

    var qualifiedName: String {
        switch self {
        case .orderedDict: return "collections.OrderedDict"
        case .set: return "builtins.set"
        case .codecsEncode: return "_codecs.encode"
        case .torchSize: return "torch.Size"
        case .rebuildTensorV2: return "torch._utils._rebuild_tensor_v2"
        case .rebuildTensor: return "torch._utils._rebuild_tensor"
        case .rebuildParameter: return "torch._utils._rebuild_parameter"
        case .rebuildParameterWithState: return "torch._utils._rebuild_parameter_with_state"
        case .rebuildFromTypeV2: return "torch._tensor._rebuild_from_type_v2"
        case .tensorType: return "torch.Tensor"
        case .parameterType: return "torch.nn.parameter.Parameter"
        case .storageType(let name, _): return "torch.\(name)"
        case .dtype(let name, _): return "torch.\(name)"
        }
    }

    /// Typed-storage class names and the element type each holds.
    static let storageTypes: [String: DType] = [
        "FloatStorage": .float32, "DoubleStorage": .float64, "HalfStorage": .float16, "BFloat16Storage": .bfloat16,
        "LongStorage": .int64, "IntStorage": .int32, "ShortStorage": .int16, "CharStorage": .int8,
        "ByteStorage": .uint8, "BoolStorage": .bool, "ComplexFloatStorage": .complex64, "UntypedStorage": .uint8
    ]

    /// dtype object names (with torch's aliases).
    static let dtypes: [String: DType] = [
        "float32": .float32, "float": .float32, "float64": .float64, "double": .float64, "float16": .float16,
        "half": .float16, "bfloat16": .bfloat16, "int64": .int64, "long": .int64, "int32": .int32, "int": .int32,
        "int16": .int16, "short": .int16, "int8": .int8, "uint8": .uint8, "bool": .bool, "uint16": .uint16,
        "uint32": .uint32, "uint64": .uint64, "complex64": .complex64, "cfloat": .complex64
    ]

    /// The allowlisted global named `module.name`, or nil.
    static func named(module: String, name: String) -> TorchGlobal? {
        switch (module, name) {
        case ("collections", "OrderedDict"): return .orderedDict
        case ("builtins", "set"), ("__builtin__", "set"), ("builtins", "frozenset"), ("__builtin__", "frozenset"):
            return .set
        case ("_codecs", "encode"): return .codecsEncode
        case ("torch", "Size"): return .torchSize
        case ("torch._utils", "_rebuild_tensor_v2"): return .rebuildTensorV2
        case ("torch._utils", "_rebuild_tensor"): return .rebuildTensor
        case ("torch._utils", "_rebuild_parameter"): return .rebuildParameter
        case ("torch._utils", "_rebuild_parameter_with_state"): return .rebuildParameterWithState
        case ("torch._tensor", "_rebuild_from_type_v2"): return .rebuildFromTypeV2
        case ("torch", "Tensor"), ("torch._tensor", "Tensor"): return .tensorType
        case ("torch.nn.parameter", "Parameter"), ("torch.nn", "Parameter"): return .parameterType
        case ("torch", _), ("torch.cuda", _), ("torch.storage", _):
            if let dtype = storageTypes[name] { return .storageType(name: name, dtype: dtype) }
            if module == "torch", let dtype = dtypes[name] { return .dtype(name: name, dtype: dtype) }
            return nil
        default: return nil
        }
    }

    /// GLOBAL / STACK_GLOBAL: the allowlisted global, or a refusal naming it.
    static func resolve(module: String, name: String) throws -> TorchGlobal {
        if let global = named(module: module, name: name) { return global }
        throw PickleFailure(
            """
            refused global '\(module).\(name)' (pickle names it as '\(module) \(name)'): the restricted unpickler only \
            rebuilds tensors and plain containers (collections.OrderedDict, torch._utils._rebuild_tensor_v2, \
            torch.*Storage, torch dtypes, …) and never imports or calls anything else. The file may be malicious, or \
            it pickles Python objects beyond a state dict; re-save it with torch.save(model.state_dict(), path)
            """)
    }
}
