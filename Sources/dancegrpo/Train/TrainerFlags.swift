import ArgumentParser
import Rewards
import Training

/// The trainer's settings as flags, each optional: a flag given overrides the preset, the resumed run's config.json
/// and the `--config` file (`SettingFlags.layer` turns the given ones into a settings layer). The property names are
/// the settings' names.
struct TrainerFlags: ParsableArguments {
    static let defaults = GRPOTrainer.Config.world

    @Option(help: "GRPO iterations (rollout + update) (default \(Self.defaults.iterations)).") var iterations: Int?
    @Option(help: "Prompts per iteration and process (B) (default \(Self.defaults.promptsPerIteration)).")
    var promptsPerIteration: Int?
    @Option(help: "Trajectories per prompt (G) (default \(Self.defaults.numGenerations)).") var numGenerations: Int?
    @Option(help: "Denoising steps T (default \(Self.defaults.samplingSteps)).") var samplingSteps: Int?
    @Option(help: "Time shift of the sigma schedule (default \(Self.defaults.shift)).") var shift: Float?
    @Option(
        help:
            """
            The sampler's noise level: η (dance-sde, ddim), noise_level (flow-sde), η (cps) (default \
            \(Self.defaults.eta)).
            """
    )
    var eta: Float?
    @Option(help: "Stochastic sampler (default \(Self.defaults.sampler.rawValue)).") var sampler: SamplerKind?
    @Option(help: "AdamW learning rate (default \(Self.defaults.learningRate)).") var learningRate: Double?
    @Option(
        help:
            """
            Learning-rate schedule over the run's optimizer steps (linear and cosine end at 0) (default \
            \(Self.defaults.lrScheduler.rawValue)).
            """
    )
    var lrScheduler: LRSchedulerKind?
    @Option(help: "Optimizer steps of linear warm-up from 0 (default \(Self.defaults.lrWarmupSteps)).")
    var lrWarmupSteps: Int?
    @Option(help: "AdamW weight decay (default \(Self.defaults.weightDecay)).") var weightDecay: Double?
    @Option(help: "AdamW β₁ (default \(Self.defaults.adamBeta1)).") var adamBeta1: Double?
    @Option(help: "AdamW β₂ (default \(Self.defaults.adamBeta2)).") var adamBeta2: Double?
    @Option(help: "AdamW ε (default \(Self.defaults.adamEpsilon)).") var adamEpsilon: Double?
    @Option(help: "PPO clip range ε (default \(Self.defaults.clipRange)).") var clipRange: Float?
    @Option(
        name: [.customLong("adv-clip-max"), .customLong("advantage-clip-max")],
        help: "Advantage clip (default \(Self.defaults.advantageClipMax)).") var advantageClipMax: Float?
    @Option(help: "Fraction of the T−1 transitions trained per sample (default \(Self.defaults.timestepFraction)).")
    var timestepFraction: Float?
    @Option(
        help:
            """
            Best-of-N: train only the N/2 highest- and N/2 lowest-advantage samples of each group (0: all) (default \
            \(Self.defaults.bestOfN)).
            """
    )
    var bestOfN: Int?
    @Option(help: "Trained samples per optimizer step (default \(Self.defaults.gradientAccumulationSteps)).")
    var gradientAccumulationSteps: Int?
    @Option(help: "Samples per network call in the rollout (speed only) (default \(Self.defaults.rolloutBatchSize)).")
    var rolloutBatchSize: Int?
    @Option(
        help: "Transitions per network call in training (speed only) (default \(Self.defaults.transitionBatchSize)).")
    var transitionBatchSize: Int?
    @Option(help: "Global gradient-norm clip (default \(Self.defaults.maxGradNorm)).") var maxGradNorm: Float?
    @Option(
        name: [.customLong("reward"), .customLong("rewards")],
        help:
            """
            Rewards name[:weight],…: \(RewardCatalog.shapesWorld.names.joined(separator: ", ")) (default \
            \(Self.defaults.rewards)).
            """
    )
    var rewards: String?
    @Option(
        help:
            """
            How several rewards combine: advantage (sum of per-reward advantages) or reward (advantage of the weighted \
            sum) (default \(Self.defaults.rewardCombination.rawValue)).
            """
    )
    var rewardCombination: RewardCombination?
    @Option(
        help:
            """
            Held-out evaluation every N iterations, 0: only before and after training (default \
            \(Self.defaults.evalEvery)).
            """
    )
    var evalEvery: Int?
    @Option(help: "Held-out prompts per evaluation (default \(Self.defaults.evalPrompts)).") var evalPrompts: Int?
    @Option(help: "Checkpoint every N iterations, 0: only after the last (default \(Self.defaults.checkpointEvery)).")
    var checkpointEvery: Int?
    @Option(help: "Keep only the newest N checkpoints, 0: all (default \(Self.defaults.checkpointsTotalLimit)).")
    var checkpointsTotalLimit: Int?
    @Option(
        help:
            """
            EMA decay of the trained weights for evaluation and checkpoints (0: no EMA) (default \
            \(Self.defaults.emaDecay)).
            """
    )
    var emaDecay: Double?
    @Option(
        help: "MixGRPO: SDE window size in steps, ODE outside it (0: off) (default \(Self.defaults.mixWindowSize)).")
    var mixWindowSize: Int?
    @Option(help: "MixGRPO: steps the window moves per shift (default \(Self.defaults.mixWindowStride)).")
    var mixWindowStride: Int?
    @Option(help: "MixGRPO: iterations between window shifts (0: never) (default \(Self.defaults.mixItersPerShift)).")
    var mixItersPerShift: Int?
    @Flag(inversion: .prefixedNo, help: "MixGRPO: restart the window at the first step once it passes the end.")
    var mixRollBack: Bool?
    @Option(help: "KL penalty weight to the initial policy (0: none) (default \(Self.defaults.beta)).") var beta: Float?
    @Option(
        help:
            "Classifier-free guidance scale in rollout and training (1: off) (default \(Self.defaults.guidanceScale)).")
    var guidanceScale: Float?
    @Option(
        help:
            """
            Per-prompt reward statistics over this many past rewards per prompt (0: off) (default \
            \(Self.defaults.perPromptStatBuffer)).
            """
    )
    var perPromptStatBuffer: Int?
    @Option(
        help:
            """
            Rewards a prompt needs before its own statistics are used (default \(Self.defaults.perPromptStatMinCount)).
            """
    )
    var perPromptStatMinCount: Int?
    @Option(help: "LoRA rank (0: full fine-tuning) (default \(Self.defaults.loraRank)).") var loraRank: Int?
    @Option(help: "LoRA alpha (0: 2 × rank).") var loraAlpha: Float?
    @Option(help: "Comma-separated module names the adapters attach to (default \(Self.defaults.loraTargets)).")
    var loraTargets: LoRATargets?
    @Option(help: "Seed of prompts, noise and permutations (default \(Self.defaults.seed)).") var seed: UInt64?
    @Option(
        help:
            """
            Data-parallel processes on this machine; each runs the per-process batch (default \
            \(Self.defaults.processes)).
            """
    )
    var processes: Int?
    @Option(
        help:
            """
            Stop after this many optimizer steps in a row were skipped for non-finite rewards, losses, gradients or \
            weights (default \(Self.defaults.maxConsecutiveSkippedSteps)).
            """
    )
    var maxConsecutiveSkippedSteps: Int?
    @Flag(inversion: .prefixedNo, help: "Recompute block activations in the backward pass (less memory).")
    var gradientCheckpointing: Bool?
    @Option(
        help:
            """
            ZeRO stage with several processes: 0 replicated, 1 shards the optimizer state, 2 also the gradients, \
            3 also the parameters (FSDP full shard) (default \(Self.defaults.zeroStage)).
            """
    )
    var zeroStage: Int?
    @Option(
        name: .customLong("sp-size"),
        help:
            """
            Ulysses sequence parallelism: groups of this many processes share each sample, each running the \
            transformer on its share of the video tokens (hunyuan-video, skyreels-i2v, wan; the token count must \
            divide by it) (default \(Self.defaults.spSize)).
            """
    )
    var spSize: Int?
    @Option(
        help:
            """
            Compute dtype of the training passes: no (float32), bf16, fp16 (loss-scaled); master weights and optimizer \
            state stay float32 (default \(Self.defaults.mixedPrecision.rawValue)).
            """
    )
    var mixedPrecision: MixedPrecision?
    @Flag(inversion: .prefixedNo, help: "One initial noise for all samples of an iteration.") var initSameNoise: Bool?
    @Flag(inversion: .prefixedNo, help: "With --init-same-noise: one initial noise per prompt group.")
    var initSameNoisePerPrompt: Bool?
    @Flag(inversion: .prefixedNo, help: "Normalise advantages per prompt group (else over the batch).") var useGroup:
        Bool?
    @Flag(
        inversion: .prefixedNo,
        help: "With --use-group: divide by the whole batch's reward std (Flow-GRPO's global_std).")
    var globalStd: Bool?
}

