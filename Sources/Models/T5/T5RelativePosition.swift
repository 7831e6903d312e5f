import Engine
import Foundation

/// T5's bucketed relative positions (transformers `T5Attention._relative_position_bucket`, from Mesh TensorFlow).
public enum T5RelativePosition {
    /// The bucket of `relativePosition` = key position − query position. Bidirectional (encoder): half the buckets
    /// for keys after the query. Within each half, distances below half its size get their own bucket and larger
    /// ones share log-spaced buckets up to `maxDistance`, beyond which all fall into the last bucket.
    public static func bucket(_ relativePosition: Int, bidirectional: Bool, numBuckets: Int, maxDistance: Int) -> Int {
        var buckets = numBuckets
        var offset = 0
        var distance: Int
        if bidirectional {
            buckets /= 2
            if relativePosition > 0 { offset = buckets }
            distance = abs(relativePosition)
        } else {
            distance = -min(relativePosition, 0)
        }
        let maxExact = buckets / 2
        if distance < maxExact { return offset + distance }
        // In float32 like the reference, so that distances on a bucket boundary round the same way.
        let logRatio = log(Float(distance) / Float(maxExact)) / Float(log(Double(maxDistance) / Double(maxExact)))
        let large = maxExact + Int(logRatio * Float(buckets - maxExact))
        return offset + min(large, buckets - 1)
    }

    /// Bucket ids `[queryLength, keyLength]` (int32) for queries and keys at positions 0..<length.
    public static func buckets(queryLength: Int, keyLength: Int, bidirectional: Bool, numBuckets: Int, maxDistance: Int)
        -> Tensor
    {
        // One bucket per distinct offset, then laid out as the query × key grid.
        let offsets = -(queryLength - 1)..<keyLength
        let perOffset = offsets.map {
            Int32(bucket($0, bidirectional: bidirectional, numBuckets: numBuckets, maxDistance: maxDistance))
        }
        var grid = [Int32](repeating: 0, count: queryLength * keyLength)
        for i in 0..<queryLength {
            for j in 0..<keyLength { grid[i * keyLength + j] = perOffset[j - i + queryLength - 1] }
        }
        return Tensor(grid, shape: [queryLength, keyLength])
    }
}
