import Foundation

// A restricted unpickler: the pickle virtual machine (protocols 2–5, the opcodes `torch.save` and `pickle.dump` of
// plain data emit; CPython Lib/pickle.py and Lib/pickletools.py document each one) without its power to import and
// call. GLOBAL / STACK_GLOBAL go through `PicklePolicy.resolveGlobal`, which refuses every name outside a fixed
// allowlist before anything else happens; REDUCE / NEWOBJ / BUILD only apply Swift builders for allowlisted globals;
// opcodes that exist to run code (INST, OBJ, EXT*) or that this reader does not know are refused with their byte
// value and offset.

/// A failure inside a pickle: the byte offset of the opcode, the opcode's name, and what went wrong.
enum PickleError: Error, CustomStringConvertible {
    /// The pickle ends before a STOP opcode or in the middle of an opcode's argument (`reason` says where).
    case truncated(offset: Int, opcode: String, reason: String)
    /// A PROTO opcode names a protocol newer than 5.
    case unsupportedProtocol(offset: Int, opcode: String, version: UInt8)
    /// An opcode that exists to run code (INST, OBJ, EXT1/2/4), refused (`reason` says why).
    case refusedOpcode(offset: Int, opcode: String, byte: UInt8, reason: String)
    /// A byte that is no opcode of the binary protocols 2–5.
    case unknownOpcode(offset: Int, opcode: String, byte: UInt8)
    /// An opcode applied to the wrong stack contents, a missing MARK or memo entry, or an invalid argument.
    case malformed(offset: Int, opcode: String, reason: String)
    /// A policy hook (allowlist, rebuild, persistent load) refused a global or an argument (`PickleFailure`).
    case refused(offset: Int, opcode: String, reason: String)

    /// Where in the pickle the failing opcode starts.
    var offset: Int {
        switch self {
        case .truncated(let offset, _, _), .unsupportedProtocol(let offset, _, _), .refusedOpcode(let offset, _, _, _),
            .unknownOpcode(let offset, _, _), .malformed(let offset, _, _), .refused(let offset, _, _):
            return offset
        }
    }

    /// The failing opcode's name ("end of data" past the end).
    var opcode: String {
        switch self {
        case .truncated(_, let opcode, _), .unsupportedProtocol(_, let opcode, _), .refusedOpcode(_, let opcode, _, _),
            .unknownOpcode(_, let opcode, _), .malformed(_, let opcode, _), .refused(_, let opcode, _):
            return opcode
        }
    }

    /// What went wrong, without the offset and opcode.
    var message: String {
        switch self {
        case .truncated(_, _, let reason): return "truncated: \(reason)"
        case .unsupportedProtocol(_, _, let version): return "pickle protocol \(version) is newer than 5"
        case .refusedOpcode(_, let opcode, let byte, let reason):
            return "refused opcode \(opcode) (\(PickleMachine.hex(byte))): \(reason)"
        case .unknownOpcode(_, let opcode, let byte):
            return "unsupported opcode \(opcode) (byte \(PickleMachine.hex(byte))); the restricted unpickler "
                + "reads the binary protocols 2–5 that torch.save writes"
        case .malformed(_, _, let reason), .refused(_, _, let reason): return reason
        }
    }

    var description: String { "pickle byte \(offset) (\(opcode)): \(message)" }
}

/// A refusal or a malformed argument raised by a policy hook; the machine adds the offset.
struct PickleFailure: Error {
    let message: String
    init(_ message: String) { self.message = message }
}

/// What the machine may do beyond building data: every hook is Swift code; none calls into the pickle's world.
struct PicklePolicy {
    /// Maps `module`, `name` to an allowlisted global, or throws a refusal.
    var resolveGlobal: (_ module: String, _ name: String) throws -> TorchGlobal
    /// REDUCE: `callable(*args)` for an allowlisted callable.
    var call: (_ callable: TorchGlobal, _ args: [PickleValue]) throws -> PickleValue
    /// NEWOBJ: `cls.__new__(cls, *args)` for an allowlisted class.
    var newObject: (_ cls: TorchGlobal, _ args: [PickleValue]) throws -> PickleValue
    /// BUILD: `object.__setstate__(state)`; returns the object to leave on the stack.
    var build: (_ object: PickleValue, _ state: PickleValue) throws -> PickleValue
    /// BINPERSID / PERSID: the object a persistent id names.
    var persistentLoad: (_ id: PickleValue) throws -> PickleValue
}

