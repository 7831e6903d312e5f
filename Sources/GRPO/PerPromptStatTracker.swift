import Checkpoints
import Engine
import Foundation

/// Per-prompt reward statistics across iterations, as DDPO's and Flow-GRPO's `PerPromptStatTracker`
/// (kvablack/ddpo-pytorch `ddpo_pytorch/stat_tracking.py`; yifan123/flow_grpo `flow_grpo/stat_tracking.py`):
/// each prompt keeps a buffer of its past rewards, and a reward's advantage is (r − mean)/(std + ε) over that
/// buffer, the current rewards included, with the **population** std (numpy's default, divisor n).
/// - `bufferSize`: DDPO keeps the last `buffer_size` rewards (16 in its config); `nil` keeps all (Flow-GRPO, which
///   calls `clear()` at each epoch).
/// - `minCount`: while a prompt has fewer rewards than this, the batch's statistics (all rewards of this call) are
///   used instead (DDPO `min_count`, 16); 0 never falls back.
/// - `epsilon`: 1e-6 in DDPO, 1e-4 in Flow-GRPO.
/// - `globalStd`: Flow-GRPO's option to divide by the population std of the whole batch instead.
/// Arithmetic is in Double, as the references' numpy float64. The state is Codable (JSON) for resume.
public struct PerPromptStatTracker: Codable, Sendable, Equatable {
    public var bufferSize: Int?
    public var minCount: Int
    public var epsilon: Double
    public var globalStd: Bool
    /// The buffered rewards of each prompt, oldest first.
    public private(set) var history: [String: [Double]] = [:]

    public init(bufferSize: Int? = nil, minCount: Int = 0, epsilon: Double = 1e-6, globalStd: Bool = false) {
        precondition(bufferSize.map { $0 >= 1 } ?? true, "PerPromptStatTracker: buffer size must be positive")
        self.bufferSize = bufferSize
        self.minCount = minCount
        self.epsilon = epsilon
        self.globalStd = globalStd
    }

    /// Adds the rewards to their prompts' buffers and returns one advantage per reward (in the given order).
    /// Each distinct prompt's rewards are appended before its statistics are read, in first-appearance order.
    public mutating func update(prompts: [String], rewards: [Double]) -> [Double] {
        precondition(
            prompts.count == rewards.count, "PerPromptStatTracker: \(prompts.count) prompts, \(rewards.count) rewards")
        guard !rewards.isEmpty else { return [] }
        let batch = Self.meanAndStd(rewards)
        var advantages = [Double](repeating: 0, count: rewards.count)
        var seen: [String] = []
        for p in prompts where !seen.contains(p) { seen.append(p) }
        for prompt in seen {
            let indices = prompts.indices.filter { prompts[$0] == prompt }
            var buffer = history[prompt, default: []] + indices.map { rewards[$0] }
            if let bufferSize, buffer.count > bufferSize { buffer.removeFirst(buffer.count - bufferSize) }
            history[prompt] = buffer
            var (mean, std) = buffer.count < minCount ? batch : Self.meanAndStd(buffer)
            if globalStd { std = batch.std }
            for i in indices { advantages[i] = (rewards[i] - mean) / (std + epsilon) }
        }
        return advantages
    }

    /// The same for Float rewards, as a `[N]` tensor of advantages.
    public mutating func advantages(prompts: [String], rewards: [Float]) -> [Float] {
        update(prompts: prompts, rewards: rewards.map(Double.init)).map(Float.init)
    }

    /// Forgets every prompt (Flow-GRPO clears at each epoch).
    public mutating func clear() { history = [:] }

    /// (average buffered rewards per prompt, number of prompts), Flow-GRPO's `get_stats`.
    public var summary: (averageCount: Double, prompts: Int) {
        (history.isEmpty ? 0 : Double(history.values.map(\.count).reduce(0, +)) / Double(history.count), history.count)
    }

    static func meanAndStd(_ values: [Double]) -> (mean: Double, std: Double) {
        let mean = values.reduce(0, +) / Double(values.count)
        let variance = values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(values.count)
        return (mean, variance.squareRoot())
    }

    // MARK: - Save / load

    public func save(to url: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        try AtomicFile.write(try encoder.encode(self), to: url)
    }

    public static func load(from url: URL) throws -> PerPromptStatTracker {
        try JSONDecoder().decode(PerPromptStatTracker.self, from: Data(contentsOf: url))
    }
}
