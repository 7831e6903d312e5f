import ArgumentParser
import EmbeddedWorld
import Engine
import Foundation
import GRPO
import Models
import Rewards
import Training

/// GRPO training of any model family through one trainer (`GRPOTrainer` over a `TrainingTask`). With no arguments:
/// the embedded default — the pretrained shapes-world model aligned to the rule-based scorer, with held-out
/// evaluation, logs, checkpoints, sample grids and the reward curve in the run folder.
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "GRPO fine-tuning (the embedded shapes world by default).",
        discussion: """
            Settings merge in layers, each overriding the ones before: the preset of --model (world: the embedded \
            world's; flux and sd: DanceGRPO's launch settings), the resumed run's config.json, the --config file (JSON \
            or YAML, our names or DanceGRPO's argument names), then these flags. Defaults shown are the world \
            preset's; \
            --dry-run prints every resolved setting with where it came from.
            """)

    @OptionGroup(title: "Model and data") var task: TaskFlags
    @OptionGroup(title: "Training") var trainer: TrainerFlags

    @Option(
        help:
            """
            A JSON or YAML file with any settings, by our names (learning_rate, learning-rate, learningRate) or \
            DanceGRPO's (num_generations, max_train_steps, use_hpsv2, …); flags override it.
            """
    )
    var config: String?

    @Option(
        help:
            """
            Continue a run from its newest checkpoint (a run folder) or from a checkpoint folder, with the settings in \
            the run's config.json (flags override them, e.g. --iterations to train longer).
            """
    )
    var resume: String?

    @Flag(
        help:
            """
            Start a new run in an output folder that holds another run's checkpoints, deleting them (without it such a \
            folder is refused).
            """
    )
    var overwrite = false

    @Option(
        help:
            """
            mlx.launch's JSON hostfile ({"hosts": [{"ssh": …, "ips": […]}, …]}, ports from 32323) or the ring \
            backend's own ([["ip:port"], …]): every rank's address. With --processes N this machine runs all N \
            ranks on those addresses; otherwise this process is rank MLX_RANK of them.
            """
    )
    var hostfile: String?

    @Option(
        help:
            """
            MLX distributed backend: \(DistributedBackend.allCases.map(\.rawValue).joined(separator: ", ")) (default: \
            the hostfile's, else any: the first that finds its launcher's environment; --processes uses ring).
            """
    )
    var backend: DistributedBackend?

    @Flag(
        help:
            """
            Print every resolved setting and where it came from, then exit (refusing what a run would refuse: \
            settings, the run folder, the checkpoint to resume).
            """
    )
    var dryRun = false

    /// The run's settings: preset < resumed run's config.json < --config < flags.
    func settings() throws -> RunSettings {
        var layers: [SettingsLayer] = []
        if let runConfig = try resumedRunFolder().map({ $0.appendingPathComponent("config.json") }),
            FileManager.default.fileExists(atPath: runConfig.path)
        {
            var layer = try SettingsLayer.file(runConfig)
            // Runs written before emaDecay was always stored had no EMA when the key is missing.
            if layer.values["emaDecay"] == nil { layer.values["emaDecay"] = 0 }
            layers.append(layer)
        }
        if let config { layers.append(try SettingsLayer.file(URL(fileURLWithPath: config))) }
        layers.append(SettingFlags.layer([task, trainer]))
        // The family (and for sd the checkpoint) decides the preset; the task's settings do not depend on it, so
        // a first pass over the layers finds them with the same merge and the same errors.
        let task = try RunSettings.resolve(preset: .world, presetName: "world", layers: layers).task
        let (preset, name) = try Self.preset(task)
        var taskPreset = TaskSettings()
        if task.model == .wan {
            // DanceGRPO's Wan script samples 512 × 512.
            (taskPreset.height, taskPreset.width) = (512, 512)
        }
        if task.model == .hunyuanVideo {
            // DanceGRPO's HunyuanVideo script samples 53 frames of 480 × 480 (--t, --h, --w), and its reward scores
            // the whole video.
            (taskPreset.height, taskPreset.width, taskPreset.numFrames) = (480, 480, 53)
            taskPreset.rewardFrames = .all
        }
        if task.model == .skyreelsI2V {
            // DanceGRPO's SkyReels script samples 53 frames of 640 × 400 (--t, --w, --h).
            (taskPreset.height, taskPreset.width, taskPreset.numFrames) = (400, 640, 53)
        }
        if task.model == .qwenImageEdit {
            // DanceGRPO's Qwen-Image-Edit script samples 512 × 512 (--h, --w) whatever the condition image's size.
            (taskPreset.height, taskPreset.width) = (512, 512)
        }
        let resolved = try RunSettings.resolve(
            preset: preset, presetName: name, layers: layers, taskPreset: taskPreset)
        // Checked here too, so that --dry-run and a run refuse the same settings before any model loads.
        try resolved.validate()
        return resolved
    }

    static func preset(_ task: TaskSettings) throws -> (GRPOTrainer.Config, String) {
        switch task.model {
        case .world:
            return try isMovingShapesWorld(task) ? (.movingShapesWorld, "world (moving shapes)") : (.world, "world")
        case .flux: return (.flux, "flux")
        case .wan: return (.wan, "wan")
        case .qwenImage: return (.qwenImage, "qwen-image")
        case .qwenImageEdit: return (.qwenImageEdit, "qwen-image-edit")
        case .hunyuanVideo: return (.hunyuanVideo, "hunyuan-video")
        case .skyreelsI2V: return (.skyreelsI2V, "skyreels-i2v")
        case .sd:
            return try isEmbeddedStableDiffusion(task.checkpoint)
                ? (.unetWorld, "sd (embedded UNet world)") : (.stableDiffusion, "sd")
        }
    }

    /// The task the settings name, loaded from its checkpoint (and embeddings for FLUX).
    static func makeTask(_ settings: TaskSettings) throws -> TrainingTask {
        switch settings.model {
        case .world:
            if try isMovingShapesWorld(settings) {
                return MovingShapesWorldTask(
                    model: try MovingShapesWorldModel.load(
                        from: URL(fileURLWithPath: settings.checkpoint ?? WorldName.movingShapes.defaultModelFolder)))
            }
            return WorldTask(
                model: try WorldModel.load(
                    from: URL(fileURLWithPath: settings.checkpoint ?? WorldName.shapes.defaultModelFolder)))
        case .flux:
            guard let checkpoint = settings.checkpoint else {
                throw ValidationError("--model flux needs --checkpoint (a diffusers FLUX folder, e.g. data/flux)")
            }
            guard let embeddings = settings.embeddings else {
                throw ValidationError(
                    "--model flux needs --embeddings (a cache from `dancegrpo preprocess`, e.g. data/rl_embeddings)")
            }
            print("loading FLUX from \(checkpoint) …")
            let pipeline = try FluxPipeline.load(
                from: URL(fileURLWithPath: checkpoint), dtype: .float32, loadTextEncoders: false)
            return try FluxTask(
                pipeline: pipeline, embeddings: URL(fileURLWithPath: embeddings), height: settings.height,
                width: settings.width, guidance: settings.fluxGuidance)
        case .wan:
            guard let checkpoint = settings.checkpoint else {
                throw ValidationError(
                    "--model wan needs --checkpoint (a diffusers Wan-2.1 folder, e.g. data/Wan2.1-T2V-1.3B-Diffusers)")
            }
            guard let embeddings = settings.embeddings else {
                throw ValidationError(
                    "--model wan needs --embeddings (a cache from `dancegrpo preprocess --model wan` or DanceGRPO's)")
            }
            print("loading Wan from \(checkpoint) …")
            let pipeline = try WanPipeline.load(from: URL(fileURLWithPath: checkpoint), dtype: .float32)
            return try WanTask(
                pipeline: pipeline, embeddings: URL(fileURLWithPath: embeddings), frames: settings.numFrames,
                height: settings.height, width: settings.width, rewardFrames: settings.rewardFrames)
        case .qwenImage:
            guard let checkpoint = settings.checkpoint else {
                throw ValidationError(
                    "--model qwen-image needs --checkpoint (a diffusers Qwen-Image folder, e.g. data/qwenimage)")
            }
            guard let embeddings = settings.embeddings else {
                throw ValidationError(
                    """
                    --model qwen-image needs --embeddings (a cache from `dancegrpo preprocess --model qwen-image` or \
                    DanceGRPO's)
                    """)
            }
            print("loading Qwen-Image from \(checkpoint) …")
            let networks = try QwenImageTask.loadNetworks(from: URL(fileURLWithPath: checkpoint), dtype: .float32)
            return try QwenImageTask(
                transformer: networks.transformer, vae: networks.vae, embeddings: URL(fileURLWithPath: embeddings),
                height: settings.height, width: settings.width)
        case .qwenImageEdit:
            guard let checkpoint = settings.checkpoint else {
                throw ValidationError(
                    """
                    --model qwen-image-edit needs --checkpoint (a diffusers Qwen-Image-Edit folder, e.g. \
                    data/qwenimage_edit)
                    """)
            }
            guard let embeddings = settings.embeddings else {
                throw ValidationError(
                    """
                    --model qwen-image-edit needs --embeddings (a cache from `dancegrpo preprocess --model \
                    qwen-image-edit` or DanceGRPO's)
                    """)
            }
            print("loading Qwen-Image-Edit from \(checkpoint) …")
            let networks = try QwenImageEditTask.loadNetworks(from: URL(fileURLWithPath: checkpoint), dtype: .float32)
            return try QwenImageEditTask(
                transformer: networks.transformer, vae: networks.vae, embeddings: URL(fileURLWithPath: embeddings),
                height: settings.height, width: settings.width)
        case .hunyuanVideo:
            guard let checkpoint = settings.checkpoint else {
                throw ValidationError(
                    "--model hunyuan-video needs --checkpoint (a diffusers HunyuanVideo folder, e.g. data/HunyuanVideo)"
                )
            }
            guard let embeddings = settings.embeddings else {
                throw ValidationError(
                    """
                    --model hunyuan-video needs --embeddings (a cache from `dancegrpo preprocess --model \
                    hunyuan-video` or DanceGRPO's)
                    """)
            }
            print("loading HunyuanVideo from \(checkpoint) …")
            let networks = try HunyuanVideoTask.loadNetworks(from: URL(fileURLWithPath: checkpoint), dtype: .float32)
            return try HunyuanVideoTask(
                transformer: networks.transformer, vae: networks.vae, embeddings: URL(fileURLWithPath: embeddings),
                frames: settings.numFrames, height: settings.height, width: settings.width,
                rewardFrames: settings.rewardFrames)
        case .skyreelsI2V:
            return try makeSkyReelsI2VTask(settings)
        case .sd:
            if try isEmbeddedStableDiffusion(settings.checkpoint) {
                let folder = settings.checkpoint ?? "assets/shapes-model-sd"
                return StableDiffusionWorldTask(
                    model: try StableDiffusionWorldModel.load(from: URL(fileURLWithPath: folder)), source: folder)
            }
            guard let checkpoint = settings.checkpoint else {
                throw ValidationError(
                    """
                    --model sd needs --checkpoint (a diffusers Stable Diffusion folder, e.g. data/stable-diffusion-v1-4)
                    """
                )
            }
            guard let promptFile = settings.promptFile else {
                throw ValidationError(
                    """
                    --model sd with a diffusers folder needs --prompt-file (one prompt per line, e.g. DanceGRPO's \
                    assets/prompts.txt)
                    """
                )
            }
            print("loading Stable Diffusion from \(checkpoint) …")
            return try StableDiffusionTask(
                folder: URL(fileURLWithPath: checkpoint), promptFile: URL(fileURLWithPath: promptFile),
                evaluationPromptFile: settings.evalPromptFile.map { URL(fileURLWithPath: $0) },
                resolution: settings.resolution)
        }
    }

    /// `--model world` on the moving-shapes world: `--world moving-shapes`, or a model folder whose world.json says
    /// its architecture is wan.
    static func isMovingShapesWorld(_ settings: TaskSettings) throws -> Bool {
        guard settings.model == .world else { return false }
        if settings.world == .movingShapes { return true }
        guard let checkpoint = settings.checkpoint else { return false }
        let url = URL(fileURLWithPath: checkpoint)
        guard FileManager.default.fileExists(atPath: url.appendingPathComponent("world.json").path) else {
            return false
        }
        return try WorldArchitecture.of(folder: url) == .wan
    }

    /// `--model sd` on the embedded UNet world model (no checkpoint, or a folder whose world.json says unet) rather
    /// than on a diffusers SD folder.
    static func isEmbeddedStableDiffusion(_ checkpoint: String?) throws -> Bool {
        guard let checkpoint else { return true }
        let url = URL(fileURLWithPath: checkpoint)
        guard FileManager.default.fileExists(atPath: url.appendingPathComponent("world.json").path) else {
            return false
        }
        return try WorldArchitecture.of(folder: url) == .unet
    }

    func run() throws {
        let settings = try settings()
        // Hostfile, backend and addresses are checked before the run folder or the model is touched.
        let ranks = try RankPlan.resolve(
            processes: settings.trainer.processes, hostfile: hostfile, backend: backend)
        let start = try RunStart.prepare(
            folder: outputFolder(settings), resume: try resumeSource(), settings: settings.trainer,
            overwrite: overwrite, dryRun: dryRun)
        if let checkpoint = start.checkpoint {
            try RunFolder.checkNetwork(
                of: checkpoint, networkFolder: settings.task.model == .sd ? "unet" : "transformer",
                lora: settings.trainer.loraRank > 0)
        }
        for warning in start.warnings {
            FileHandle.standardError.write(Data(("warning: " + TopLevelError.escaped(warning) + "\n").utf8))
        }
        if dryRun { print(try settings.describe()) }
        // Before any weights load: a plan that does not fit stops here, with the settings that would.
        try MemoryPlanReport.announce(settings: settings, ranks: ranks)
        if dryRun { return }
        if !Engine.usesOptimizedBLAS {
            print(
                """
                warning: matrix products run on the MLX wheel's reference BLAS (\(Engine.sgemmProvider)); install \
                libopenblas-dev and rebuild (make run) for ~30× faster training
                """
            )
        }
        let task = try Self.makeTask(settings.task)
        // Ranks: this process and the local ranks it starts (--processes), one rank of an outside launcher's run
        // (MLX_RANK, mpirun, torchrun's variables), or none.
        let (formed, localRanks) = try LocalRanks.group(for: ranks)
        let processGroup = try Self.sequenceParallel(formed, size: settings.trainer.spSize)
        let environment = ProcessInfo.processInfo.environment
        LocalRanks.shareCores(localWorldSize: Int(environment["LOCAL_WORLD_SIZE"] ?? "") ?? processGroup.worldSize)
        do {
            try train(task: task, settings: settings, start: start, processGroup: processGroup)
        } catch {
            localRanks?.abandon()
            throw error
        }
        try localRanks?.finish()
    }

    /// The run folder `--resume` names: the folder itself, or the run a checkpoint-*/ folder belongs to.
    func resumedRunFolder() throws -> URL? {
        try resumeSource().map { $0.checkpoint?.deletingLastPathComponent() ?? $0.runFolder }
    }

    /// What `--resume` names: a run folder, or one checkpoint folder of it.
    func resumeSource() throws -> (runFolder: URL, checkpoint: URL?)? {
        guard let resume else { return nil }
        let url = URL(fileURLWithPath: resume)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw ValidationError("--resume \(resume): no such folder")
        }
        let isCheckpoint = FileManager.default.fileExists(atPath: url.appendingPathComponent("trainer_state.json").path)
        return isCheckpoint ? (url.deletingLastPathComponent(), url) : (url, nil)
    }

    /// The folder the run writes: --output-dir, the resumed run's folder, or runs/<world>-grpo.
    func outputFolder(_ settings: RunSettings) throws -> URL {
        let world: WorldName = try Self.isMovingShapesWorld(settings.task) ? .movingShapes : .shapes
        return try settings.task.outputDir.map { URL(fileURLWithPath: $0) } ?? resumedRunFolder()
            ?? URL(fileURLWithPath: "runs/\(world.rawValue)-grpo")
    }

    /// The task's rewards, and the shapes world's rule-based ones for any task (a prompt file of shapes-world
    /// prompts can train a diffusers model against them).
    static func rewardCatalog(of task: TrainingTask) -> RewardCatalog {
        var catalog = task.rewardCatalog
        catalog.registerShapesRewards()
        return catalog
    }

    /// One rank's run: the library loop, observed on rank 0 by the run log and the progress display.
    /// The formed group with `--sp-size` consecutive ranks holding each sample (checked against the process count).
    static func sequenceParallel(_ group: ProcessGroup, size: Int) throws -> ProcessGroup {
        guard size > 1 else { return group }
        guard let distributed = group as? DistributedProcessGroup, group.worldSize % size == 0 else {
            throw TrainerError.invalidSetting(
                "--sp-size \(size): needs a process count that is a multiple of it (this run has \(group.worldSize) "
                    + "process\(group.worldSize == 1 ? "" : "es"); --processes N or a launcher's ranks)")
        }
        return DistributedProcessGroup(distributed.group, gradientShares: size)
    }

    private func train(task: TrainingTask, settings: RunSettings, start: RunStart, processGroup: ProcessGroup) throws {
        let main = processGroup.isMain
        let trainer = try GRPOTrainer(
            task: task, config: settings.trainer, runFolder: start.folder, processGroup: processGroup,
            rewardLocations: RewardLocations(directory: URL(fileURLWithPath: settings.task.rewardDir)),
            rewardCatalog: Self.rewardCatalog(of: task))
        let log = main ? try RunLog(folder: start.folder, resuming: start.checkpoint != nil) : nil
        if let from = start.checkpoint {
            try trainer.resume(from: from)
            try log?.truncate(after: trainer.iteration)
            if main { print("resumed from \(from.path) at iteration \(trainer.iteration)") }
        }
        var observers: [any TrainingObserver] = []
        if let log { observers += [log, TrainingProgress(summary: task.summary, folder: start.folder, log: log)] }
        try trainer.run(timeBudgetMinutes: settings.task.timeBudget, observers: observers)
    }
}

extension DistributedBackend: ExpressibleByArgument {}