struct PickleMachine {
    private let bytes: [UInt8]
    private(set) var position: Int
    private let policy: PicklePolicy
    private var stack: [PickleValue] = []
    private var marks: [Int] = []
    private var memo: [Int: PickleValue] = [:]
    private var opcodeOffset = 0
    private var opcode: UInt8? = nil  // nil: past the end of the data

    /// A machine that reads the pickle starting at `start` (several pickles may follow each other in one buffer).
    init(bytes: [UInt8], start: Int = 0, policy: PicklePolicy) {
        self.bytes = bytes
        self.position = start
        self.policy = policy
    }

    /// Everything the machine still holds (the memo and the stack), for `PickleValue.dismantle` once the caller is
    /// done with the result, or after a failure.
    var retainedValues: [PickleValue] { Array(memo.values) + stack }

    /// Runs to STOP and returns the pickled object; `position` is then just past the STOP opcode. One pickle per
    /// machine (the next one in the same buffer starts a new machine at `position`).
    mutating func load() throws -> PickleValue {
        while true {
            opcodeOffset = position
            guard position < bytes.count else {
                opcode = nil
                throw truncated("the pickle ends without a STOP opcode")
            }
            let code = bytes[position]
            position += 1
            opcode = code
            do {
                if let result = try step(code) { return result }
            } catch let failure as PickleFailure {
                throw PickleError.refused(offset: opcodeOffset, opcode: opcodeName, reason: failure.message)
            }
        }
    }

    /// A `.malformed` error at the current opcode.
    private func malformed(_ reason: String) -> PickleError {
        .malformed(offset: opcodeOffset, opcode: opcodeName, reason: reason)
    }

    /// A `.truncated` error at the current opcode.
    private func truncated(_ reason: String) -> PickleError {
        .truncated(offset: opcodeOffset, opcode: opcodeName, reason: reason)
    }

    /// The current opcode's name (pickletools.py), for messages.
    private var opcodeName: String {
        guard let opcode else { return "end of data" }
        return Self.names[opcode] ?? "opcode \(Self.hex(opcode))"
    }

    // MARK: - Opcodes

