import Rewards

/// A task whose prompts are the captions of an embedding cache.
public protocol CachedCaptionsTask: TrainingTask {
    /// The cache's captions in manifest order.
    var cachedCaptions: [String] { get }
}

extension CachedCaptionsTask {
    /// The cache's prompts in ``CachedPromptOrder``.
    public func trainingPrompts(count: Int, iteration: Int, seed: UInt64) throws -> [Prompt] {
        CachedPromptOrder.prompts(cachedCaptions, count: count, iteration: iteration, seed: seed)
    }

    /// The first `count` prompts of the cache (all of them if fewer).
    public func evaluationPrompts(count: Int) throws -> [Prompt] {
        cachedCaptions.prefix(count).map { Prompt(text: $0) }
    }
}
