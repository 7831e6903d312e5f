import Engine
import Foundation
import GRPO

/// `dancegrpo-bench scale` (`make bench-scale`): peak memory per rank and seconds per GRPO training step of a
/// FLUX-architecture transformer at 1, 2 and 4 ranks on loopback for each ZeRO stage, next to the memory plan's
/// estimate (``MemoryPlan``) and to the seed's setup (FSDP full shard, bf16) estimated from its settings. Each rank is
/// this benchmark re-run in the hidden mode `scale-rank` (``ScaleRank``), as mlx.launch starts ranks.
enum ScaleBench {
    static let mode = "scale"

    struct Row {
        var ranks: Int
        var stage: Int
        var reports: [ScaleRank.Report]
        var plan: MemoryPlan
        /// The same workload under the seed's setup: ZeRO-3 and bf16 at these ranks.
        var seedSetup: MemoryPlan

        var peakResident: Int { (reports.map(\.maxResidentKiB).max() ?? 0) * 1024 }
        var enginePeak: Int { reports.map(\.enginePeakBytes).max() ?? 0 }
        var rolloutPeak: Int { reports.map(\.rolloutPeakBytes).max() ?? 0 }
        var trainingPeak: Int { reports.map(\.trainingPeakBytes).max() ?? 0 }
        var secondsPerStep: Double {
            let all = reports.flatMap(\.seconds).sorted()
            return all.isEmpty ? 0 : all[all.count / 2]
        }
        var sharded: Bool { stage == 0 || ranks == 1 || reports.allSatisfy(\.sharded) }
    }

    static func run(_ arguments: [String]) throws -> Int32 {
        if arguments.contains("-h") || arguments.contains("--help") {
            print(ScaleOptions.usage)
            return 0
        }
        let options = try ScaleOptions(arguments)
        if options.estimatesOnly {
            printSeedEstimates()
            return 0
        }
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let config = options.config
        print(
            """
            MLX \(Engine.mlxVersion); \(cores) cores; FLUX transformer \(config.numLayers) double + \
            \(config.numSingleLayers) single blocks, \(config.numAttentionHeads) heads × 64, \
            \(options.side * options.side) image + \(options.textTokens) text tokens; \(options.samples) samples × \
            1 transition per step, checkpointing \(options.checkpointing ? "on" : "off"); \(options.steps) timed \
            steps after 1 warm-up
            """)
        var rows: [Row] = []
        for ranks in options.ranks {
            // One rank has nothing to shard: its stages are all stage 0.
            for stage in ranks == 1 ? [0] : options.stages {
                let reports = try launch(ranks: ranks, stage: stage, options: options)
                let row = Row(
                    ranks: ranks, stage: stage, reports: reports,
                    plan: plan(options, reports[0], ranks: ranks, stage: stage, compute: .float32),
                    seedSetup: plan(options, reports[0], ranks: ranks, stage: 3, compute: .bfloat16))
                rows.append(row)
                print(line(row))
            }
        }
        print("")
        print(header)
        rows.forEach { print(line($0)) }
        if rows.contains(where: { !$0.sharded }) {
            print(
                """
                * not sharded: a rank reported its training state replicated at this stage (the plan column is the \
                sharded estimate)
                """)
        }
        printSeedEstimates()
        let parameters = rows.first?.reports.first?.parameters ?? 0
        let one = rows.first { $0.ranks == 1 && $0.stage == 0 }
        let four = rows.first { $0.ranks == 4 && $0.stage == 3 }
        print(finalLine(parameters: parameters, one: one?.peakResident, four: four?.peakResident))
        return 0
    }

    /// The memory plans of the seed's setups, from their settings: FLUX.1-dev on 8 GPUs, Wan2.1-T2V-1.3B on one,
    /// Qwen-Image on 8.
    static func printSeedEstimates() {
        print(
            "\nthe seed's setup, estimated: FLUX.1-dev on \(ScaleSeedEstimate.gpus) GPUs, 720×720 px, 512 text tokens")
        print(ScaleSeedEstimate.plan().table())
        for (label, plan) in ScaleWanEstimate.plans() {
            print("\nWan2.1-T2V-1.3B, estimated: \(label)")
            print(plan.table(device: DeviceMemory(bytes: ScaleWanEstimate.gpuBytes, source: "an 80 GB GPU")))
        }
        let (qwenParameters, _) = ScaleQwenImageEstimate.sizes()
        for (label, plan) in ScaleQwenImageEstimate.plans() {
            print("\nQwen-Image (\(qwenParameters) transformer parameters), estimated: \(label)")
            print(plan.table(device: DeviceMemory(bytes: ScaleQwenImageEstimate.gpuBytes, source: "an 80 GB GPU")))
        }
        for (label, plan) in ScaleQwenImageEditEstimate.plans() {
            print("\nQwen-Image-Edit (\(qwenParameters) transformer parameters), estimated: \(label)")
            print(plan.table(device: DeviceMemory(bytes: ScaleQwenImageEstimate.gpuBytes, source: "an 80 GB GPU")))
        }
        let (hunyuanParameters, _) = ScaleHunyuanVideoEstimate.sizes()
        for (label, plan) in ScaleHunyuanVideoEstimate.plans() {
            print("\nHunyuanVideo (\(hunyuanParameters) transformer parameters), estimated: \(label)")
            print(plan.table(device: DeviceMemory(bytes: ScaleHunyuanVideoEstimate.gpuBytes, source: "an 80 GB GPU")))
        }
    }

