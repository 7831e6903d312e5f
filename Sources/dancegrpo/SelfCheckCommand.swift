import Foundation
import ArgumentParser
import Dispatch
import Engine
import NN

/// The main job until the trainer lands: proves the engine is linked right and fast, and that a small model
/// trains (forward, backward, update) — with timings.
struct SelfCheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "selfcheck",
        abstract: "Check the engine build: BLAS provider, GEMM speed, a small model's forward/backward and training.")

    @Flag(help: "Accept the wheel's reference BLAS (about 30x slower matrix products) instead of failing.")
    var allowReferenceBLAS = false

    @Option(help: "Training steps for the small model.")
    var steps = 200

    func run() throws {
        print("MLX \(Engine.mlxVersion); cblas_sgemm from \(Engine.sgemmProvider)")
        guard Engine.usesOptimizedBLAS || allowReferenceBLAS else {
            throw ValidationError(
                """
                matrix products would run on the reference BLAS bundled with the MLX wheel (\(Engine.sgemmProvider)). \
                Install libopenblas-dev and rebuild (make run), or pass --allow-reference-blas.
                """)
        }
        let gflops = measureGEMM(size: 512)
        print(String(format: "sgemm 512³: %.1f GFLOP/s", gflops))

        let report = try SmallModelCheck(steps: steps).run()
        print(
            String(
                format: "small MLP (%d parameters): forward %.2f ms, forward+backward %.2f ms",
                report.parameterCount, report.forwardMilliseconds, report.backwardMilliseconds))
        print(
            String(
                format: "training %d steps: loss %.4f → %.4f in %.2f s", steps, report.initialLoss,
                report.finalLoss, report.trainingSeconds))
        guard report.finalLoss < 0.5 * report.initialLoss else {
            throw ValidationError("the small model did not learn: loss \(report.initialLoss) → \(report.finalLoss)")
        }
        print("selfcheck passed")
    }

    private func measureGEMM(size n: Int) -> Double {
        let a = Random.normal([n, n], key: RandomKey(seed: 1))
        let b = Random.normal([n, n], key: RandomKey(seed: 2))
        eval(a, b)
        eval(a.matmul(b))
        let reps = 10
        let start = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<reps { eval(a.matmul(b)) }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        return 2 * Double(n * n * n) * Double(reps) / seconds / 1e9
    }
}
