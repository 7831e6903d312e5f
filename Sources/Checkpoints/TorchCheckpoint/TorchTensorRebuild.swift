import Engine
import Foundation

// Tensors as torch.save pickles them: `_rebuild_tensor_v2(storage, storage_offset, size, stride, …)`, where the
// storage is a persistent id `('storage', <storage type>, key, location, numel)` whose bytes live outside the pickle
// (zip entry `data/<key>`, or after the pickles in the legacy format). A tensor is a strided view: several tensors may
// share one storage, start at an offset into it, and have any strides (a transpose, a slice, an expand). Here a view is
// kept as a reference and materialised as a contiguous engine tensor when asked for.

/// A storage named by a persistent id: `numel` elements of `dtype`, found under `key`.
struct TorchStorage: Sendable {
    let key: String
    let dtype: DType
    let numel: Int
    /// For the legacy format's storage views (`view_metadata`): the element offset into the root storage `key`.
    var rootOffset = 0
}

/// A tensor view over a storage (torch's `storage_offset`, `size`, `stride`, in elements).
public struct TorchTensorReference: Sendable {
    let storage: TorchStorage
    let offset: Int
    public let shape: [Int]
    let strides: [Int]
    public var dtype: DType { storage.dtype }

    /// Elements `offset ..< end` of the storage that the view touches (empty for a tensor without elements).
    var span: Range<Int> {
        guard shape.allSatisfy({ $0 > 0 }) else { return offset..<offset }
        return offset..<(offset + zip(shape, strides).reduce(1) { $0 + ($1.0 - 1) * $1.1 })
    }

    var isContiguous: Bool {
        var expected = 1
        for (size, stride) in zip(shape, strides).reversed() where size != 1 {
            if stride != expected { return false }
            expected *= size
        }
        return true
    }

    /// Elements of the view (its shape's product; `TorchRebuild` bounds it by 2^48 when the pickle is read).
    var elementCount: Int { shape.reduce(1, *) }

    /// The view's elements in row-major order, from `bytes` = the storage's elements `span` (as `span` says).
    func materialise(_ bytes: Data) -> Tensor {
        let contiguous = contiguousBytes(bytes)
        if contiguous.isEmpty { return Tensor.zeros(shape, dtype: dtype) }
        return contiguous.withUnsafeBytes { Tensor(bytes: $0.baseAddress!, shape: shape, dtype: dtype) }
    }

    /// The view's elements in row-major order as raw little-endian bytes, from `bytes` = the storage's elements
    /// `span`. The caller has checked the view against its storage (``TorchViewLimits``), so the result is bounded.
    func contiguousBytes(_ bytes: Data) -> Data {
        let count = elementCount
        if count == 0 { return Data() }
        let size = dtype.size
        if isContiguous { return Data(bytes.prefix(count * size)) }
        var out = Data(count: count * size)
        bytes.withUnsafeBytes { source in
            out.withUnsafeMutableBytes { target in
                // An odometer over every axis but the last; the last axis is one run (memcpy when its stride is 1).
                let rank = shape.count
                let inner = shape[rank - 1], innerStride = strides[rank - 1]
                var index = [Int](repeating: 0, count: max(rank - 1, 0))
                var base = 0  // element offset of the current run, relative to `span.lowerBound`
                var written = 0
                while true {
                    if innerStride == 1 {
                        memcpy(target.baseAddress! + written, source.baseAddress! + base * size, inner * size)
                        written += inner * size
                    } else {
                        for i in 0..<inner {
                            memcpy(
                                target.baseAddress! + written, source.baseAddress! + (base + i * innerStride) * size,
                                size)
                            written += size
                        }
                    }
                    var axis = rank - 2
                    while axis >= 0 {
                        index[axis] += 1
                        base += strides[axis]
                        if index[axis] < shape[axis] { break }
                        base -= strides[axis] * shape[axis]
                        index[axis] = 0
                        axis -= 1
                    }
                    if axis < 0 { break }
                }
            }
        }
        return out
    }
}

/// What a view may ask of its storage, checked when the file is opened (before any byte is read or allocated).
public enum TorchViewLimits {
    /// The largest dimension the engine indexes (its shapes are 32-bit).
    public static let maxDimension = Int(Int32.max)
    /// A view may hold at most this many times its storage's elements: broadcasting views (stride 0, as `expand`
    /// makes) are legal in torch, but a 2 KB file must not ask for 2^48 elements.
    public static let maxExpansion = 16
    /// …or this many elements, whichever is larger, so that small broadcast buffers still load.
    public static let minimumAllowance = 1 << 16

