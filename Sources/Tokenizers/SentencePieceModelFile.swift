// The fields of SentencePiece's `ModelProto` (sentencepiece_model.proto) that encoding needs, read from a
// `spiece.model` file.

struct SentencePieceModelFile {
    enum PieceType: Int {
        case normal = 1, unknown = 2, control = 3, userDefined = 4, unused = 5, byte = 6
    }

    struct Piece {
        var text: [UInt8]
        var score: Float
        var type: PieceType
    }

    enum ModelType: Int {
        case unigram = 1, bpe = 2, word = 3, character = 4
    }

    var pieces: [Piece] = []
    // TrainerSpec, with the proto's defaults.
    var modelType = ModelType.unigram
    var unknownID = 0
    var beginningOfSentenceID = 1
    var endOfSentenceID = 2
    var paddingID = -1
    var treatsWhitespaceAsSuffix = false
    var usesByteFallback = false
    // NormalizerSpec, with the proto's defaults.
    var normalizerName = ""
    var precompiledCharsMap: [UInt8] = []
    var addsDummyPrefix = true
    var removesExtraWhitespaces = true
    var escapesWhitespaces = true

    init(_ bytes: [UInt8]) throws {
        var model = ProtobufReader(bytes[...])
        while let (number, value) = try model.next() {
            switch number {
            case 1: pieces.append(try Self.piece(value.asBytes("pieces"), index: pieces.count))
            case 2: try readTrainerSpec(value.asBytes("trainer_spec"))
            case 3: try readNormalizerSpec(value.asBytes("normalizer_spec"))
            default: break  // self_test_data, denormalizer_spec, extensions
            }
        }
        guard !pieces.isEmpty else { throw ProtobufError.noPieces }
    }

    private static func piece(_ bytes: ArraySlice<UInt8>, index: Int) throws -> Piece {
        var reader = ProtobufReader(bytes)
        var piece = Piece(text: [], score: 0, type: .normal)
        while let (number, value) = try reader.next() {
            switch number {
            case 1: piece.text = Array(try value.asBytes("pieces[\(index)].piece"))
            case 2: piece.score = try value.asFloat("pieces[\(index)].score")
            case 3:
                let raw = try value.asInt32("pieces[\(index)].type")
                guard let type = PieceType(rawValue: raw) else {
                    throw ProtobufError.unknownPieceType(index: index, raw: raw)
                }
                piece.type = type
            default: break
            }
        }
        guard !piece.text.isEmpty else { throw ProtobufError.emptyPiece(index: index) }
        return piece
    }

    private mutating func readTrainerSpec(_ bytes: ArraySlice<UInt8>) throws {
        var reader = ProtobufReader(bytes)
        while let (number, value) = try reader.next() {
            switch number {
            case 3:
                let raw = try value.asInt32("trainer_spec.model_type")
                guard let type = ModelType(rawValue: raw) else {
                    throw ProtobufError.unknownModelType(raw: raw)
                }
                modelType = type
            case 24: treatsWhitespaceAsSuffix = try value.asBool("trainer_spec.treat_whitespace_as_suffix")
            case 35: usesByteFallback = try value.asBool("trainer_spec.byte_fallback")
            case 40: unknownID = try value.asInt32("trainer_spec.unk_id")
            case 41: beginningOfSentenceID = try value.asInt32("trainer_spec.bos_id")
            case 42: endOfSentenceID = try value.asInt32("trainer_spec.eos_id")
            case 43: paddingID = try value.asInt32("trainer_spec.pad_id")
            default: break
            }
        }
    }

    private mutating func readNormalizerSpec(_ bytes: ArraySlice<UInt8>) throws {
        var reader = ProtobufReader(bytes)
        while let (number, value) = try reader.next() {
            switch number {
            case 1: normalizerName = try value.asString("normalizer_spec.name")
            case 2: precompiledCharsMap = Array(try value.asBytes("normalizer_spec.precompiled_charsmap"))
            case 3: addsDummyPrefix = try value.asBool("normalizer_spec.add_dummy_prefix")
            case 4: removesExtraWhitespaces = try value.asBool("normalizer_spec.remove_extra_whitespaces")
            case 5: escapesWhitespaces = try value.asBool("normalizer_spec.escape_whitespaces")
            default: break
            }
        }
    }
}
