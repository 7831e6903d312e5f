import EmbeddedWorld
import Engine
import Foundation
import GRPO
import NN
import Training

/// Each rank's memory plan of a run (``MemoryPlan``), made before any weights load: parameter counts from the model
/// folder's safetensors headers, activations from its configs, the device's size from the GPU hook or RAM. Printed by
/// `train --dry-run` and at the start of every run (rank 0); a plan over the device's memory stops the run with the
/// settings that would fit.
struct MemoryPlanReport {
    var plan: MemoryPlan
    /// The same run with LoRA adapters of the seed's recipe (rank 128) as the trained parameters, when it trains every
    /// weight.
    var lora: MemoryPlan.Inputs?
    var device: DeviceMemory

    /// The rank of the seed's LoRA recipe (DanceGRPO's LoRA FLUX script).
    static let suggestedLoRARank = 128

    /// The plan of `settings` at `worldSize` ranks, or nil when the model folder has no readable weights (loading
    /// the model then reports what is wrong with it).
    static func make(settings: RunSettings, worldSize: Int, environment: [String: String]) throws -> MemoryPlanReport? {
        guard let model = try ModelFolder.of(settings.task) else { return nil }
        let network = model.folder.appendingPathComponent(model.network)
        guard let inventory = try? ParameterInventory(checkpoint: network) else { return nil }
        let frozen = model.frozen.compactMap {
            try? ParameterInventory(checkpoint: model.folder.appendingPathComponent($0)).count
        }.reduce(0, +)
        let trainer = settings.trainer
        var inputs = MemoryPlan.Inputs(trainableParameters: inventory.count)
        inputs.largestUnitParameters = inventory.largestUnit
        // Text encoders and the VAE load in float32.
        inputs.frozenBytes = 4 * frozen
        inputs.worldSize = worldSize
        inputs.zeroStage = trainer.zeroStage
        inputs.computeDType = Self.computeDType(trainer.mixedPrecision)
        inputs.ema = trainer.emaDecay > 0
        inputs.reference = trainer.beta > 0
        inputs.gradientCheckpointing = trainer.gradientCheckpointing
        let branches = trainer.guidanceScale != 1 ? 2 : 1
        // A training call holds at most one optimizer window's rows: accumulation × K transitions.
        let k = Int((Float(max(1, trainer.samplingSteps - 1)) * trainer.timestepFraction).rounded(.down))
        inputs.transitionsPerCall =
            branches * max(1, min(trainer.transitionBatchSize, trainer.gradientAccumulationSteps * max(1, k)))
        inputs.rolloutBatch =
            branches * max(1, min(trainer.rolloutBatchSize, trainer.promptsPerIteration * trainer.numGenerations))
        // A config the estimate cannot read is left to the model's loader to report; the plan then says it has no
        // activation estimate.
        inputs.activations = (try? model.task.activationEstimate(folder: model.folder, settings: settings.task))?
            .sequenceParallel(trainer.spSize)
        let base = inputs
        if trainer.loraRank > 0 {
            inputs = withLoRA(base, inventory, rank: trainer.loraRank, settings: trainer)
        }
        return MemoryPlanReport(
            plan: MemoryPlan(inputs),
            lora: trainer.loraRank > 0 ? nil : withLoRA(base, inventory, rank: suggestedLoRARank, settings: trainer),
            device: try DeviceMemory.current(environment: environment))
    }

    /// `inputs` training LoRA adapters of `rank` on the run's targets, the base frozen (held in the compute dtype,
    /// as the LoRA recipe loads it).
    static func withLoRA(
        _ inputs: MemoryPlan.Inputs, _ inventory: ParameterInventory, rank: Int, settings: GRPOTrainer.Config
    )
        -> MemoryPlan.Inputs
    {
        let config = LoRAConfig(rank: rank, alpha: Float(2 * rank), targetModules: settings.loraTargets.modules)
        let (trainable, unit) = inventory.withLoRA(config)
        var changed = inputs
        changed.trainableParameters = trainable
        changed.largestUnitParameters = unit
        changed.frozenBytes += inventory.count * inputs.computeDType.size
        return changed
    }

    static func computeDType(_ precision: MixedPrecision) -> DType {
        switch precision {
        case .no: return .float32
        case .bf16: return .bfloat16
        case .fp16: return .float16
        }
    }

