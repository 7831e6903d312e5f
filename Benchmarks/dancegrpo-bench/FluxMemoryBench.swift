import Checkpoints
import Engine
import Foundation
import Models
import NN

/// `dancegrpo-bench flux-memory`: peak resident memory of `FluxTransformer2DModel.load(from:)` on sharded
/// checkpoints. Loading must stream tensors, so the peak should exceed the process's baseline by about the model's
/// size, not twice it. Each checkpoint is written, and each load measured, in a fresh child process (this benchmark
/// re-run in a hidden mode), so neither the writer's memory nor an earlier load's shows in a measurement.
enum FluxMemoryBench {
    /// A checkpoint to write: a config and the largest shard.
    struct Checkpoint {
        var name: String
        var config: FluxConfig
        var maxShardBytes: Int
    }

    /// One measurement: a checkpoint loaded into weights of `dtype` (nil: the checkpoint's own, float32).
    struct Case {
        var checkpoint: Checkpoint
        var dtype: DType?
        var variant = Variant.library

        var label: String {
            checkpoint.name + (dtype.map { " → \($0)" } ?? "") + (variant == .library ? "" : " (\(variant.rawValue))")
        }
        var childArguments: [String] {
            [variant == .convertEachTensor ? "load-converting" : "load"] + (dtype.map { [$0.description] } ?? [])
        }
    }

    /// How the loader child loads. The two diagnostics isolate the causes of memory beyond the model's size.
    enum Variant: String {
        /// `FluxTransformer2DModel.load(from:dtype:)`, what the trainer uses.
        case library
        /// The same with glibc's mmap threshold pinned at 128 KiB: each tensor's temporary read buffer is then
        /// mapped and unmapped instead of coming from (and staying in) the malloc heap.
        case pinnedMmapThreshold = "glibc mmap threshold 128 KiB"
        /// Each tensor read, converted to `dtype` and evaluated before the next is read, then loaded as a dictionary:
        /// what `Module.load(..., dtype:)` would do if it evaluated each conversion.
        case convertEachTensor = "each tensor converted as read"

        var environment: [String: String] {
            self == .pinnedMmapThreshold ? ["MALLOC_MMAP_THRESHOLD_": "\(128 << 10)"] : [:]
        }
    }

    /// The golden test's config (tools/goldens/flux_transformer.py).
    static let tiny: Checkpoint = {
        var c = FluxConfig()
        c.inChannels = 16
        c.numLayers = 2
        c.numSingleLayers = 2
        c.attentionHeadDim = 8
        c.numAttentionHeads = 2
        c.jointAttentionDim = 32
        c.pooledProjectionDim = 24
        c.guidanceEmbeds = true
        c.axesDimsRope = [2, 2, 4]
        return Checkpoint(name: "tiny", config: c, maxShardBytes: 32 << 10)
    }()

    /// 2 double-stream + 6 single-stream blocks, 12 heads of 64 (inner 768): 100,080,960 parameters, 400 MB.
    static let medium: Checkpoint = {
        var c = FluxConfig()
        c.inChannels = 64
        c.numLayers = 2
        c.numSingleLayers = 6
        c.attentionHeadDim = 64
        c.numAttentionHeads = 12
        c.jointAttentionDim = 1024
        c.pooledProjectionDim = 256
        c.guidanceEmbeds = true
        c.axesDimsRope = [8, 28, 28]
        return Checkpoint(name: "medium", config: c, maxShardBytes: 100 << 20)
    }()

    static let checkpoints = [tiny, medium]
    static let cases = [
        Case(checkpoint: tiny), Case(checkpoint: medium), Case(checkpoint: medium, variant: .pinnedMmapThreshold),
        Case(checkpoint: medium, dtype: .bfloat16),
        Case(checkpoint: medium, dtype: .bfloat16, variant: .convertEachTensor)
    ]

    /// What the writer child reports.
    struct Written: Codable {
        var parameters: Int
        var bytes: Int
        var shards: Int
    }

    /// What the loader child reports.
    struct Loaded: Codable {
        var parameters: Int
        /// Bytes of the loaded weights (in the loaded dtype).
        var modelBytes: Int
        var baseline: FluxProcessMemory
        /// After `load(from:)` returned, before the parameters were evaluated.
        var afterLoad: FluxProcessMemory
        /// After every parameter was evaluated.
        var final: FluxProcessMemory
        /// The engine allocator's own peak (`Memory.peak`), bytes.
        var enginePeakBytes: Int
        var seconds: Double

        /// (peak − baseline) / model size: 1 means the load cost exactly the model's size.
        var overhead: Double {
            Double(final.highWaterKiB - baseline.residentKiB) * 1024 / Double(max(modelBytes, 1))
        }

        enum CodingKeys: String, CodingKey {
            case parameters, modelBytes = "model_bytes", baseline, afterLoad = "after_load", final
            case enginePeakBytes = "engine_peak_bytes", seconds
        }
    }

    struct Row {
        var label: String
        var written: Written
        var loaded: Loaded
    }

    // MARK: parent

