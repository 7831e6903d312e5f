// gzip decoding (through zlib) on small streams of each block type (the open_clip vocabulary file covers
// dynamic-Huffman blocks at scale) and on damaged input.
import Foundation
@testable import Tokenizers
import XCTest

final class GzipTests: XCTestCase {
    private func bytes(_ hex: String) -> [UInt8] {
        var result: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            result.append(UInt8(hex[index..<next], radix: 16)!)
            index = next
        }
        return result
    }

    /// Python: gzip.compress(b"hello hello hello hello", compresslevel=9, mtime=0) (one fixed-Huffman block).
    private var fixedHuffman: [UInt8] { bytes("1f8b0800000000000203cb48cdc9c957c8402701e3513d8d17000000") }
    /// Python: gzip.compress(b"stored!", compresslevel=0, mtime=0) (one stored block).
    private var stored: [UInt8] { bytes("1f8b0800000000000403010700f8ff73746f72656421a265ef0907000000") }

    func testFixedHuffmanBlockWithBackReferences() throws {
        XCTAssertEqual(try Gzip.decompress(fixedHuffman), Array("hello hello hello hello".utf8))
    }

    func testStoredBlock() throws {
        XCTAssertEqual(try Gzip.decompress(stored), Array("stored!".utf8))
    }

    func testConcatenatedMembers() throws {
        XCTAssertEqual(try Gzip.decompress(stored + fixedHuffman), Array("stored!hello hello hello hello".utf8))
    }

    func testDynamicHuffmanBlocks() throws {
        let text = try Gzip.decompress([UInt8](Data(contentsOf: SharedTokenizers.openCLIPVocabulary)))
        XCTAssertEqual(text.count, 3_194_984)
        XCTAssertTrue(text.starts(with: Array("\"bpe_simple_vocab_16e6.txt#version: 0.2\ni n\n".utf8)))
        XCTAssertEqual(text.filter { $0 == 0x0A }.count, 262_145)
    }

    func testDamagedInputThrows() {
        var badCRC = fixedHuffman
        badCRC[badCRC.count - 6] ^= 0xFF
        XCTAssertThrowsError(try Gzip.decompress(badCRC)) { error in
            XCTAssertTrue("\(error)".contains("CRC-32 mismatch"), "\(error)")
        }
        XCTAssertThrowsError(try Gzip.decompress(Array(fixedHuffman.prefix(15)))) { error in
            XCTAssertTrue("\(error)".contains("ends"), "\(error)")
        }
        XCTAssertThrowsError(try Gzip.decompress(Array("plain text".utf8))) { error in
            XCTAssertTrue("\(error)".contains("not a gzip file"), "\(error)")
        }
        var reservedBlockType = stored
        reservedBlockType[10] = 0x07  // final block, type 3
        XCTAssertThrowsError(try Gzip.decompress(reservedBlockType)) { error in
            XCTAssertTrue("\(error)".contains("invalid block type"), "\(error)")
        }
    }
}
