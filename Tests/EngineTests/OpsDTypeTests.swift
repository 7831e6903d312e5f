import Engine
import Foundation
import TestSupport
import XCTest

/// Conversions between dtypes: reduced-precision floats bit for bit against PyTorch, integers and booleans against
/// Swift's own conversions.
final class OpsDTypeTests: XCTestCase {
    func testFloat32ToBFloat16MatchesPyTorchBitForBit() throws {
        let x = try golden("cast.x"), expected = try golden("cast.bf16")
        XCTAssertEqual(expected.dtype, .bfloat16)
        let converted = x.asType(.bfloat16)
        XCTAssertEqual(converted.dtype, .bfloat16)
        XCTAssertEqual(converted.bytes(), expected.bytes(), "round-to-nearest-even bits")
        // bfloat16 -> float32 is exact, so a second round trip changes nothing.
        let back = converted.asType(.float32)
        XCTAssertEqual(back.asType(.bfloat16).asType(.float32).toArray(Float.self), back.toArray(Float.self))
        XCTAssertEqual(back.toArray(Float.self), expected.toArray(Float.self))
    }

    func testFloat32ToFloat16MatchesPyTorchBitForBit() throws {
        let x = try golden("cast.x"), expected = try golden("cast.f16")
        XCTAssertEqual(expected.dtype, .float16)
        let converted = x.asType(.float16)
        XCTAssertEqual(converted.bytes(), expected.bytes(), "round-to-nearest-even bits")
        XCTAssertEqual(converted.asType(.float32).toArray(Float.self), expected.toArray(Float.self))
        // Past float16's largest finite value (65504) the conversion overflows to infinity.
        XCTAssertEqual(
            Tensor([70_000, -70_000] as [Float]).asType(.float16).toArray(Float.self), [.infinity, -.infinity])
    }

    func testInt32RoundTripAndTruncationTowardZero() {
        let ints: [Int32] = [-2_000_000, -7, 0, 1, 123_456, Int32.max - 127]
        // Every value here is exactly representable in float32 (at most 24 significant bits).
        let t = Tensor(ints)
        XCTAssertEqual(t.dtype, .int32)
        XCTAssertEqual(t.asType(.float32).asType(.int32).toArray(Int32.self), ints)
        let floats: [Float] = [-2.7, -0.5, 0.5, 2.7, 1e6 + 0.25]
        XCTAssertEqual(Tensor(floats).asType(.int32).toArray(Int32.self), floats.map { Int32($0) })
    }

    func testInt64RoundTrip() {
        let values: [Int64] = [-(1 << 40), -1, 0, 1 << 33, Int64.max]
        let t = Tensor(values)
        XCTAssertEqual(t.dtype, .int64)
        XCTAssertEqual(t.toArray(Int64.self), values)
        XCTAssertEqual(t.bytes().count, 8 * values.count)
        // Small values survive a trip through int32 and float32.
        let small: [Int64] = [-5, 0, 9, 1 << 20]
        XCTAssertEqual(Tensor(small).asType(.int32).asType(.float32).asType(.int64).toArray(Int64.self), small)
    }

    func testBoolConversions() {
        let flags = [true, false, true]
        let b = Tensor(flags)
        XCTAssertEqual(b.dtype, .bool)
        XCTAssertEqual(b.asType(.float32).toArray(Float.self), [1, 0, 1])
        XCTAssertEqual(b.asType(.int32).asType(.bool).toArray(Bool.self), flags)
        // Any non-zero value is true.
        XCTAssertEqual(
            Tensor([0, -0.0, 0.1, -3] as [Float]).asType(.bool).toArray(Bool.self), [false, false, true, true])
    }

    func testReadingConvertsToTheRequestedSwiftType() {
        let t = Tensor([1, 2, 3] as [Int32])
        XCTAssertEqual(t.toArray(Float.self), [1, 2, 3])
        XCTAssertEqual(t.toArray(Double.self), [1, 2, 3])
        XCTAssertEqual(Tensor([1.5, -2.25] as [Float]).asType(.bfloat16).toArray(Double.self), [1.5, -2.25])
    }

    func testPromotionOfMixedOperands() {
        let i = Tensor([1, 2] as [Int32]), f = Tensor([0.5, 0.5] as [Float])
        XCTAssertEqual((i + i).dtype, .int32)
        XCTAssertEqual((i + f).dtype, .float32)
        XCTAssertEqual((f.asType(.bfloat16) + f).dtype, .float32)
        XCTAssertEqual((f.asType(.float16) * f.asType(.float16)).dtype, .float16)
    }
}