    static func run(keepFiles: Bool) -> Int32 {
        let root = FileManager.default.temporaryDirectory
            .appendingPathComponent("dancegrpo-flux-memory-\(ProcessInfo.processInfo.processIdentifier)")
        defer { if !keepFiles { try? FileManager.default.removeItem(at: root) } }
        var written: [String: Written] = [:]
        for checkpoint in checkpoints {
            let folder = root.appendingPathComponent(checkpoint.name)
            let result: Result<Written, FluxBenchSkipped> = child(["write", checkpoint.name, folder.path])
            switch result {
            case .success(let w):
                written[checkpoint.name] = w
                print(
                    "wrote \(checkpoint.name): \(w.parameters) parameters, \(w.bytes) bytes in \(w.shards) shard(s) "
                        + "under \(folder.path)")
            case .failure(let why):
                FileHandle.standardError.write(Data("dancegrpo-bench flux-memory: \(why)\n".utf8))
                return 1
            }
        }
        var rows: [Row] = []
        for item in cases {
            let folder = root.appendingPathComponent(item.checkpoint.name)
            let result: Result<Loaded, FluxBenchSkipped> =
                child(
                    [item.childArguments[0], folder.path] + item.childArguments.dropFirst(),
                    environment: item.variant.environment)
            switch result {
            case .success(let loaded):
                rows.append(Row(label: item.label, written: written[item.checkpoint.name]!, loaded: loaded))
                print(
                    String(
                        format: """
                            loaded %@: peak − baseline = %.2f × the model's size
                            """, item.label, loaded.overhead))
            case .failure(let why):
                FileHandle.standardError.write(Data("dancegrpo-bench flux-memory: \(why)\n".utf8))
                return 1
            }
        }
        FluxReport.printMemory(rows)
        if keepFiles { print("\ncheckpoints kept under \(root.path)") }
        return 0
    }

    /// Runs `dancegrpo-bench flux-memory-child <arguments>` and decodes the JSON it prints.
    private static func child<T: Decodable>(_ arguments: [String], environment: [String: String] = [:])
        -> Result<T, FluxBenchSkipped>
    {
        guard
            let (status, output) = FluxProcesses.run(
                FluxProcesses.executable, [FluxModes.memoryChild] + arguments,
                environment: environment),
            status == 0
        else {
            return .failure(.init("child `\(arguments.joined(separator: " "))` failed (see its messages above)"))
        }
        do { return .success(try JSONDecoder().decode(T.self, from: output)) } catch {
            return .failure(.init("child `\(arguments.joined(separator: " "))` printed unreadable JSON: \(error)"))
        }
    }

    // MARK: children (hidden mode)

    /// `write <checkpoint> <folder>`, `load <folder> [dtype]` or `load-converting <folder> dtype`; prints one JSON
    /// object.
    static func runChild(_ arguments: [String]) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        switch arguments.first {
        case "write" where arguments.count == 3:
            guard let checkpoint = checkpoints.first(where: { $0.name == arguments[1] }) else {
                throw FluxBenchSkipped("unknown checkpoint \(arguments[1]) (known: \(checkpoints.map(\.name)))")
            }
            let written = try write(checkpoint, to: URL(fileURLWithPath: arguments[2]))
            print(String(decoding: try encoder.encode(written), as: UTF8.self))
        case "load" where arguments.count == 2 || arguments.count == 3,
            "load-converting" where arguments.count == 3:
            var dtype: DType?
            if arguments.count == 3 {
                guard let d = DType.allCases.first(where: { $0.description == arguments[2] }) else {
                    throw FluxBenchSkipped("unknown dtype \(arguments[2])")
                }
                dtype = d
            }
            let loaded = try load(
                URL(fileURLWithPath: arguments[1]), dtype: dtype,
                convertingEachTensor: arguments[0] == "load-converting")
            print(String(decoding: try encoder.encode(loaded), as: UTF8.self))
        default:
            throw FluxBenchSkipped(
                "usage: \(FluxModes.memoryChild) write <checkpoint> <folder> | load <folder> [dtype] "
                    + "| load-converting <folder> <dtype>")
        }
    }

    /// config.json and random float32 weights saved as shards with an index, the diffusers layout.
    static func write(_ checkpoint: Checkpoint, to folder: URL) throws -> Written {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(checkpoint.config).write(to: folder.appendingPathComponent("config.json"))
        let model = FluxTransformer2DModel(checkpoint.config, dtype: .float32, key: RandomKey(seed: 0))
        let tensors = model.checkpointTensors()
        eval(Array(tensors.values))
        try SafeTensorsCheckpoint.save(
            tensors, to: folder, name: "diffusion_pytorch_model",
            maxShardBytes: checkpoint.maxShardBytes)
        let shards = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter {
            $0.hasSuffix(".safetensors")
        }
        return Written(
            parameters: model.parameterCount(), bytes: tensors.values.reduce(0) { $0 + $1.nbytes },
            shards: shards.count)
    }

    static func load(_ folder: URL, dtype: DType?, convertingEachTensor: Bool) throws -> Loaded {
        guard let baseline = FluxProcessMemory.now() else {
            throw FluxBenchSkipped("/proc/self/status unreadable (Linux only)")
        }
        Memory.resetPeak()
        let start = DispatchTime.now().uptimeNanoseconds
        let model: FluxTransformer2DModel
        if convertingEachTensor, let dtype {
            model = FluxTransformer2DModel(try FluxConfig.load(folder), dtype: dtype)
            let checkpoint = try SafeTensorsCheckpoint(path: folder)
            var tensors: [String: Tensor] = [:]
            for key in checkpoint.keys {
                let converted = try checkpoint.tensor(key).asType(dtype)
                // Evaluated now, so the float32 copy is freed before the next tensor is read.
                eval(converted)
                tensors[key] = converted
            }
            try model.load(tensors, source: checkpoint.source)
        } else {
            model = try FluxTransformer2DModel.load(from: folder, dtype: dtype)
        }
        let afterLoad = FluxProcessMemory.now()!
        let parameters = Array(model.parameters().values)
        eval(parameters)
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        return Loaded(
            parameters: model.parameterCount(), modelBytes: parameters.reduce(0) { $0 + $1.nbytes },
            baseline: baseline, afterLoad: afterLoad, final: FluxProcessMemory.now()!,
            enginePeakBytes: Memory.peak, seconds: seconds)
    }
}
