import Checkpoints
import Engine
import Foundation
import GRPO
import Models
import NN
import TestSupport
import XCTest

/// Ulysses sequence parallelism on two real ranks (a ring on loopback): the exchanges and their gradients, and the
/// tiny HunyuanVideo transformer of tools/goldens/hunyuan_video_transformer.py run over two ranks against one process.
final class SequenceParallelTests: XCTestCase {
    /// Rank r holds `[1, 4, 2, 1]` = 10·r + 0…7 (sequence 4, heads 2). The all-to-all gives rank r head r of both
    /// ranks' sequences; the gradient of `sum(w · out)` comes back to the owners of each element.
    func testRankWorkerExchanges() throws {
        guard RankProcesses.isWorker else { return }
        let group = try XCTUnwrap(try RankProcesses.formGroup() as? DistributedProcessGroup).group
        let r = Float(group.rank)
        let x = Tensor((0..<8).map { 10 * r + Float($0) }, shape: [1, 4, 2, 1])
        let exchanged = group.allToAll(x, splitAxis: 2, concatAxis: 1)
        let back = group.allToAll(exchanged, splitAxis: 1, concatAxis: 2)
        let weights = Tensor((0..<8).map { Float($0) + 100 * r }, shape: [1, 8, 1, 1])
        let gradient = vjp(
            { [group.allToAll($0[0], splitAxis: 2, concatAxis: 1)] }, primals: [x], cotangents: [weights]
        ).gradients[0]
        try RankProcesses.report([
            "exchanged": exchanged.toArray(Double.self), "back": back.toArray(Double.self),
            "gradient": gradient.toArray(Double.self)
        ])
    }

    func testAllToAllOverTwoRanks() throws {
        guard !RankProcesses.isWorker else { return }
        let ranks = try RankProcesses.start("SequenceParallelTests/testRankWorkerExchanges", for: self)
        XCTAssertTrue(RankProcesses.wait(ranks, seconds: 60), ranks.map(\.output).joined())
        for rank in ranks {
            XCTAssertEqual(rank.process.terminationStatus, 0, rank.output)
            let results = try RankProcesses.results(rank)
            let h = Double(rank.rank)
            // Sequence positions 0-3 from rank 0, 4-7 from rank 1; head `h` of each.
            var expected: [Double] = []
            for source in 0..<2 { for s in 0..<4 { expected.append(10 * Double(source) + Double(2 * s) + h) } }
            XCTAssertEqual(results["exchanged"], expected)
            XCTAssertEqual(results["back"], (0..<8).map { 10 * h + Double($0) })
            // Element (s, head j) of rank r went to rank j at row 4r + s, whose weight is 4r + s + 100j.
            var gradient: [Double] = []
            for s in 0..<4 { for j in 0..<2 { gradient.append(Double(4 * rank.rank + s) + 100 * Double(j)) } }
            XCTAssertEqual(results["gradient"], gradient)
        }
    }

    /// Each rank runs the transformer on its half of the video tokens; the output equals one process's, and the
    /// parameter gradients summed over the two ranks equal one process's gradients.
    func testRankWorkerHunyuanVideo() throws {
        guard RankProcesses.isWorker else { return }
        let group = try XCTUnwrap(try RankProcesses.formGroup() as? DistributedProcessGroup).group
        let file = try SafeTensorsFile(url: Fixture.url("hunyuan_video_transformer.safetensors"))
        let config = try JSONDecoder().decode(
            HunyuanVideoTransformer3DConfig.self, from: Data(file.metadata["config"]!.utf8))
        var params: [String: Tensor] = [:]
        for (k, v) in try file.tensors() where k.hasPrefix("param.") { params[String(k.dropFirst(6))] = v }
        let model = HunyuanVideoTransformer3DModel(config)
        try model.load(params)
        // Batch 2, 3 frames of 4 × 6 latents (18 video tokens), texts of 6 and 2 valid tokens out of 7.
        let latents = Random.normal([2, config.inChannels, 3, 4, 6], key: RandomKey(seed: 1))
        let text = Random.normal([2, 7, config.textEmbedDim], key: RandomKey(seed: 2))
        let mask = Tensor([1, 1, 1, 1, 1, 1, 0, 1, 1, 0, 0, 0, 0, 0] as [Float], shape: [2, 7])
        let pooled = Random.normal([2, config.pooledProjectionDim], key: RandomKey(seed: 3))
        let weights = Random.normal([2, config.outChannels ?? config.inChannels, 3, 4, 6], key: RandomKey(seed: 4))
        func loss() -> [Tensor] {
            let out = model(
                hiddenStates: latents, timestep: Tensor([250, 900] as [Float]), encoderHiddenStates: text,
                encoderAttentionMask: mask, pooledProjections: pooled, guidance: Tensor([6000, 3000] as [Float]))
            return [(out * weights).sum(), out]
        }
        try RankProcesses.report(try Self.compareOverRanks(model, group: group, loss))
    }