    /// The most elements a view over a storage of `numel` elements may hold.
    public static func limit(storageElements numel: Int) -> Int {
        max(numel.multipliedReportingOverflow(by: maxExpansion).partialValue, minimumAllowance)
    }
}

/// The Swift implementations of the allowlisted globals (the hooks of the restricted unpickler).
enum TorchRebuild {
    /// Bound on element counts and indices read from a pickle (2^48: far beyond any checkpoint, far from overflow).
    static let maxElements = 1 << 48

    static func policy(persistentLoad: @escaping (PickleValue) throws -> PickleValue) -> PicklePolicy {
        PicklePolicy(
            resolveGlobal: TorchGlobal.resolve, call: call, newObject: newObject, build: build,
            persistentLoad: persistentLoad)
    }

    /// REDUCE.
    static func call(_ function: TorchGlobal, _ args: [PickleValue]) throws -> PickleValue {
        switch function {
        case .orderedDict:
            let dict = PickleDict()
            if let first = args.first {
                guard case .list(let pairs) = first else {
                    throw PickleFailure("OrderedDict(\(first.kind)) is not supported")
                }
                for pair in pairs.items {
                    guard let kv = pair.tupleItems, kv.count == 2 else {
                        throw PickleFailure("OrderedDict item is \(pair.kind), not a pair")
                    }
                    dict.set(kv[0], kv[1])
                }
            }
            return .dict(dict)
        case .set:
            guard let first = args.first else { return .list(PickleList()) }
            switch first {
            case .list(let list): return .list(PickleList(list.items))
            case .tuple(let tuple): return .list(PickleList(tuple.items))
            default: throw PickleFailure("set(\(first.kind)) is not supported")
            }
        case .codecsEncode:
            guard case .string(let text) = args.first else { throw PickleFailure("_codecs.encode needs a string") }
            var bytes: [UInt8] = []
            for scalar in text.unicodeScalars {
                guard scalar.value < 256 else {
                    throw PickleFailure("_codecs.encode: character U+\(String(scalar.value, radix: 16)) is not Latin-1")
                }
                bytes.append(UInt8(scalar.value))
            }
            return .bytes(bytes)
        case .torchSize:
            guard args.count == 1, case .tuple = args[0] else { throw PickleFailure("torch.Size needs one tuple") }
            return args[0]
        case .rebuildTensorV2, .rebuildTensor:
            let needed = function == .rebuildTensor ? 4 : 6
            guard args.count >= needed else {
                throw PickleFailure("\(function.qualifiedName) needs \(needed) arguments, found \(args.count)")
            }
            return .tensor(
                try tensorReference(
                    storage: args[0], offset: args[1], size: args[2], stride: args[3], builder: function))
        case .rebuildParameter, .rebuildParameterWithState:
            guard let data = args.first, case .tensor = data else {
                throw PickleFailure("\(function.qualifiedName) needs a tensor, found \(args.first?.kind ?? "nothing")")
            }
            return data
        case .rebuildFromTypeV2:
            guard args.count == 4, case .global(let inner) = args[0], case .global(let type) = args[1],
                let innerArgs = args[2].tupleItems
            else { throw PickleFailure("_rebuild_from_type_v2 needs (function, type, args, state)") }
            guard type == .tensorType || type == .parameterType else {
                throw PickleFailure(
                    """
                    _rebuild_from_type_v2 with type \(type.qualifiedName): only torch.Tensor and Parameter are accepted
                    """
                )
            }
            guard [.rebuildTensorV2, .rebuildTensor, .rebuildParameter, .rebuildParameterWithState].contains(inner)
            else {
                throw PickleFailure("_rebuild_from_type_v2 with function \(inner.qualifiedName) is not supported")
            }
            return try call(inner, innerArgs)
        case .tensorType, .parameterType, .storageType, .dtype:
            throw PickleFailure("calling \(function.qualifiedName) is not supported")
        }
    }

    /// NEWOBJ: only containers.
    static func newObject(_ type: TorchGlobal, _ args: [PickleValue]) throws -> PickleValue {
        switch type {
        case .orderedDict: return .dict(PickleDict())
        case .set: return try call(.set, args)
        default: throw PickleFailure("creating a \(type.qualifiedName) object (NEWOBJ) is not supported")
        }
    }