    /// Prints the run's plan on rank 0 (or that there is none) and refuses a plan that does not fit, on every rank.
    static func announce(
        settings: RunSettings, ranks: RankPlan,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws {
        let (worldSize, rank) = ranks.planRanks(processes: settings.trainer.processes, environment: environment)
        guard let report = try make(settings: settings, worldSize: worldSize, environment: environment) else {
            if rank == 0 { print("memory plan: none (no safetensors weights in the model folder to count)") }
            return
        }
        try report.check()
        if rank == 0 { print(report.table) }
    }

    var fits: Bool { plan.fits(device.bytes) }

    /// The table, with the device's memory on the total line.
    var table: String { plan.table(device: device) }

    /// Throws the refusal, with the settings that would fit, when the plan does not fit.
    func check() throws {
        guard !fits else { return }
        let options = plan.alternatives(
            fitting: device.bytes, lora: lora, loraChange: "--lora-rank \(Self.suggestedLoRARank)")
        var lines = [
            """
            the memory plan needs \(MemoryPlan.gibibytes(plan.total)) per rank, more than the \
            \(MemoryPlan.gibibytes(device.bytes)) of the device (\(device.source)):
            """,
            table
        ]
        if options.isEmpty {
            lines.append(
                "no change of ranks (up to \(MemoryPlan.maxSuggestedRanks)), ZeRO stage, checkpointing, precision or "
                    + "LoRA fits")
        } else {
            lines.append("settings that would fit:")
            lines += options.map { "  \($0.change): \(MemoryPlan.gibibytes($0.plan.total)) per rank" }
        }
        throw MemoryPlanError.doesNotFit(report: lines.joined(separator: "\n"))
    }
}

/// Where a run's model lives, which subfolder trains, which stay frozen in memory, and the task type that estimates
/// its activations.
struct ModelFolder {
    var folder: URL
    var network: String
    var frozen: [String]
    var task: TrainingTask.Type

    /// Nil for FLUX without --checkpoint (the run refuses that itself).
    static func of(_ settings: TaskSettings) throws -> ModelFolder? {
        switch settings.model {
        case .world:
            if try TrainCommand.isMovingShapesWorld(settings) {
                let folder = URL(fileURLWithPath: settings.checkpoint ?? WorldName.movingShapes.defaultModelFolder)
                return ModelFolder(
                    folder: folder, network: "transformer", frozen: ["text_encoder"], task: MovingShapesWorldTask.self)
            }
            let folder = URL(fileURLWithPath: settings.checkpoint ?? WorldName.shapes.defaultModelFolder)
            return ModelFolder(
                folder: folder, network: "transformer", frozen: ["text_encoder", "vae"], task: WorldTask.self)
        case .flux:
            // The trainer loads no text encoders: prompts come from the embedding cache.
            return settings.checkpoint.map {
                ModelFolder(
                    folder: URL(fileURLWithPath: $0), network: "transformer", frozen: ["vae"], task: FluxTask.self)
            }
        case .wan:
            return settings.checkpoint.map {
                ModelFolder(
                    folder: URL(fileURLWithPath: $0), network: "transformer", frozen: ["vae"], task: WanTask.self)
            }
        case .qwenImage:
            // The trainer loads no text encoder: prompts come from the embedding cache.
            return settings.checkpoint.map {
                ModelFolder(
                    folder: URL(fileURLWithPath: $0), network: "transformer", frozen: ["vae"],
                    task: QwenImageTask.self)
            }
        case .qwenImageEdit:
            // Text and condition latents come from the cache: neither the text encoder nor the vision tower loads.
            return settings.checkpoint.map {
                ModelFolder(
                    folder: URL(fileURLWithPath: $0), network: "transformer", frozen: ["vae"],
                    task: QwenImageEditTask.self)
            }
        case .hunyuanVideo:
            // Text comes from the cache: neither Llama nor CLIP loads.
            return settings.checkpoint.map {
                ModelFolder(
                    folder: URL(fileURLWithPath: $0), network: "transformer", frozen: ["vae"],
                    task: HunyuanVideoTask.self)
            }
        case .skyreelsI2V:
            // Text comes from the cache; the FLUX reference model (frozen, not counted here) makes the first frames.
            return settings.checkpoint.map {
                ModelFolder(
                    folder: URL(fileURLWithPath: $0), network: "transformer", frozen: ["vae"],
                    task: SkyReelsI2VTask.self)
            }
        case .sd:
            if try TrainCommand.isEmbeddedStableDiffusion(settings.checkpoint) {
                let folder = URL(fileURLWithPath: settings.checkpoint ?? "assets/shapes-model-sd")
                return ModelFolder(
                    folder: folder, network: "unet", frozen: ["text_encoder", "vae"],
                    task: StableDiffusionWorldTask.self)
            }
            return settings.checkpoint.map {
                ModelFolder(
                    folder: URL(fileURLWithPath: $0), network: "unet", frozen: ["text_encoder", "vae"],
                    task: StableDiffusionTask.self)
            }
        }
    }
}

extension RankPlan {
    /// The run's ranks and this process's rank as far as the plan knows before the group forms.
    func planRanks(processes: Int, environment: [String: String]) -> (worldSize: Int, rank: Int) {
        switch role {
        case .single: return (1, 0)
        case .launcher(let count): return (count, 0)
        case .member(let rank):
            let size =
                hostfile?.ranks.count ?? Int(environment["WORLD_SIZE"] ?? "") ?? Int(
                    environment["OMPI_COMM_WORLD_SIZE"] ?? "") ?? processes
            return (max(1, size), rank ?? Int(environment["OMPI_COMM_WORLD_RANK"] ?? "") ?? 0)
        }
    }
}