    /// The plan of the benchmark's workload at `ranks` and `stage`.
    static func plan(_ options: ScaleOptions, _ report: ScaleRank.Report, ranks: Int, stage: Int, compute: DType)
        -> MemoryPlan
    {
        let config = options.config
        var inputs = MemoryPlan.Inputs(trainableParameters: report.parameters)
        inputs.largestUnitParameters = report.largestBlock
        inputs.worldSize = ranks
        inputs.zeroStage = stage
        inputs.computeDType = compute
        inputs.gradientCheckpointing = options.checkpointing
        inputs.transitionsPerCall = options.samples
        inputs.rolloutBatch = options.samples
        inputs.activations = .transformer(
            tokens: options.side * options.side + options.textTokens, hidden: config.innerDim,
            heads: config.numAttentionHeads, blocks: config.numLayers + config.numSingleLayers)
        return MemoryPlan(inputs)
    }

    static let header = [
        "ranks", "stage", "plan GiB", "ru_maxrss GiB", "MLX peak GiB", "rollout/train", "plan/MLX", "s/step",
        "seed setup GiB"
    ].map { $0.padding(toLength: 14, withPad: " ", startingAt: 0) }.joined()

    static func line(_ row: Row) -> String {
        func gib(_ bytes: Int) -> String { String(format: "%.3f", Double(bytes) / Double(1 << 30)) }
        let ratio = row.enginePeak > 0 ? String(format: "%.2f", Double(row.plan.total) / Double(row.enginePeak)) : "-"
        return [
            "\(row.ranks)", "\(row.stage)\(row.sharded ? "" : "*")", gib(row.plan.total), gib(row.peakResident),
            gib(row.enginePeak), "\(gib(row.rolloutPeak))/\(gib(row.trainingPeak))", ratio,
            String(format: "%.2f", row.secondsPerStep), gib(row.seedSetup.total)
        ].map { $0.padding(toLength: 14, withPad: " ", startingAt: 0) }.joined()
    }

    static func finalLine(parameters: Int, one: Int?, four: Int?) -> String {
        func gib(_ bytes: Int?) -> String {
            bytes.map { String(format: "%.2f", Double($0) / Double(1 << 30)) } ?? "n/a"
        }
        let ratio = one.flatMap { a in four.map { String(format: "%.2f", Double($0) / Double(max(a, 1))) } } ?? "n/a"
        return "scale: \(parameters) params, per-rank peak 1 rank \(gib(one)) GiB, 4 ranks zero-3 \(gib(four)) GiB, "
            + "ratio \(ratio)"
    }

    /// Runs `ranks` ranks of `scale-rank` (a ring on loopback for more than one) and collects their reports.
    static func launch(ranks: Int, stage: Int, options: ScaleOptions) throws -> [ScaleRank.Report] {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("dancegrpo-scale-\(getpid())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let hostfile = folder.appendingPathComponent("hostfile.json")
        if ranks > 1 { try RingHostfile.loopback(count: ranks).write(to: hostfile) }
        let json = String(decoding: try JSONEncoder().encode(options), as: UTF8.self)
        let threads = max(1, ProcessInfo.processInfo.activeProcessorCount / ranks)
        fflush(nil)
        let started: [(Process, Pipe)] = try (0..<ranks).map { rank in
            let process = Process()
            process.executableURL = FluxProcesses.executable
            process.arguments = [ScaleRank.mode, String(stage), json]
            var environment = ProcessInfo.processInfo.environment
            if ranks > 1 {
                environment["MLX_RANK"] = String(rank)
                environment["MLX_HOSTFILE"] = hostfile.path
            }
            environment["OPENBLAS_NUM_THREADS"] = String(threads)
            process.environment = environment
            let pipe = Pipe()
            process.standardOutput = pipe
            try process.run()
            return (process, pipe)
        }
        // Every rank's output is read on its own thread, so no rank blocks on a full pipe while another is waited on.
        let outputs = RankOutputs(count: ranks)
        let handles = started.map { $0.1.fileHandleForReading }
        DispatchQueue.concurrentPerform(iterations: ranks) { rank in
            outputs.set(rank, handles[rank].readDataToEndOfFile())
        }
        var reports: [ScaleRank.Report] = []
        for (rank, (process, _)) in started.enumerated() {
            process.waitUntilExit()
            guard process.terminationStatus == 0,
                let line = String(decoding: outputs.data[rank], as: UTF8.self).split(separator: "\n").last,
                let report = try? JSONDecoder().decode(ScaleRank.Report.self, from: Data(line.utf8))
            else {
                started.forEach { if $0.0.isRunning { $0.0.terminate() } }
                throw FluxBenchSkipped(
                    "rank \(rank) of \(ranks) (stage \(stage)) failed with status \(process.terminationStatus)")
            }
            reports.append(report)
        }
        return reports
    }
}

/// The ranks' standard outputs, filled from several threads.
private final class RankOutputs: @unchecked Sendable {
    private(set) var data: [Data]
    private let lock = NSLock()

    init(count: Int) { data = Array(repeating: Data(), count: count) }

    func set(_ rank: Int, _ value: Data) {
        lock.lock()
        data[rank] = value
        lock.unlock()
    }
}