    /// BUILD: the state of dicts (an OrderedDict's `_metadata`) and tensors (`__dict__` of a parameter) is kept or
    /// dropped, never interpreted.
    static func build(_ object: PickleValue, _ state: PickleValue) throws -> PickleValue {
        switch object {
        case .dict(let dict):
            dict.attributes = state
            return object
        case .tensor, .list:
            return object
        default:
            throw PickleFailure("BUILD (setting the state of) \(object.kind) is not supported")
        }
    }

    private static func tensorReference(
        storage: PickleValue, offset: PickleValue, size: PickleValue, stride: PickleValue,
        builder: TorchGlobal
    ) throws -> TorchTensorReference {
        guard case .storage(let storage) = storage else {
            throw PickleFailure("\(builder.qualifiedName): first argument is \(storage.kind), not a storage")
        }
        guard case .int(let offset) = offset, offset >= 0 else {
            throw PickleFailure("\(builder.qualifiedName): storage offset is \(offset.kind), not a non-negative int")
        }
        func integers(_ value: PickleValue, _ what: String) throws -> [Int] {
            guard let items = value.tupleItems else {
                throw PickleFailure("\(builder.qualifiedName): \(what) is \(value.kind), not a tuple")
            }
            return try items.map {
                guard case .int(let n) = $0, n >= 0 else {
                    throw PickleFailure("\(builder.qualifiedName): \(what) holds \($0.kind)")
                }
                return n
            }
        }
        let shape = try integers(size, "size"), strides = try integers(stride, "stride")
        guard shape.count == strides.count else {
            throw PickleFailure("\(builder.qualifiedName): size \(shape) and stride \(strides) differ in rank")
        }
        // Element count and last element must be representable (a forged size must not trap on overflow later).
        var count = 1, last = offset
        for (size, stride) in zip(shape, strides) {
            let (product, overflow1) = count.multipliedReportingOverflow(by: size)
            let (reach, overflow2) = max(size - 1, 0).multipliedReportingOverflow(by: stride)
            let (sum, overflow3) = last.addingReportingOverflow(reach)
            guard !overflow1, !overflow2, !overflow3, product <= maxElements, sum <= maxElements else {
                throw PickleFailure(
                    "\(builder.qualifiedName): size \(shape) with stride \(strides) at offset \(offset) is too large")
            }
            count = product
            last = sum
        }
        return TorchTensorReference(storage: storage, offset: offset, shape: shape, strides: strides)
    }

    /// A persistent id `('storage', storage_type, key, location, numel[, view_metadata])` (the zip format has 5
    /// fields, the legacy format 6): the storage it names. Storage types may also be dtype objects.
    static func storage(fromPersistentID id: PickleValue) throws -> TorchStorage {
        guard let fields = id.tupleItems, fields.count >= 5, case .string(let tag) = fields[0] else {
            throw PickleFailure("persistent id is \(id.kind), not ('storage', type, key, location, numel)")
        }
        guard tag == "storage" else {
            throw PickleFailure(
                "persistent id of kind '\(tag)' is not supported (only 'storage'; 'module' ids carry source code)")
        }
        let dtype: DType
        switch fields[1] {
        case .global(.storageType(_, let d)), .global(.dtype(_, let d)): dtype = d
        default: throw PickleFailure("persistent id: storage type is \(fields[1].kind)")
        }
        let key: String
        switch fields[2] {
        case .string(let s): key = s
        case .int(let i): key = String(i)
        default: throw PickleFailure("persistent id: storage key is \(fields[2].kind)")
        }
        guard case .int(let numel) = fields[4], numel >= 0, numel <= maxElements else {
            throw PickleFailure("persistent id of storage '\(key)': element count is \(fields[4].kind)")
        }
        var storage = TorchStorage(key: key, dtype: dtype, numel: numel)
        // Legacy storage views: (view_key, offset, view_size) into the root storage `key`.
        if fields.count >= 6, let view = fields[5].tupleItems {
            guard view.count == 3, case .int(let viewOffset) = view[1], case .int(let viewSize) = view[2],
                viewOffset >= 0, viewSize >= 0
            else {
                throw PickleFailure("persistent id of storage '\(key)': malformed view metadata \(fields[5].kind)")
            }
            guard viewOffset <= numel, viewSize <= numel - viewOffset else {
                throw PickleFailure(
                    "storage view of '\(key)': \(viewSize) elements from \(viewOffset) exceed its \(numel)")
            }
            storage = TorchStorage(key: key, dtype: dtype, numel: viewSize, rootOffset: viewOffset)
        }
        return storage
    }
}
