import Engine
import GRPO

extension ProcessGroup {
    /// Every rank's prompts and their values, concatenated in rank order (the same on every rank), and the range
    /// of this rank's own in them: what per-prompt statistics need to see the whole batch, as Flow-GRPO gathers
    /// prompts and rewards across processes before its tracker.
    func allGatherPrompts(_ prompts: [String], values: [Double]) throws -> (
        prompts: [String], values: [Double], mine: Range<Int>
    ) {
        precondition(prompts.count == values.count, "one value per prompt")
        guard worldSize > 1 else { return (prompts, values, 0..<prompts.count) }
        let counts = try allGather([Int32(prompts.count)]).map(Int.init)
        let lengths = try allGather(prompts.map { Int32($0.utf8.count) }).map(Int.init)
        let bytes = try allGather(prompts.flatMap { Array($0.utf8) })
        let allValues = try allGather(values)
        var allPrompts: [String] = []
        var offset = 0
        for length in lengths {
            allPrompts.append(String(decoding: bytes[offset..<(offset + length)], as: UTF8.self))
            offset += length
        }
        let start = counts[..<rank].reduce(0, +)
        return (allPrompts, allValues, start..<(start + prompts.count))
    }
}
