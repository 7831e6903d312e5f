import Engine
import Rewards

/// The prompt order of the tasks that train on an embedding cache (FLUX, Wan): an epoch is one pass over the cache in
/// a seed-dependent order (DanceGRPO's shuffling sampler); iteration k takes the next `count` prompts, wrapping into
/// the next epoch's order. A pure function of (seed, iteration), so resumed runs see the same prompts.
enum CachedPromptOrder {
    static func prompts(_ captions: [String], count: Int, iteration: Int, seed: UInt64) -> [Prompt] {
        let n = captions.count
        return (0..<count).map { j in
            let position = iteration * count + j
            let epoch = position / n
            let order = Random.permutation(n, key: RandomKey(seed: seed &* 7_919 &+ UInt64(epoch))).toArray(Int32.self)
            return Prompt(text: captions[Int(order[position % n])])
        }
    }
}
