// A minimal reader of the protobuf wire format, enough for SentencePiece's `ModelProto` (no code generation, no
// swift-protobuf dependency). Unknown fields are skipped, as protobuf requires.

struct ProtobufError: Error, CustomStringConvertible {
    var reason: String
    var description: String { reason }
}

struct ProtobufReader {
    enum WireType: UInt64 {
        case varint = 0
        case fixed64 = 1
        case lengthDelimited = 2
        case fixed32 = 5
    }

    /// One field of a message: its number and its raw value.
    enum FieldValue {
        case varint(UInt64)
        case fixed64(UInt64)
        case fixed32(UInt32)
        case bytes(ArraySlice<UInt8>)
    }

    private let data: ArraySlice<UInt8>
    private var position: Int

    init(_ data: ArraySlice<UInt8>) {
        self.data = data
        self.position = data.startIndex
    }

    /// The next field, or nil at the end of the message.
    mutating func next() throws -> (number: Int, value: FieldValue)? {
        guard position < data.endIndex else { return nil }
        let key = try readVarint()
        let number = Int(key >> 3)
        guard number > 0 else { throw ProtobufError(reason: "field number 0 at byte \(position)") }
        guard let wireType = WireType(rawValue: key & 7) else {
            throw ProtobufError(reason: "unsupported wire type \(key & 7) for field \(number)")
        }
        switch wireType {
        case .varint:
            return (number, .varint(try readVarint()))
        case .fixed64:
            return (number, .fixed64(try readLittleEndian(8)))
        case .fixed32:
            return (number, .fixed32(UInt32(try readLittleEndian(4))))
        case .lengthDelimited:
            let length = try readVarint()
            guard length <= UInt64(data.endIndex - position) else {
                throw ProtobufError(reason: "field \(number) claims \(length) bytes, past the end of its message")
            }
            let start = position
            position += Int(length)
            return (number, .bytes(data[start..<position]))
        }
    }

    private mutating func readVarint() throws -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard position < data.endIndex else { throw ProtobufError(reason: "message ends inside a varint") }
            let byte = data[position]
            position += 1
            guard shift < 64 else { throw ProtobufError(reason: "varint longer than 10 bytes") }
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
        }
    }

    private mutating func readLittleEndian(_ count: Int) throws -> UInt64 {
        guard data.endIndex - position >= count else {
            throw ProtobufError(reason: "message ends inside a fixed field")
        }
        var result: UInt64 = 0
        for i in 0..<count { result |= UInt64(data[position + i]) << UInt64(8 * i) }
        position += count
        return result
    }
}

extension ProtobufReader.FieldValue {
    func asBytes(_ field: String) throws -> ArraySlice<UInt8> {
        guard case .bytes(let bytes) = self else { throw ProtobufError(reason: "\(field) is not length-delimited") }
        return bytes
    }

    func asString(_ field: String) throws -> String {
        let bytes = try asBytes(field)
        guard let string = String(validating: bytes, as: UTF8.self) else {
            throw ProtobufError(reason: "\(field) is not valid UTF-8")
        }
        return string
    }

    func asFloat(_ field: String) throws -> Float {
        guard case .fixed32(let bits) = self else { throw ProtobufError(reason: "\(field) is not a 32-bit float") }
        return Float(bitPattern: bits)
    }

    /// int32 and enum fields: negative values are sent sign-extended to 64 bits.
    func asInt32(_ field: String) throws -> Int {
        guard case .varint(let value) = self else { throw ProtobufError(reason: "\(field) is not a varint") }
        return Int(Int32(truncatingIfNeeded: value))
    }

    func asBool(_ field: String) throws -> Bool {
        guard case .varint(let value) = self else { throw ProtobufError(reason: "\(field) is not a varint") }
        return value != 0
    }
}
