import Engine
import Foundation

// The checks a safetensors header passes before any tensor is read, so that no number from the file reaches an
// allocation, an offset or the engine unchecked: integer fields, shapes the engine can index, sizes computed with
// overflow checks, and the format's own layout rule (huggingface/safetensors `Metadata::validate`): the byte ranges,
// sorted, follow each other from 0 without gap or overlap and end exactly at the end of the file.
enum SafeTensorsLimits {
    /// The header length limit of the reference implementation (100 MB), checked before the header is read.
    static let maxHeaderBytes = 100_000_000
    /// The largest dimension the engine indexes (its shapes are 32-bit).
    static let maxDimension = Int(Int32.max)

    /// A header entry `{"dtype", "shape", "data_offsets"}`, checked on its own.
    static func entry(_ value: Any, key: String, file: String) throws -> TensorInfo {
        func integers(_ field: String) -> [Int]? {
            guard let items = (value as? [String: Any])?[field] as? [Any] else { return nil }
            let numbers = items.compactMap { $0 as? Int }
            return numbers.count == items.count ? numbers : nil
        }
        guard let entry = value as? [String: Any], let dtypeName = entry["dtype"] as? String,
            let shape = integers("shape"), let offsets = integers("data_offsets"), offsets.count == 2
        else {
            throw SafeTensorsError.badEntry(
                file: file, key: key,
                reason: "malformed header entry (needs dtype, shape and data_offsets [begin, end], as integers)")
        }
        guard let dtype = DType(safetensorsName: dtypeName) else {
            throw SafeTensorsError.dtypeUnsupported(file: file, key: key, dtype: dtypeName)
        }
        guard shape.allSatisfy({ $0 >= 0 }), offsets[0] >= 0, offsets[0] <= offsets[1] else {
            throw SafeTensorsError.badEntry(
                file: file, key: key,
                reason: "invalid shape \(shape) or offsets \(offsets) (expected sizes ≥ 0 and begin ≤ end)")
        }
        // Checked even for a tensor without elements: a [0, 2^40] tensor has no bytes but cannot be built.
        guard shape.allSatisfy({ $0 <= maxDimension }) else {
            throw SafeTensorsError.dimensionTooLarge(file: file, key: key, shape: shape, limit: maxDimension)
        }
        var expectedBytes = dtype.size
        for dimension in shape {
            let (product, overflow) = expectedBytes.multipliedReportingOverflow(by: dimension)
            guard !overflow else {
                throw SafeTensorsError.sizeOverflow(file: file, key: key, dtype: dtypeName, shape: shape)
            }
            expectedBytes = product
        }
        guard offsets[1] - offsets[0] == expectedBytes else {
            throw SafeTensorsError.sizeMismatch(
                file: file, key: key, dtype: dtypeName, shape: shape, expected: expectedBytes,
                found: offsets[1] - offsets[0])
        }
        return TensorInfo(dtype: dtype, shape: shape, dataOffsets: offsets[0]..<offsets[1])
    }

    /// The byte ranges, in order, tile the data section `0..<dataSize` exactly.
    static func checkLayout(_ entries: [String: TensorInfo], dataSize: Int, file: String) throws {
        let ordered = entries.sorted {
            ($0.value.dataOffsets.lowerBound, $0.value.dataOffsets.upperBound, $0.key)
                < ($1.value.dataOffsets.lowerBound, $1.value.dataOffsets.upperBound, $1.key)
        }
        var end = 0
        var previous: String?
        for (key, info) in ordered {
            guard info.dataOffsets.lowerBound == end else {
                throw SafeTensorsError.offsetsNotContiguous(
                    file: file, key: key, previous: previous, expected: end, found: info.dataOffsets.lowerBound)
            }
            guard info.dataOffsets.upperBound <= dataSize else {
                throw SafeTensorsError.tensorPastEnd(
                    file: file, key: key, end: info.dataOffsets.upperBound, dataSize: dataSize)
            }
            end = info.dataOffsets.upperBound
            previous = key
        }
        guard end == dataSize else {
            throw SafeTensorsError.dataSectionNotCovered(file: file, covered: end, dataSize: dataSize)
        }
    }
}
