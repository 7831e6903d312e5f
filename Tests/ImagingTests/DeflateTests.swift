@testable import Imaging
import XCTest

final class DeflateTests: XCTestCase {
    private let strategies: [Deflate.BlockStrategy] = [.automatic, .storedOnly, .fixedOnly, .dynamicOnly]

    private func inputs() -> [(String, [UInt8])] {
        let text = Array(String(repeating: "a blue square left of a yellow triangle; ", count: 40).utf8)
        let noise = TestImages.noise(width: 100, height: 100).pixels  // 30 000 incompressible bytes
        var mixed: [UInt8] = []
        for i in 0..<5000 { mixed += [UInt8(i % 7), UInt8(i % 13), 42] }
        return [("empty", []), ("one byte", [7]), ("two bytes", [1, 2]), ("text", text), ("noise", noise),
                ("zeros 200k", [UInt8](repeating: 0, count: 200_000)), ("mixed", mixed + noise[..<3000] + mixed)]
    }

    func testRoundTripEveryStrategy() throws {
        for (name, data) in inputs() {
            for strategy in strategies {
                let compressed = Deflate.compress(data, strategy: strategy)
                XCTAssertEqual(try Deflate.decompress(compressed), data, "\(name), \(strategy)")
                XCTAssertEqual(try Zlib.decompress(Zlib.compress(data, strategy: strategy)), data, "zlib \(name), \(strategy)")
            }
        }
    }

    func testCompressesRedundantDataAndBoundsIncompressibleData() {
        let zeros = [UInt8](repeating: 0, count: 200_000)
        XCTAssertLessThan(Deflate.compress(zeros).count, 500)
        let text = Array(String(repeating: "two red circles and a green square. ", count: 100).utf8)
        XCTAssertLessThan(Deflate.compress(text).count, text.count / 20)
        // Dynamic codes beat the fixed code on skewed statistics.
        XCTAssertLessThan(Deflate.compress(text, strategy: .dynamicOnly).count, Deflate.compress(text, strategy: .fixedOnly).count)
        // Noise falls back to stored blocks: 5 bytes of overhead per block (the compressor cuts blocks every 16 384
        // tokens, here two) plus at most one byte of padding.
        let noise = TestImages.noise(width: 100, height: 100).pixels
        XCTAssertLessThanOrEqual(Deflate.compress(noise).count, noise.count + 2 * 5 + 1)
    }

    /// Streams written by Python's zlib (level 9), so the inflater is checked against another implementation.
    func testDecodesStreamsWrittenByZlib() throws {
        let hello: [UInt8] = [120, 218, 203, 72, 205, 201, 201, 87, 200, 64, 39, 1, 104, 3, 8, 177]
        XCTAssertEqual(try Zlib.decompress(hello), Array("hello hello hello hello".utf8))
        XCTAssertEqual(try Zlib.decompress([120, 218, 3, 0, 0, 0, 0, 1]), [])
    }

    func testRejectsCorruptStreams() {
        var stream = Zlib.compress(Array("hello hello hello hello".utf8))
        stream[stream.count - 1] ^= 1
        XCTAssertThrowsError(try Zlib.decompress(stream)) { error in
            XCTAssertTrue("\(error)".contains("Adler-32"), "\(error)")
        }
        XCTAssertThrowsError(try Zlib.decompress([0x78, 0xDB, 3, 0, 0, 0, 0, 1]))  // header check bits wrong
        XCTAssertThrowsError(try Deflate.decompress([0x07]))  // final block of reserved type 3
        XCTAssertThrowsError(try Deflate.decompress([0x01, 0x05, 0x00, 0x05, 0x00]))  // stored length ≠ ~complement
        XCTAssertThrowsError(try Deflate.decompress(Array(Deflate.compress(Array("truncated data here".utf8)).dropLast(2))))
    }

    func testHuffmanLengthsAreLimitedAndComplete() {
        // Fibonacci frequencies give the deepest possible tree (depth n − 1 for n symbols).
        var fibonacci = [1, 1]
        while fibonacci.count < 30 { fibonacci.append(fibonacci[fibonacci.count - 1] + fibonacci[fibonacci.count - 2]) }
        for limit in [7, 15] {
            let lengths = HuffmanCode.lengths(frequencies: fibonacci, maxLength: limit)
            XCTAssertLessThanOrEqual(Int(lengths.max()!), limit)
            let kraft = lengths.reduce(0.0) { $0 + ($1 == 0 ? 0 : pow(2.0, -Double($1))) }
            XCTAssertEqual(kraft, 1, accuracy: 1e-12, "a complete prefix code fills the tree exactly")
        }
        // A single used symbol still yields a valid two-code tree.
        XCTAssertEqual(HuffmanCode.lengths(frequencies: [0, 0, 5], maxLength: 15), [1, 0, 1])
    }
}
