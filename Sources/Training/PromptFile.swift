import Checkpoints
import Engine
import Foundation
import Rewards
import SeededRandom

/// Training prompts from a text file, one prompt per line (surrounding whitespace trimmed, blank lines skipped), as
/// DanceGRPO reads `assets/prompts.txt`. Training visits the prompts epoch by epoch, each epoch a fresh shuffle
/// (DDPO/DanceGRPO's shuffling sampler), so the prompts of an iteration are a pure function of (seed, iteration):
/// a resumed run sees the same ones. Prompts that parse as shapes-world prompts carry their `PromptSpec`, so the
/// shapes scorer can score them.
public struct PromptFile: Sendable {
    /// Where the prompts came from (a path, or a description), for logs and errors.
    public let source: String
    public let prompts: [String]

    /// Reads `url`; errors name the file and what was wrong (unreadable, not UTF-8, no prompt).
    public init(contentsOf url: URL) throws {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw TrainingDataError.promptFile(
                file: url.path, reason: "cannot read the prompt file (expected a text file with one prompt per line)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw TrainingDataError.promptFile(file: url.path, reason: "not UTF-8 text (expected one prompt per line)")
        }
        let prompts = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }
        try self.init(prompts: prompts, source: url.path)
    }

    /// Prompts given directly; `source` names them in errors.
    public init(prompts: [String], source: String) throws {
        guard !prompts.isEmpty else {
            throw TrainingDataError.promptFile(
                file: source, reason: "no prompt found (expected at least one non-blank line)")
        }
        self.source = source
        self.prompts = prompts
    }

    /// The visiting order of epoch `epoch`: a permutation of the prompt indices drawn from (seed, epoch).
    public func epochOrder(_ epoch: Int, seed: UInt64) -> [Int] {
        var generator = SeededGenerator(seed: seed &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(epoch) &* 1_000_003 &+ 0x5D)
        var order = Array(prompts.indices)
        // Fisher–Yates with the world's own integer draws (stable across toolchains).
        for i in stride(from: order.count - 1, to: 0, by: -1) {
            order.swapAt(i, generator.below(i + 1))
        }
        return order
    }

    /// The `count` prompts of iteration `iteration`: positions `iteration·count ..< (iteration+1)·count` of the
    /// concatenated epoch shuffles.
    public func training(count: Int, iteration: Int, seed: UInt64) -> [Prompt] {
        let n = prompts.count
        var orders: [Int: [Int]] = [:]
        return (0..<count).map { k in
            let position = iteration * count + k
            let epoch = position / n
            if orders[epoch] == nil { orders[epoch] = epochOrder(epoch, seed: seed) }
            return PromptFile.prompt(prompts[orders[epoch]![position % n]])
        }
    }

    /// The first `count` prompts in file order (repeated cyclically when the file is shorter): fixed evaluation
    /// prompts.
    public func fixed(count: Int) -> [Prompt] {
        (0..<count).map { PromptFile.prompt(prompts[$0 % prompts.count]) }
    }

    /// A prompt with its shapes-world spec when it parses as one.
    static func prompt(_ text: String) -> Prompt {
        Prompt(text: text)
    }
}
