import ArgumentParser
import EmbeddedWorld
import Engine
import Foundation
import GRPO
import Imaging
import Models
import Rewards
import Training

/// GRPO training of any model family through one trainer (`GRPOTrainer` over a `TrainingTask`). With no arguments:
/// the embedded default — the pretrained shapes-world model aligned to the rule-based scorer, with held-out
/// evaluation, logs, checkpoints, sample grids and the reward curve in the run folder.
struct TrainCommand: ParsableCommand {
    /// The defaults `--help` prints: the embedded world's (`--model world`, the default model).
    static let defaults = GRPOTrainer.Config.world
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "GRPO fine-tuning (the embedded shapes world by default).",
        discussion: """
        Defaults shown are the embedded world's. --model flux starts from the seed's FLUX settings (T 16, η 0.3, \
        12 samples per prompt, clip 1e-4, lr 1e-5, hpsv2.1), --model sd from its Stable Diffusion v1.4 settings \
        (DDIM 50 steps, η 1, CFG 5, 4 prompts × 16, clip 1e-4, fraction 1, per-prompt statistics, hpsv2.1); \
        --model sd without --checkpoint trains the embedded UNet world model (assets/shapes-model-sd) with the world's \
        settings and DDIM η 1. A --config file and flags override any of them.
        """)

    @Option(help: "Model: world (the embedded shapes-world model), flux (a diffusers FLUX folder + --embeddings), sd (a diffusers Stable Diffusion v1 folder + --prompt-file, or the embedded UNet world model).")
    var model = "world"

    @Option(help: "Model folder: the embedded model (from `dancegrpo pretrain`), a diffusers FLUX folder, or for sd a diffusers SD folder or the embedded UNet model (default assets/shapes-model for world, assets/shapes-model-sd for sd).")
    var checkpoint: String?

    @Option(help: "SD: prompts, one per line (DanceGRPO's assets/prompts.txt); shuffled per epoch.") var promptFile: String?
    @Option(help: "SD: evaluation prompts, one per line (default: the first prompts of --prompt-file).") var evalPromptFile: String?
    @Option(help: "SD: image side in pixels (the seed trains at 512: 64×64×4 latents).") var resolution = 512

    @Option(help: "FLUX: the prompt-embedding cache written by `dancegrpo preprocess` (videos2caption.json + tensors).")
    var embeddings: String?

    @Option(help: "FLUX: image height in pixels (the seed trains at 720).") var height = 720
    @Option(help: "FLUX: image width in pixels.") var width = 720
    @Option(help: "FLUX: value of FLUX.1-dev's distilled guidance embedding (the seed's 3.5).") var fluxGuidance: Float = 3.5

    @Option(help: "Run folder for logs, checkpoints and pictures (default: runs/shapes-grpo, or with --resume the resumed run's folder).")
    var outputDir: String?

    @Option(help: "A JSON file with any of the settings below (snake_case or the flag names); flags override it.")
    var config: String?

    @Option(help: "Where reward-model checkpoints live, in the seed's layout (hps_ckpt/HPS_v2.1_compressed.pt, hps_ckpt/open_clip_pytorch_model.bin, PickScore_v1/, …).")
    var rewardDir = "."

    @Option(help: "Continue a run from its newest checkpoint (a run folder) or from a checkpoint folder, with the settings in the run's config.json (flags given here override them, e.g. --iterations to train longer).")
    var resume: String?

    @Option(help: "Stop after this many minutes even if iterations remain (0: no limit).")
    var timeBudget: Double = 0

    @Option(help: "GRPO iterations (rollout + update) (default \(Self.defaults.iterations)).") var iterations: Int?
    @Option(help: "Prompts per iteration (B) (default \(Self.defaults.promptsPerIteration)).") var promptsPerIteration: Int?
    @Option(help: "Trajectories per prompt (G) (default \(Self.defaults.numGenerations)).") var numGenerations: Int?
    @Option(help: "Denoising steps T (default \(Self.defaults.samplingSteps)).") var samplingSteps: Int?
    @Option(help: "Time shift of the sigma schedule (default \(Self.defaults.shift)).") var shift: Float?
    @Option(help: "Noise scale η of the Dance SDE (default \(Self.defaults.eta)).") var eta: Float?
    @Option(help: "AdamW learning rate (default \(Self.defaults.learningRate)).") var learningRate: Double?
    @Option(help: "Learning-rate schedule over the run's optimizer steps: constant, constant_with_warmup, linear or cosine (to 0 at the last step) (default \(Self.defaults.lrScheduler)).") var lrScheduler: String?
    @Option(help: "Optimizer steps of linear warm-up from 0 (default \(Self.defaults.lrWarmupSteps)).") var lrWarmupSteps: Int?
    @Option(help: "AdamW weight decay (default \(Self.defaults.weightDecay)).") var weightDecay: Double?
    @Option(help: "AdamW β₁, the decay of the gradient's running mean (default \(Self.defaults.adamBeta1)).") var adamBeta1: Double?
    @Option(help: "AdamW β₂, the decay of the squared gradient's running mean (default \(Self.defaults.adamBeta2)).") var adamBeta2: Double?
    @Option(help: "AdamW ε (default \(Self.defaults.adamEpsilon)).") var adamEpsilon: Double?
    @Option(help: "PPO clip range ε (default \(Self.defaults.clipRange)).") var clipRange: Float?
    @Option(help: "Advantage clip (default \(Self.defaults.advantageClipMax)).") var advClipMax: Float?
    @Option(help: "Fraction of the T−1 transitions trained per sample (default \(Self.defaults.timestepFraction)).") var timestepFraction: Float?
    @Option(help: "Best-of-N (the seed's bestofn): train only the N/2 highest- and N/2 lowest-advantage samples of each prompt's group; gradient accumulation counts trained samples (0: all) (default \(Self.defaults.bestOfN)).") var bestOfN: Int?
    @Option(help: "Samples per optimizer step (default \(Self.defaults.gradientAccumulationSteps)).") var gradientAccumulationSteps: Int?
    @Option(help: "Samples per network call in the rollout (speed only: log-probs are the same; default \(Self.defaults.rolloutBatchSize)).") var rolloutBatchSize: Int?
    @Option(help: "Transitions per network call in training, across the samples of an optimizer step (speed only: gradients are the same; default \(Self.defaults.transitionBatchSize)).") var transitionBatchSize: Int?
    @Option(help: "Global gradient-norm clip (default \(Self.defaults.maxGradNorm)).") var maxGradNorm: Float?
    @Option(help: "Rewards with weights: \((EmbeddedReward.allCases.map(\.rawValue) + RewardRegistry.names).joined(separator: ", ")) (e.g. shapes,jpeg-compressibility:0.1) (default \(Self.defaults.rewards)).") var reward: String?
    @Option(help: "How several rewards combine: advantage (sum of per-reward advantages) or reward (advantage of the weighted sum) (default \(Self.defaults.rewardCombination)).") var rewardCombination: String?
    @Option(help: "Held-out evaluation every N iterations, 0: only before and after training (default \(Self.defaults.evalEvery)).") var evalEvery: Int?
    @Option(help: "Held-out prompts per evaluation (default \(Self.defaults.evalPrompts)).") var evalPrompts: Int?
    @Option(help: "Checkpoint every N iterations, 0: only after the last (default \(Self.defaults.checkpointEvery)).") var checkpointEvery: Int?
    @Option(help: "EMA decay of the transformer weights: evaluation and checkpoints use the average; 0: no EMA (default \(Self.defaults.emaDecay)).") var emaDecay: Double?
    @Option(help: "Stochastic sampler: dance-sde, flow-sde or cps; --eta is its noise level (default \(Self.defaults.sampler)).") var sampler: String?
    @Option(help: "MixGRPO: SDE window size in steps, ODE outside it (0: off) (default \(Self.defaults.mixWindowSize)).") var mixWindowSize: Int?
    @Option(help: "MixGRPO: steps the window moves per shift (default \(Self.defaults.mixWindowStride)).") var mixWindowStride: Int?
    @Option(help: "MixGRPO: iterations between window shifts (0: the window stays on the first steps) (default \(Self.defaults.mixItersPerShift)).") var mixItersPerShift: Int?
    @Flag(inversion: .prefixedNo, help: "MixGRPO: restart the window at the first step once it passes the end.") var mixRollBack: Bool?
    @Option(help: "KL penalty weight to the initial policy (Flow-GRPO's beta; 0: none) (default \(Self.defaults.beta)).") var beta: Float?
    @Option(help: "Classifier-free guidance scale in rollout and training, empty prompt as unconditional (1: off) (default \(Self.defaults.guidanceScale)).") var guidanceScale: Float?
    @Option(help: "Per-prompt reward statistics over this many past rewards per prompt instead of the group's (0: off) (default \(Self.defaults.perPromptStatBuffer)).") var perPromptStatBuffer: Int?
    @Option(help: "Rewards a prompt needs in its history before its own statistics are used (default \(Self.defaults.perPromptStatMinCount)).") var perPromptStatMinCount: Int?
    @Option(help: "LoRA rank (0: full fine-tuning) (default \(Self.defaults.loraRank)).") var loraRank: Int?
    @Option(help: "LoRA alpha (0: 2 × rank, as the seed's r=128/α=256).") var loraAlpha: Float?
    @Option(help: "Comma-separated module names the adapters attach to (default \(Self.defaults.loraTargets)).") var loraTargets: String?
    @Option(help: "Seed of prompts, noise and permutations (default \(Self.defaults.seed)).") var seed: UInt64?
    @Option(help: "Data-parallel processes on this machine (torchrun's --nproc_per_node): each runs the per-process batch below and the gradients are averaged at every optimizer step; N processes on C cores use C/N BLAS threads each (default \(Self.defaults.processes)).") var processes: Int?
    @Flag(inversion: .prefixedNo, help: "One initial noise for all samples of an iteration.") var initSameNoise: Bool?
    @Flag(inversion: .prefixedNo, help: "With --init-same-noise: one initial noise per prompt group instead of one for all prompts.") var initSameNoisePerPrompt: Bool?
    @Flag(inversion: .prefixedNo, help: "Normalise advantages per prompt group (else over the batch).") var useGroup: Bool?
    @Flag(inversion: .prefixedNo, help: "With --use-group: divide by the std of the whole batch's rewards instead of each group's (Flow-GRPO's global_std).") var globalStd: Bool?

    func settings() throws -> GRPOTrainer.Config {
        var c: GRPOTrainer.Config
        switch model {
        case "flux": c = .flux
        case "sd": c = try isEmbeddedStableDiffusion() ? .unetWorld : .stableDiffusion
        default: c = .world
        }
        if let runConfig = try resumedRunFolder().map({ $0.appendingPathComponent("config.json") }),
           FileManager.default.fileExists(atPath: runConfig.path) {
            // Earlier versions wrote no emaDecay key for a run without an EMA.
            c.emaDecay = 0
            c = try TrainConfigFile.read(runConfig.path, into: c)
        }
        if let config {
            c = try TrainConfigFile.read(config, into: c)
        }
        if let iterations { c.iterations = iterations }
        if let promptsPerIteration { c.promptsPerIteration = promptsPerIteration }
        if let numGenerations { c.numGenerations = numGenerations }
        if let samplingSteps { c.samplingSteps = samplingSteps }
        if let shift { c.shift = shift }
        if let eta { c.eta = eta }
        if let learningRate { c.learningRate = learningRate }
        if let lrScheduler { c.lrScheduler = lrScheduler }
        if let lrWarmupSteps { c.lrWarmupSteps = lrWarmupSteps }
        if let weightDecay { c.weightDecay = weightDecay }
        if let adamBeta1 { c.adamBeta1 = adamBeta1 }
        if let adamBeta2 { c.adamBeta2 = adamBeta2 }
        if let adamEpsilon { c.adamEpsilon = adamEpsilon }
        if let clipRange { c.clipRange = clipRange }
        if let advClipMax { c.advantageClipMax = advClipMax }
        if let timestepFraction { c.timestepFraction = timestepFraction }
        if let bestOfN { c.bestOfN = bestOfN }
        if let gradientAccumulationSteps { c.gradientAccumulationSteps = gradientAccumulationSteps }
        if let rolloutBatchSize { c.rolloutBatchSize = rolloutBatchSize }
        if let transitionBatchSize { c.transitionBatchSize = transitionBatchSize }
        if let maxGradNorm { c.maxGradNorm = maxGradNorm }
        if let reward { c.rewards = reward }
        if let rewardCombination { c.rewardCombination = rewardCombination }
        if let evalEvery { c.evalEvery = evalEvery }
        if let evalPrompts { c.evalPrompts = evalPrompts }
        if let checkpointEvery { c.checkpointEvery = checkpointEvery }
        if let emaDecay { c.emaDecay = emaDecay }  // range checked by GRPOTrainer, as a config file's value is
        if let sampler { c.sampler = sampler }
        if let mixWindowSize { c.mixWindowSize = mixWindowSize }
        if let mixWindowStride { c.mixWindowStride = mixWindowStride }
        if let mixItersPerShift { c.mixItersPerShift = mixItersPerShift }
        if let mixRollBack { c.mixRollBack = mixRollBack }
        if let beta { c.beta = beta }
        if let guidanceScale { c.guidanceScale = guidanceScale }
        if let perPromptStatBuffer { c.perPromptStatBuffer = perPromptStatBuffer }
        if let perPromptStatMinCount { c.perPromptStatMinCount = perPromptStatMinCount }
        if let loraRank { c.loraRank = loraRank }
        if let loraAlpha { c.loraAlpha = loraAlpha }
        if let loraTargets { c.loraTargets = loraTargets }
        if let seed { c.seed = seed }
        if let initSameNoise { c.initSameNoise = initSameNoise }
        if let initSameNoisePerPrompt { c.initSameNoisePerPrompt = initSameNoisePerPrompt }
        if let useGroup { c.useGroup = useGroup }
        if let globalStd { c.globalStd = globalStd }
        if let processes { c.processes = processes }
        guard c.processes >= 1 else { throw ValidationError("--processes must be at least 1, got \(c.processes)") }
        guard c.evalEvery >= 0, c.checkpointEvery >= 0 else {
            throw ValidationError("--eval-every and --checkpoint-every must be ≥ 0 (0: only after the last iteration), got \(c.evalEvery) and \(c.checkpointEvery)")
        }
        guard c.numGenerations >= 2 || !c.useGroup else { throw ValidationError("--num-generations must be at least 2 with group advantages") }
        guard c.rolloutBatchSize >= 1, c.transitionBatchSize >= 1 else {
            throw ValidationError("--rollout-batch-size and --transition-batch-size must be at least 1 (got \(c.rolloutBatchSize) and \(c.transitionBatchSize))")
        }
        return c
    }

    /// The task `--model` names, loaded from `--checkpoint` (and `--embeddings` for FLUX).
    func makeTask() throws -> TrainingTask {
        switch model {
        case "world":
            return WorldTask(model: try WorldModel.load(from: URL(fileURLWithPath: checkpoint ?? "assets/shapes-model")))
        case "flux":
            guard let checkpoint else { throw ValidationError("--model flux needs --checkpoint (a diffusers FLUX folder, e.g. data/flux)") }
            guard let embeddings else { throw ValidationError("--model flux needs --embeddings (a cache from `dancegrpo preprocess`, e.g. data/rl_embeddings)") }
            print("loading FLUX from \(checkpoint) …")
            let pipeline = try FluxPipeline.load(from: URL(fileURLWithPath: checkpoint), dtype: .float32, loadTextEncoders: false)
            return try FluxTask(pipeline: pipeline, embeddings: URL(fileURLWithPath: embeddings), height: height, width: width,
                                guidance: fluxGuidance)
        case "sd":
            if try isEmbeddedStableDiffusion() {
                let folder = checkpoint ?? "assets/shapes-model-sd"
                return StableDiffusionWorldTask(model: try StableDiffusionWorldModel.load(from: URL(fileURLWithPath: folder)), source: folder)
            }
            guard let checkpoint else { throw ValidationError("--model sd needs --checkpoint (a diffusers Stable Diffusion folder, e.g. data/stable-diffusion-v1-4)") }
            guard let promptFile else { throw ValidationError("--model sd with a diffusers folder needs --prompt-file (one prompt per line, e.g. DanceGRPO's assets/prompts.txt)") }
            print("loading Stable Diffusion from \(checkpoint) …")
            return try StableDiffusionTask(folder: URL(fileURLWithPath: checkpoint), promptFile: URL(fileURLWithPath: promptFile),
                                           evaluationPromptFile: evalPromptFile.map { URL(fileURLWithPath: $0) }, resolution: resolution)
        default:
            throw ValidationError("unknown model '\(model)' (available: world, flux, sd)")
        }
    }

    /// `--model sd` on the embedded UNet world model (no --checkpoint, or a folder whose world.json says unet)
    /// rather than on a diffusers SD folder.
    func isEmbeddedStableDiffusion() throws -> Bool {
        guard let checkpoint else { return true }
        let url = URL(fileURLWithPath: checkpoint)
        guard FileManager.default.fileExists(atPath: url.appendingPathComponent("world.json").path) else { return false }
        return try WorldArchitecture.of(folder: url) == .unet
    }

    func run() throws {
        let settings = try settings()
        if !Engine.usesOptimizedBLAS {
            print("warning: matrix products run on the MLX wheel's reference BLAS (\(Engine.sgemmProvider)); install libopenblas-dev and rebuild (make run) for ~30× faster training")
        }
        let task = try makeTask()
        // Ranks: started by an outside launcher (WORLD_SIZE in the environment), by this process (--processes), or none.
        let environment = ProcessInfo.processInfo.environment
        let localRanks = environment["WORLD_SIZE"] == nil && settings.processes > 1 ? try LocalRanks.start(count: settings.processes) : nil
        let processGroup = try localRanks?.group ?? processGroupFromEnvironment()
        LocalRanks.shareCores(localWorldSize: Int(environment["LOCAL_WORLD_SIZE"] ?? "") ?? processGroup.worldSize)
        do {
            try train(task: task, settings: settings, processGroup: processGroup)
        } catch {
            localRanks?.abandon()
            throw error
        }
        try localRanks?.finish()
    }

    /// The run folder `--resume` names: the folder itself, or the run a checkpoint-*/ folder belongs to.
    func resumedRunFolder() throws -> URL? {
        guard let resume else { return nil }
        let url = URL(fileURLWithPath: resume)
        guard FileManager.default.fileExists(atPath: url.path) else { throw ValidationError("--resume \(resume): no such folder") }
        let isCheckpoint = FileManager.default.fileExists(atPath: url.appendingPathComponent("trainer_state.json").path)
        return isCheckpoint ? url.deletingLastPathComponent() : url
    }

    /// The training loop of one rank; rank 0 alone evaluates and writes logs, pictures and checkpoints.
    private func train(task: TrainingTask, settings: GRPOTrainer.Config, processGroup: ProcessGroup) throws {
        let folder = try outputDir.map { URL(fileURLWithPath: $0) } ?? resumedRunFolder() ?? URL(fileURLWithPath: "runs/shapes-grpo")
        let main = processGroup.isMain
        let trainer = try GRPOTrainer(task: task, config: settings, runFolder: folder, processGroup: processGroup,
                                       rewardLocations: RewardLocations(directory: URL(fileURLWithPath: rewardDir)))
        var log = main ? try RunLog(folder: folder, resuming: resume != nil) : nil
        if let resume {
            let url = URL(fileURLWithPath: resume)
            guard let from = FileManager.default.fileExists(atPath: url.appendingPathComponent("trainer_state.json").path)
                    ? url : GRPOTrainer.latestCheckpoint(in: url) else {
                throw ValidationError("\(resume): no checkpoint-*/ folder with trainer_state.json to resume from")
            }
            try trainer.resume(from: from)
            try log?.truncate(after: trainer.iteration)
            if main { print("resumed from \(from.path) at iteration \(trainer.iteration)") }
        }
        // On resume too: the settings the run continues with (a longer --iterations, say) are the next resume's.
        try log?.writeConfig(settings)
        try log?.startTensorBoard(resumingAt: resume != nil ? trainer.iteration : nil)
        if main {
            let ranks = processGroup.worldSize > 1 ? " in each of \(processGroup.worldSize) processes" : ""
            print("GRPO on \(task.summary): \(settings.promptsPerIteration) prompts × \(settings.numGenerations) samples\(ranks), T=\(settings.samplingSteps), η=\(settings.eta), lr \(settings.learningRate), \(settings.iterations) iterations → \(folder.path)")
        }

        let started = Date()
        if trainer.iteration == 0 {
            let before = try trainer.evaluate()
            if main {
                try log?.record(evaluation: before, at: 0)
                let grid = try before.grid()
                try PNGEncoder.write(grid, to: folder.appendingPathComponent("samples-before.png"))
                try log?.record(grid: grid, at: 0)
                print("held-out before training: " + describe(before))
            }
        }
        let bar = main ? ProgressBar(total: settings.iterations, label: "GRPO") : nil
        var latest: (iteration: Int, result: Evaluation.Result)? = nil
        var checkpointed = trainer.iteration
        func due(_ every: Int) -> Bool { (every > 0 && trainer.iteration % every == 0) || trainer.iteration == settings.iterations }
        while trainer.iteration < settings.iterations {
            if timeBudget > 0 {
                // Rank 0's clock decides for every rank, so that all stop after the same iteration.
                let over = Date().timeIntervalSince(started) > timeBudget * 60
                if try processGroup.allGather([over ? 1 : 0])[0] == 1 {
                    if main { print("time budget of \(timeBudget) min reached") }
                    break
                }
            }
            var entry = try trainer.step()
            if due(settings.checkpointEvery) {
                try trainer.checkRanksAgree()
                checkpointed = trainer.iteration  // rank 0 writes it below
            }
            if due(settings.evalEvery) { latest = (trainer.iteration, try trainer.evaluate()) }
            guard main else { continue }
            if let (at, result) = latest, at == trainer.iteration {
                entry.heldOutReward = result.meanReward
                entry.heldOutAccuracy = result.accuracy
                try log?.record(evaluation: result, at: trainer.iteration)
                let grid = try result.grid()
                try PNGEncoder.write(grid, to: folder.appendingPathComponent("samples-latest.png"))
                try log?.record(grid: grid, at: trainer.iteration)
            }
            try log?.append(entry)
            if due(settings.checkpointEvery) {
                try trainer.saveCheckpoint()
            }
            let held = log?.lastHeldOut.map { String(format: " held-out %.3f", $0) } ?? ""
            bar?.update(trainer.iteration, suffix: String(format: "reward %.3f%@", entry.reward, held))
        }
        // A time budget can stop the run between checkpoints and evaluations: checkpoint the last iteration, and
        // evaluate it unless that was done.
        if trainer.iteration != checkpointed {
            try trainer.checkRanksAgree()
            if main { try trainer.saveCheckpoint() }
        }
        let final = latest?.iteration == trainer.iteration ? latest!.result : try trainer.evaluate()
        guard main, let log else { return }
        try log.writePlots()
        try PNGEncoder.write(try final.grid(), to: folder.appendingPathComponent("samples-after.png"))
        print("held-out after \(trainer.iteration) iterations: " + describe(final) + " (\(formatDuration(Date().timeIntervalSince(started))))")
        print("run folder \(folder.path): reward.txt, metrics.jsonl, eval.jsonl, reward_curve.png, samples-before.png, samples-after.png, checkpoint-*/, TensorBoard events (tensorboard --logdir \(folder.path))")
    }

    private func describe(_ result: Evaluation.Result) -> String {
        let each = result.rewardMeans.count > 1
            ? " (" + result.rewardMeans.sorted { $0.key < $1.key }.map { String(format: "%@ %.3f", $0.key, $0.value) }.joined(separator: ", ") + ")"
            : ""
        return String(format: "reward %.3f", result.meanReward) + each
            + (result.accuracy.map { String(format: ", accuracy %.1f%%", 100 * $0) } ?? "")
    }
}
