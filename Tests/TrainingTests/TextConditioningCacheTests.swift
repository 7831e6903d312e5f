import Engine
import Foundation
import GRPO
import Models
import TestSupport
import Training
import XCTest

/// The cache's rows are a function of the text alone: a resumed run (an empty cache meeting texts in other company)
/// must condition on the same bytes as the uninterrupted run that cached them long before.
final class TextConditioningCacheTests: XCTestCase {
    private let texts = [
        "a red apple on a wooden table", "two blue cars", "a cat", "an astronaut riding a horse on the moon at night",
        "a bowl of soup", "three green triangles and a yellow circle", "x"
    ]

    private func bytes(_ conditioning: Conditioning) -> [String: [Float]] {
        conditioning.tensors.mapValues { $0.asType(.float32).toArray(Float.self) }
    }

    func testRowsDoNotDependOnWhatWasEncodedTogether() throws {
        let pipeline = try StableDiffusionPipeline.load(from: Fixture.url("sd_mini"))
        var calls: [[String]] = []
        func cache() -> TextConditioningCache {
            TextConditioningCache { texts in
                calls.append(texts)
                return Conditioning(["states": pipeline.encode(texts)])
            }
        }
        let together = cache()
        _ = try together(texts)
        let alone = cache()
        for (i, text) in texts.enumerated().reversed() {
            XCTAssertEqual(bytes(try alone([text])), bytes(try together([text])), "row \(i): \(text)")
        }
        XCTAssertEqual(
            bytes(try together(Array(texts.prefix(3)))), bytes(try alone(Array(texts.prefix(3)))),
            "concatenated rows")
        XCTAssertEqual(together.count, texts.count)
        XCTAssertEqual(calls.count, 2 * texts.count, "each text encoded once per cache")
        XCTAssert(calls.allSatisfy { $0.count == 1 }, "each text encoded on its own: \(calls.map(\.count))")
    }
}