/// What the run trains on and where it writes, as flags (each optional, overriding the other layers).
struct TaskFlags: ParsableArguments {
    @Option(
        help:
            """
            Model: world (the embedded shapes-world model), flux (a diffusers FLUX folder + --embeddings), sd (a \
            diffusers Stable Diffusion v1 folder + --prompt-file, or the embedded UNet world model), wan (a diffusers \
            Wan-2.1 folder + --embeddings), qwen-image (a diffusers Qwen-Image folder + --embeddings), hunyuan-video \
            (a diffusers HunyuanVideo folder + --embeddings), skyreels-i2v (a diffusers HunyuanVideo folder with \
            SkyReels' transformer + --embeddings + --reference-checkpoint or --reference-images).
            """
    )
    var model: ModelFamily?
    @Option(
        help:
            """
            The embedded world (with --model world, the default): shapes (pictures) or moving-shapes (5-frame \
            clips from a Wan-architecture model, scored on what is drawn and how it moves).
            """
    )
    var world: WorldName?
    @Option(
        help:
            """
            Model folder: the embedded model, a diffusers FLUX, SD, Wan, Qwen-Image or HunyuanVideo folder (default \
            assets/shapes-model, assets/moving-shapes-model for --world moving-shapes, assets/shapes-model-sd for \
            sd).
            """
    )
    var checkpoint: String?
    @Option(
        help:
            """
            FLUX, Wan, Qwen-Image, HunyuanVideo: the prompt-embedding cache written by `dancegrpo preprocess` (or \
            DanceGRPO's).
            """)
    var embeddings: String?
    @Option(help: "SD: prompts, one per line (DanceGRPO's assets/prompts.txt).") var promptFile: String?
    @Option(help: "SD: evaluation prompts, one per line (default: the first prompts of --prompt-file).")
    var evalPromptFile: String?
    @Option(help: "SD: image side in pixels (default 512).") var resolution: Int?
    @Option(help: "Image height in pixels (default 720; 512 for wan, 480 for hunyuan-video).") var height: Int?
    @Option(help: "Image width in pixels (default 720; 512 for wan, 480 for hunyuan-video).") var width: Int?
    @Option(
        help:
            """
            Wan, HunyuanVideo: frames per sample, 1 + 4k (default: wan 1, Wan as an image model as DanceGRPO trains \
            it; hunyuan-video 53, DanceGRPO's).
            """)
    var numFrames: Int?
    @Option(
        help:
            """
            Wan, HunyuanVideo: the frames image rewards score, averaged: first (DanceGRPO's Wan), middle or all (the \
            whole clip, a video reward's input; default first, all for hunyuan-video).
            """)
    var rewardFrames: RewardFrames?
    @Option(
        help:
            """
            SkyReels-I2V: a diffusers FLUX folder that makes each prompt's first frame, as DanceGRPO's reference \
            model (30 steps, guidance 3.5).
            """)
    var referenceCheckpoint: String?
    @Option(help: "SkyReels-I2V: a folder of first frames <i>.png or <i>.jpg per cached prompt i, instead of FLUX's.")
    var referenceImages: String?
    @Option(help: "FLUX: FLUX.1-dev's distilled guidance embedding (default 3.5).") var fluxGuidance: Float?
    @Option(
        help: "Run folder (default: runs/shapes-grpo or runs/moving-shapes-grpo, or with --resume the resumed run's).")
    var outputDir: String?
    @Option(
        help:
            """
            Where reward checkpoints live, in DanceGRPO's layout (hps_ckpt/HPS_v2.1_compressed.pt, \
            hps_ckpt/open_clip_pytorch_model.bin, PickScore_v1/, …).
            """
    )
    var rewardDir: String?
    @Option(help: "Stop after this many minutes even if iterations remain (0: no limit).") var timeBudget: Double?
}