    /// The same for the tiny Wan transformer of the wan_mini folder (self-attention exchanged, cross-attention not).
    func testRankWorkerWan() throws {
        guard RankProcesses.isWorker else { return }
        let group = try XCTUnwrap(try RankProcesses.formGroup() as? DistributedProcessGroup).group
        let model = try WanTransformer3DModel.load(from: Fixture.url("wan_mini/transformer"))
        let latents = Random.normal([2, 4, 3, 4, 6], key: RandomKey(seed: 1))
        let text = Random.normal([2, 5, 16], key: RandomKey(seed: 2))
        let weights = Random.normal([2, 4, 3, 4, 6], key: RandomKey(seed: 4))
        func loss() -> [Tensor] {
            let out = model(hiddenStates: latents, timestep: Tensor([250, 900] as [Float]), encoderHiddenStates: text)
            return [(out * weights).sum(), out]
        }
        try RankProcesses.report(try Self.compareOverRanks(model, group: group, loss))
    }

    /// One process's output and gradients against the sequence-parallel ones (plain and checkpointed), the
    /// gradients summed over the ranks.
    static func compareOverRanks(
        _ model: Module & SequenceParallelizable & GradientCheckpointable, group: DistributedGroup,
        _ loss: @escaping () -> [Tensor]
    ) throws -> [String: [Double]] {
        let (whole, wholeGradients) = valueAndGrad(model: model, loss)
        model.sequenceParallel = SequenceParallelism(group: group)
        let (parallel, parallelGradients) = valueAndGrad(model: model, loss)
        model.gradientCheckpointing = true
        let (checkpointed, checkpointedGradients) = valueAndGrad(model: model, loss)
        var gradientError = 0.0, gradientScale = 0.0, shareDifference = 0.0
        for (key, expected) in wholeGradients.sorted(by: { $0.key < $1.key }) {
            shareDifference = max(shareDifference, Double(maxAbsDifference(parallelGradients[key]!, expected)))
            for gradients in [parallelGradients, checkpointedGradients] {
                let summed = group.allSum(gradients[key]!)
                gradientError = max(gradientError, Double(maxAbsDifference(summed, expected)))
            }
            gradientScale = max(gradientScale, Double(expected.abs().max().item(Float.self)))
        }
        return [
            "outputError": [
                Double(max(maxAbsDifference(parallel[1], whole[1]), maxAbsDifference(checkpointed[1], whole[1])))
            ],
            "outputScale": [Double(whole[1].abs().max().item(Float.self))],
            "gradientError": [gradientError], "gradientScale": [gradientScale], "shareDifference": [shareDifference]
        ]
    }

    func testWanOverTwoRanksEqualsOneProcess() throws {
        guard !RankProcesses.isWorker else { return }
        try checkRanks("SequenceParallelTests/testRankWorkerWan", name: "Wan")
    }

    private func checkRanks(_ method: String, name: String) throws {
        let ranks = try RankProcesses.start(method, for: self)
        XCTAssertTrue(RankProcesses.wait(ranks, seconds: 120), ranks.map(\.output).joined())
        for rank in ranks {
            XCTAssertEqual(rank.process.terminationStatus, 0, rank.output)
            let results = try RankProcesses.results(rank)
            let outputError = try XCTUnwrap(results["outputError"]?.first)
            let outputScale = try XCTUnwrap(results["outputScale"]?.first)
            let gradientError = try XCTUnwrap(results["gradientError"]?.first)
            let gradientScale = try XCTUnwrap(results["gradientScale"]?.first)
            XCTAssertGreaterThan(outputScale, 0.1)
            XCTAssertGreaterThan(gradientScale, 0.1)
            XCTAssertLessThanOrEqual(outputError, 1e-5 * outputScale, "rank \(rank.rank)")
            XCTAssertLessThanOrEqual(gradientError, 1e-4 * gradientScale, "rank \(rank.rank)")
            XCTAssertGreaterThan(try XCTUnwrap(results["shareDifference"]?.first), 0.01 * gradientScale)
            print(
                "Sequence parallel \(name), rank \(rank.rank): output error \(outputError) of \(outputScale), "
                    + "summed-gradient error \(gradientError) of \(gradientScale)")
        }
    }

    func testHunyuanVideoOverTwoRanksEqualsOneProcess() throws {
        guard !RankProcesses.isWorker else { return }
        try checkRanks("SequenceParallelTests/testRankWorkerHunyuanVideo", name: "HunyuanVideo")
    }
}