    /// Executes one opcode; returns the result at STOP.
    private mutating func step(_ code: UInt8) throws -> PickleValue? {
        switch code {
        case 0x80:  // PROTO
            let version = try readByte()
            guard version <= 5 else {
                throw PickleError.unsupportedProtocol(offset: opcodeOffset, opcode: opcodeName, version: version)
            }
        // FRAME: a length prefix for the opcodes that follow; nothing to do when the whole pickle is in memory.
        case 0x95:
            _ = try readInteger(width: 8)
        case 0x2e:  // STOP
            return try pop()

        // Constants and scalars
        case 0x4e: stack.append(.none)  // NONE
        case 0x88: stack.append(.bool(true))  // NEWTRUE
        case 0x89: stack.append(.bool(false))  // NEWFALSE
        case 0x4a:  // BININT: signed 32-bit
            stack.append(.int(Int(Int32(truncatingIfNeeded: try readInteger(width: 4)))))
        case 0x4b: stack.append(.int(Int(try readByte())))  // BININT1
        case 0x4d: stack.append(.int(Int(try readInteger(width: 2))))  // BININT2
        case 0x8a: stack.append(try readLong(length: Int(try readByte())))  // LONG1
        case 0x8b:  // LONG4
            stack.append(try readLong(length: try readLength(width: 4)))
        case 0x47:  // BINFLOAT: big-endian IEEE double
            let raw = try read(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            stack.append(.float(Double(bitPattern: raw)))

        // Strings and bytes
        case 0x58: stack.append(.string(try readUTF8(length: try readLength(width: 4))))  // BINUNICODE
        case 0x8c: stack.append(.string(try readUTF8(length: Int(try readByte()))))  // SHORT_BINUNICODE
        case 0x8d: stack.append(.string(try readUTF8(length: try readLength(width: 8))))  // BINUNICODE8
        case 0x54:  // BINSTRING (Python 2 str; decoded as Latin-1 like `encoding='latin1'`)
            stack.append(
                .string(String(decoding: try read(try readLength(width: 4)).map { UInt16($0) }, as: UTF16.self)))
        case 0x55:  // SHORT_BINSTRING
            stack.append(.string(String(decoding: try read(Int(try readByte())).map { UInt16($0) }, as: UTF16.self)))
        case 0x42: stack.append(.bytes(Array(try read(try readLength(width: 4)))))  // BINBYTES
        case 0x43: stack.append(.bytes(Array(try read(Int(try readByte())))))  // SHORT_BINBYTES
        case 0x8e, 0x96: stack.append(.bytes(Array(try read(try readLength(width: 8)))))  // BINBYTES8, BYTEARRAY8

        // Containers
        case 0x28: marks.append(stack.count)  // MARK
        case 0x7d: stack.append(.dict(PickleDict()))  // EMPTY_DICT
        case 0x5d: stack.append(.list(PickleList()))  // EMPTY_LIST
        case 0x29: stack.append(.tuple(PickleTuple([])))  // EMPTY_TUPLE
        case 0x8f: stack.append(.list(PickleList()))  // EMPTY_SET (kept as a list: never interpreted)
        case 0x85: stack.append(.tuple(PickleTuple([try pop()])))  // TUPLE1
        case 0x86:  // TUPLE2
            let b = try pop(), a = try pop()
            stack.append(.tuple(PickleTuple([a, b])))
        case 0x87:  // TUPLE3
            let c = try pop(), b = try pop(), a = try pop()
            stack.append(.tuple(PickleTuple([a, b, c])))
        case 0x74: stack.append(.tuple(PickleTuple(try popToMark())))  // TUPLE
        case 0x6c: stack.append(.list(PickleList(try popToMark())))  // LIST
        case 0x91: stack.append(.list(PickleList(try popToMark())))  // FROZENSET
        case 0x64:  // DICT
            let items = try popToMark()
            let dict = PickleDict()
            try Self.setItems(items, in: dict)
            stack.append(.dict(dict))
        case 0x73:  // SETITEM
            let value = try pop(), key = try pop()
            try Self.setItems([key, value], in: try topDict())
        case 0x75:  // SETITEMS
            let items = try popToMark()
            try Self.setItems(items, in: try topDict())
        case 0x61:  // APPEND
            let value = try pop()
            try topList().items.append(value)
        case 0x65, 0x90:  // APPENDS, ADDITEMS
            let items = try popToMark()
            try topList().items.append(contentsOf: items)
        case 0x30: _ = try pop()  // POP
        case 0x31: _ = try popToMark()  // POP_MARK
        case 0x32: stack.append(try top())  // DUP

        // Memo
        case 0x71: memo[Int(try readByte())] = try top()  // BINPUT
        case 0x72: memo[Int(try readInteger(width: 4))] = try top()  // LONG_BINPUT
        case 0x94: memo[memo.count] = try top()  // MEMOIZE
        case 0x68: stack.append(try memoValue(Int(try readByte())))  // BINGET
        case 0x6a: stack.append(try memoValue(Int(try readInteger(width: 4))))  // LONG_BINGET

        // Globals and objects: the allowlist decides
        case 0x63:  // GLOBAL "module\nname\n"
            let module = try readLine(), name = try readLine()
            stack.append(.global(try policy.resolveGlobal(module, name)))
        case 0x93:  // STACK_GLOBAL
            let name = try pop(), module = try pop()
            guard case .string(let moduleName) = module, case .string(let globalName) = name else {
                throw malformed("STACK_GLOBAL needs two strings, found \(module.kind) and \(name.kind)")
            }
            stack.append(.global(try policy.resolveGlobal(moduleName, globalName)))
        case 0x52:  // REDUCE
            let args = try pop(), callable = try pop()
            guard case .global(let function) = callable else {
                throw malformed("REDUCE on \(callable.kind), which is not callable")
            }
            guard let arguments = args.tupleItems else {
                throw malformed("REDUCE arguments are a \(args.kind), not a tuple")
            }
            stack.append(try policy.call(function, arguments))
        case 0x81:  // NEWOBJ
            let args = try pop(), cls = try pop()
            guard case .global(let type) = cls else { throw malformed("NEWOBJ on \(cls.kind), which is not a class") }
            guard let arguments = args.tupleItems else {
                throw malformed("NEWOBJ arguments are a \(args.kind), not a tuple")
            }
            stack.append(try policy.newObject(type, arguments))
        case 0x92:  // NEWOBJ_EX
            let kwargs = try pop(), args = try pop(), cls = try pop()
            guard case .global(let type) = cls else {
                throw malformed("NEWOBJ_EX on \(cls.kind), which is not a class")
            }
            guard let arguments = args.tupleItems else {
                throw malformed("NEWOBJ_EX arguments are a \(args.kind), not a tuple")
            }
            if case .dict(let named) = kwargs, !named.entries.isEmpty {
                throw malformed("NEWOBJ_EX with keyword arguments is not supported (class \(type.qualifiedName))")
            }
            stack.append(try policy.newObject(type, arguments))
        case 0x62:  // BUILD
            let state = try pop(), object = try pop()
            stack.append(try policy.build(object, state))
        case 0x51:  // BINPERSID
            stack.append(try policy.persistentLoad(try pop()))
        case 0x50:  // PERSID (protocol 0: the id is an ASCII line)
            stack.append(try policy.persistentLoad(.string(try readLine())))

        case 0x69, 0x6f:  // INST, OBJ: instantiate arbitrary classes
            throw PickleError.refusedOpcode(
                offset: opcodeOffset, opcode: opcodeName, byte: code, reason: "it instantiates Python classes")
        case 0x82, 0x83, 0x84:  // EXT1, EXT2, EXT4: the copyreg extension registry
            throw PickleError.refusedOpcode(
                offset: opcodeOffset, opcode: opcodeName, byte: code,
                reason: "extension-registry globals are not allowed")
        default:
            throw PickleError.unknownOpcode(offset: opcodeOffset, opcode: opcodeName, byte: code)
        }
        return nil
    }

    // MARK: - Stack

    private mutating func pop() throws -> PickleValue {
        guard let value = stack.popLast() else { throw malformed("stack underflow") }
        if let mark = marks.last, stack.count < mark { throw malformed("stack underflow past a MARK") }
        return value
    }

    private func top() throws -> PickleValue {
        guard let value = stack.last else { throw malformed("stack underflow") }
        return value
    }

    private mutating func popToMark() throws -> [PickleValue] {
        guard let mark = marks.popLast() else { throw malformed("no MARK on the stack") }
        guard mark <= stack.count else { throw malformed("MARK above the stack") }
        let items = Array(stack[mark...])
        stack.removeSubrange(mark...)
        return items
    }

    private func topDict() throws -> PickleDict {
        guard case .dict(let dict) = try top() else { throw malformed("SETITEM(S) on \(try top().kind), not a dict") }
        return dict
    }

    private func topList() throws -> PickleList {
        guard case .list(let list) = try top() else { throw malformed("APPEND(S) on \(try top().kind), not a list") }
        return list
    }

    private func memoValue(_ index: Int) throws -> PickleValue {
        guard let value = memo[index] else { throw malformed("memo entry \(index) was never stored") }
        return value
    }

    private static func setItems(_ items: [PickleValue], in dict: PickleDict) throws {
        guard items.count % 2 == 0 else { throw PickleFailure("odd number of items (\(items.count)) for a dict") }
        for i in stride(from: 0, to: items.count, by: 2) { dict.set(items[i], items[i + 1]) }
    }

    // MARK: - Arguments

    private mutating func read(_ count: Int) throws -> ArraySlice<UInt8> {
        guard count >= 0, count <= bytes.count - position else {
            throw truncated("needs \(count) bytes, \(bytes.count - position) remain")
        }
        defer { position += count }
        return bytes[position..<(position + count)]
    }

    private mutating func readByte() throws -> UInt8 { try read(1).first! }

    /// Unsigned little-endian.
    private mutating func readInteger(width: Int) throws -> UInt64 {
        try read(width).reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
    }

    /// A length argument, bounded by the bytes that remain (a forged length cannot make us allocate).
    private mutating func readLength(width: Int) throws -> Int {
        let length = try readInteger(width: width)
        guard length <= UInt64(bytes.count - position) else {
            throw truncated("length \(length) exceeds the \(bytes.count - position) bytes that remain")
        }
        return Int(length)
    }

    /// LONG1 / LONG4: little-endian two's complement of `length` bytes.
    private mutating func readLong(length: Int) throws -> PickleValue {
        let digits = Array(try read(length))
        if digits.isEmpty { return .int(0) }
        guard digits.count <= 8 else { return .bigInt(digits) }
        var value = digits.reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        // sign-extend
        if digits.last! & 0x80 != 0 && digits.count < 8 { value |= ~UInt64(0) << UInt64(8 * digits.count) }
        return .int(Int(Int64(bitPattern: value)))
    }

    private mutating func readUTF8(length: Int) throws -> String {
        let raw = try read(length)
        guard let string = String(bytes: raw, encoding: .utf8) else {
            throw malformed("string of \(length) bytes is not valid UTF-8")
        }
        return string
    }

    /// A newline-terminated ASCII argument (GLOBAL, PERSID).
    private mutating func readLine() throws -> String {
        guard let end = bytes[position...].firstIndex(of: 0x0a) else {
            throw truncated("unterminated text argument")
        }
        defer { position = end + 1 }
        return String(decoding: bytes[position..<end], as: UTF8.self)
    }

    // MARK: - Names (pickletools.py), for messages

    static func hex(_ code: UInt8) -> String { "0x" + (code < 16 ? "0" : "") + String(code, radix: 16) }

    private static let names: [UInt8: String] = [
        0x80: "PROTO", 0x95: "FRAME", 0x2e: "STOP", 0x4e: "NONE", 0x88: "NEWTRUE", 0x89: "NEWFALSE", 0x4a: "BININT",
        0x4b: "BININT1", 0x4d: "BININT2", 0x8a: "LONG1", 0x8b: "LONG4", 0x47: "BINFLOAT", 0x58: "BINUNICODE",
        0x8c: "SHORT_BINUNICODE", 0x8d: "BINUNICODE8", 0x54: "BINSTRING", 0x55: "SHORT_BINSTRING", 0x42: "BINBYTES",
        0x43: "SHORT_BINBYTES", 0x8e: "BINBYTES8", 0x96: "BYTEARRAY8", 0x28: "MARK", 0x7d: "EMPTY_DICT",
        0x5d: "EMPTY_LIST", 0x29: "EMPTY_TUPLE", 0x8f: "EMPTY_SET", 0x85: "TUPLE1", 0x86: "TUPLE2", 0x87: "TUPLE3",
        0x74: "TUPLE", 0x6c: "LIST", 0x91: "FROZENSET", 0x64: "DICT", 0x73: "SETITEM", 0x75: "SETITEMS",
        0x61: "APPEND", 0x65: "APPENDS", 0x90: "ADDITEMS", 0x30: "POP", 0x31: "POP_MARK", 0x32: "DUP", 0x71: "BINPUT",
        0x72: "LONG_BINPUT", 0x94: "MEMOIZE", 0x68: "BINGET", 0x6a: "LONG_BINGET", 0x63: "GLOBAL",
        0x93: "STACK_GLOBAL", 0x52: "REDUCE", 0x81: "NEWOBJ", 0x92: "NEWOBJ_EX", 0x62: "BUILD", 0x51: "BINPERSID",
        0x50: "PERSID", 0x69: "INST", 0x6f: "OBJ", 0x82: "EXT1", 0x83: "EXT2", 0x84: "EXT4", 0x97: "NEXT_BUFFER",
        0x98: "READONLY_BUFFER", 0x49: "INT", 0x4c: "LONG", 0x46: "FLOAT", 0x53: "STRING", 0x56: "UNICODE",
        0x70: "PUT", 0x67: "GET"
    ]
}
