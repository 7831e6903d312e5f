// A minimal reader of the protobuf wire format, enough for SentencePiece's `ModelProto` (no code generation, no
// swift-protobuf dependency). Unknown fields are skipped, as protobuf requires.

/// A SentencePiece model or `tokenizer.json` normalizer that cannot be read: broken protobuf wire data, or content
/// this reader does not support. `description` is the reason alone; callers prefix the file.
enum ProtobufError: Error, CustomStringConvertible {
    /// A field key carries field number 0 (never valid); `offset` is the byte just after the key.
    case zeroFieldNumber(offset: Int)
    /// A field key's wire type is not one of varint, 64-bit, length-delimited or 32-bit (groups are unsupported).
    case unsupportedWireType(UInt64, field: Int)
    /// A length-delimited field claims more bytes than are left in its message.
    case lengthPastEnd(field: Int, length: UInt64)
    /// The message ends in the middle of a varint.
    case truncatedVarint
    /// A varint runs past 10 bytes.
    case varintTooLong
    /// The message ends in the middle of a fixed 32- or 64-bit field.
    case truncatedFixedField
    /// A named field has another wire type than the one its schema needs.
    case wrongWireType(field: String, expected: ExpectedWireType)
    /// A string field is not valid UTF-8.
    case invalidUTF8(field: String)
    /// The SentencePiece model has no pieces at all.
    case noPieces
    /// A piece's `type` is not a known SentencePiece piece type.
    case unknownPieceType(index: Int, raw: Int)
    /// A piece has empty text.
    case emptyPiece(index: Int)
    /// `trainer_spec.model_type` is not a known SentencePiece model type.
    case unknownModelType(raw: Int)
    /// The `precompiled_charsmap` blob is too short to hold its trie-size header.
    case charsMapTooShort(byteCount: Int)
    /// The `precompiled_charsmap` header declares a trie size that is not a positive multiple of 4 within the blob.
    case charsMapBadTrieSize(trieSize: Int, byteCount: Int)
    /// A `tokenizer.json` Precompiled normalizer's `precompiled_charsmap` is not base64.
    case charsMapNotBase64
    /// A `tokenizer.json` Replace normalizer has a pattern other than a string or a run of spaces.
    case unsupportedReplacePattern(String)
    /// A `tokenizer.json` normalizer of a type this pipeline does not implement.
    case unsupportedNormalizer(type: String)
    /// A `tokenizer.json` pre-tokenizer of a type this pipeline does not implement.
    case unsupportedPreTokenizer(type: String)

    /// The wire type a field was read as.
    enum ExpectedWireType {
        case lengthDelimited, float32, varint
    }

    var description: String {
        switch self {
        case .zeroFieldNumber(let offset): "field number 0 at byte \(offset)"
        case .unsupportedWireType(let wireType, let field): "unsupported wire type \(wireType) for field \(field)"
        case .lengthPastEnd(let field, let length): "field \(field) claims \(length) bytes, past the end of its message"
        case .truncatedVarint: "message ends inside a varint"
        case .varintTooLong: "varint longer than 10 bytes"
        case .truncatedFixedField: "message ends inside a fixed field"
        case .wrongWireType(let field, .lengthDelimited): "\(field) is not length-delimited"
        case .wrongWireType(let field, .float32): "\(field) is not a 32-bit float"
        case .wrongWireType(let field, .varint): "\(field) is not a varint"
        case .invalidUTF8(let field): "\(field) is not valid UTF-8"
        case .noPieces: "the model has no pieces"
        case .unknownPieceType(let index, let raw): "pieces[\(index)] has unknown type \(raw)"
        case .emptyPiece(let index): "pieces[\(index)] is empty"
        case .unknownModelType(let raw): "unknown trainer_spec.model_type \(raw)"
        case .charsMapTooShort(let byteCount): "precompiled_charsmap is too short (\(byteCount) bytes)"
        case .charsMapBadTrieSize(let trieSize, let byteCount):
            "precompiled_charsmap declares a \(trieSize)-byte trie in a \(byteCount)-byte blob"
        case .charsMapNotBase64: "normalizer.precompiled_charsmap is not base64"
        case .unsupportedReplacePattern(let pattern): "normalizer Replace with pattern \(pattern) is not supported"
        case .unsupportedNormalizer(let type): "normalizer type \"\(type)\" is not supported"
        case .unsupportedPreTokenizer(let type): "pre-tokenizer type \"\(type)\" is not supported"
        }
    }
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
        guard number > 0 else { throw ProtobufError.zeroFieldNumber(offset: position) }
        guard let wireType = WireType(rawValue: key & 7) else {
            throw ProtobufError.unsupportedWireType(key & 7, field: number)
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
                throw ProtobufError.lengthPastEnd(field: number, length: length)
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
            guard position < data.endIndex else { throw ProtobufError.truncatedVarint }
            let byte = data[position]
            position += 1
            guard shift < 64 else { throw ProtobufError.varintTooLong }
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
        }
    }

    private mutating func readLittleEndian(_ count: Int) throws -> UInt64 {
        guard data.endIndex - position >= count else {
            throw ProtobufError.truncatedFixedField
        }
        var result: UInt64 = 0
        for i in 0..<count { result |= UInt64(data[position + i]) << UInt64(8 * i) }
        position += count
        return result
    }
}

extension ProtobufReader.FieldValue {
    func asBytes(_ field: String) throws -> ArraySlice<UInt8> {
        guard case .bytes(let bytes) = self else {
            throw ProtobufError.wrongWireType(field: field, expected: .lengthDelimited)
        }
        return bytes
    }

    func asString(_ field: String) throws -> String {
        let bytes = try asBytes(field)
        guard let string = String(validating: bytes, as: UTF8.self) else {
            throw ProtobufError.invalidUTF8(field: field)
        }
        return string
    }

    func asFloat(_ field: String) throws -> Float {
        guard case .fixed32(let bits) = self else {
            throw ProtobufError.wrongWireType(field: field, expected: .float32)
        }
        return Float(bitPattern: bits)
    }

    /// int32 and enum fields: negative values are sent sign-extended to 64 bits.
    func asInt32(_ field: String) throws -> Int {
        guard case .varint(let value) = self else { throw ProtobufError.wrongWireType(field: field, expected: .varint) }
        return Int(Int32(truncatingIfNeeded: value))
    }

    func asBool(_ field: String) throws -> Bool {
        guard case .varint(let value) = self else { throw ProtobufError.wrongWireType(field: field, expected: .varint) }
        return value != 0
    }
}
