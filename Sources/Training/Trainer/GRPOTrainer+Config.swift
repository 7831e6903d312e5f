import Foundation
import GRPO

extension GRPOTrainer {
    /// Every training setting, one stored property each: the JSON keys of `config.json` and `--config` files are
    /// these names, and every one has a `train` flag (kebab-case). `Config()` is the base of the presets: `world`
    /// (the embedded world, `make run`), `stableDiffusion` and `flux` (DanceGRPO's launch settings).
    public struct Config: Codable, Sendable, Equatable {
        public var iterations = 80
        public var promptsPerIteration = 8
        public var numGenerations = 8
        public var samplingSteps = 12
        public var shift: Float = 3
        /// The stochastic sampler's noise level: η of the Dance SDE, Flow-GRPO's `noise_level`, CPS's η, DDIM's η.
        public var eta: Float = 0.3
        public var learningRate = 5e-5
        /// Learning-rate schedule over the run's optimizer steps: constant, constant_with_warmup (DanceGRPO's, with
        /// warm-up 0), linear (to 0 at the last step) or cosine (half a cosine to 0), after `lrWarmupSteps`
        /// optimizer steps of linear warm-up from 0.
        public var lrScheduler = LRSchedulerKind.constantWithWarmup
        public var lrWarmupSteps = 0
        public var weightDecay = 1e-4
        /// AdamW's moment decays and ε (diffusers' `--adam_beta1`, `--adam_beta2`, `--adam_epsilon`; PyTorch's
        /// defaults).
        public var adamBeta1 = 0.9
        public var adamBeta2 = 0.999
        public var adamEpsilon = 1e-8
        public var clipRange: Float = 1e-2
        public var advantageClipMax: Float = 5
        public var timestepFraction: Float = 0.6
        /// Best-of-N (DanceGRPO's `bestofn`): train only the `bestOfN / 2` highest- and lowest-advantage samples of
        /// each prompt group (0: all `numGenerations`); `gradientAccumulationSteps` counts trained samples.
        public var bestOfN = 0
        /// Trained samples per optimizer step.
        public var gradientAccumulationSteps = 32
        public var maxGradNorm: Float = 1
        /// Recompute each block's activations in the backward pass (the seed's `--gradient_checkpointing`): the same
        /// gradients in less memory, for about one more forward pass.
        public var gradientCheckpointing = false
        public var initSameNoise = false
        /// With `initSameNoise`: one initial noise per prompt group rather than one for all the process's samples.
        public var initSameNoisePerPrompt = false
        public var useGroup = true
        /// With `useGroup`: divide by the std of the whole batch's rewards (gathered over processes) instead of each
        /// group's (Flow-GRPO's `global_std`).
        public var globalStd = false
        /// A `name[:weight],…` list of rewards (``RewardSpec/parseList(_:)``).
        public var rewards = "shapes"
        public var rewardCombination = RewardCombination.advantage
        /// Samples per network call in the rollout (speed only).
        public var rolloutBatchSize = 64
        /// Transitions per network call in training (speed only).
        public var transitionBatchSize = 64
        /// Held-out evaluation every N iterations (0: only before and after training).
        public var evalEvery = 10
        public var evalPrompts = 64
        /// Checkpoint every N iterations (0: only after the last).
        public var checkpointEvery = 20
        /// Keep only the newest N checkpoints (diffusers' `--checkpoints_total_limit`; 0: keep all).
        public var checkpointsTotalLimit = 0
        /// EMA decay of the trained weights for evaluation and checkpoints (0: no EMA).
        public var emaDecay: Double = 0
        /// The rollout's stochastic step; `eta` is its noise level.
        public var sampler = SamplerKind.danceSDE
        /// MixGRPO: SDE only inside a window of this many steps (0: every step is stochastic), ODE outside; the
        /// window moves by `mixWindowStride` steps every `mixItersPerShift` iterations (0: it stays on the first
        /// steps).
        public var mixWindowSize = 0
        public var mixWindowStride = 1
        public var mixItersPerShift = 25
        public var mixRollBack = false
        /// KL penalty weight β to the initial policy (Flow-GRPO; 0: none, as DanceGRPO).
        public var beta: Float = 0
        /// Classifier-free guidance scale in rollout and training (1: off); the unconditional branch is the empty
        /// prompt.
        public var guidanceScale: Float = 1
        /// Flow-GRPO/DDPO per-prompt statistics across iterations instead of the current group's (0: off).
        public var perPromptStatBuffer = 0
        public var perPromptStatMinCount = 16
        /// LoRA rank; 0 trains every weight of the network (full fine-tuning), > 0 only adapters.
        public var loraRank = 0
        /// LoRA alpha (0: 2 × rank).
        public var loraAlpha: Float = 0
        public var loraTargets: LoRATargets = ["to_k", "to_q", "to_v", "to_out.0"]
        public var seed: UInt64 = 0
        /// Data-parallel processes. Every other setting is per process, as DanceGRPO's per-GPU batch: each process
        /// draws `promptsPerIteration` prompts, and an optimizer step averages the gradients of
        /// `gradientAccumulationSteps` samples from each process.
        public var processes = 1
        /// Optimizer steps skipped in a row for non-finite rewards, losses, gradients or weights before the run stops
        /// with an error (a skipped step is not applied, as mixed-precision loss scaling skips overflowing steps).
        public var maxConsecutiveSkippedSteps = 3
        /// How much of the training state each process holds, by DeepSpeed's ZeRO stages: 0 every rank holds all of
        /// it, 1 shards AdamW's moments, 2 also the gradients (reduce-scattered), 3 also the trained parameters
        /// (FSDP's full shard: each block's weights gathered for its forward and again for its backward). EMA and the
        /// KL reference follow the parameters. No effect with one process.
        public var zeroStage = 0
        /// Ulysses sequence parallelism (the seed's `sp_size`): consecutive groups of this many ranks hold the same
        /// samples, each rank running the network's blocks on its shard of the tokens (HunyuanVideo, SkyReels-I2V,
        /// Wan); 1 is off. Prompts, noise and rewards are per group; the training state still shards over every rank.
        public var spSize = 1
        /// The forward and backward passes' dtype: `no` (float32), `bf16`, or `fp16` (with dynamic loss scaling), from
        /// float32 master weights and optimizer state; the sampler's steps and log-probabilities stay float32.
        public var mixedPrecision = MixedPrecision.no

        public init() {}

        /// The rollout's stochastic step with its noise level.
        public var rolloutSampler: RolloutSampler { RolloutSampler(sampler, noiseLevel: eta) }

        /// DanceGRPO's Stable Diffusion v1.4 settings (`fastvideo/config_sd/dgx.py:hpsv2` as `train_grpo_sd.py` runs
        /// it): DDIM 50 steps, η 1, CFG 5, 4 prompts × 16 samples from one initial noise, clip 1e-4, all 49
        /// transitions, an optimizer step every 32 samples, lr 1e-5, 300 iterations, seed 42, per-group advantages
        /// (the script never reads the config's per-prompt-statistics keys). Each value next to the script's:
        /// docs/seed-arguments.md.
        public static var stableDiffusion: Config {
            var c = Config()
            c.iterations = 300
            c.promptsPerIteration = 4
            c.numGenerations = 16
            c.samplingSteps = 50
            c.eta = 1
            c.guidanceScale = 5
            c.learningRate = 1e-5
            c.clipRange = 1e-4
            c.timestepFraction = 1
            c.gradientAccumulationSteps = 32
            c.initSameNoise = true
            c.seed = 42
            c.rewards = "hpsv2.1"
            c.sampler = .ddim
            c.rolloutBatchSize = 4
            c.transitionBatchSize = 4
            c.evalPrompts = 8
            c.checkpointEvery = 50
            return c
        }

        /// DanceGRPO's FLUX launch settings (`scripts/finetune/finetune_flux_grpo.sh`): one prompt × 12 samples per
        /// GPU from one initial noise, T 16, η 0.3, shift 3, clip 1e-4, fraction 0.6, an optimizer step every 4
        /// samples, lr 1e-5, 300 steps, a checkpoint every 40, seed 42, HPS-v2.1. Each value next to the script's:
        /// docs/seed-arguments.md.
        public static var flux: Config {
            var c = Config()
            c.iterations = 300
            c.promptsPerIteration = 1
            c.numGenerations = 12
            c.samplingSteps = 16
            c.eta = 0.3
            c.shift = 3
            c.learningRate = 1e-5
            c.weightDecay = 1e-4
            c.clipRange = 1e-4
            c.advantageClipMax = 5
            c.timestepFraction = 0.6
            c.gradientAccumulationSteps = 4
            c.maxGradNorm = 1
            c.gradientCheckpointing = true
            c.initSameNoise = true
            c.useGroup = true
            c.seed = 42
            c.rewards = "hpsv2.1"
            c.rolloutBatchSize = 1
            c.transitionBatchSize = 1
            c.evalPrompts = 8
            c.checkpointEvery = 40
            return c
        }

        /// DanceGRPO's Wan-2.1 T2V 1.3B launch script (`finetune_wan_2_1_grpo.sh`, `train_grpo_wan_2_1.py`): 2
        /// prompts × 12 generations per GPU, 20 Dance-SDE steps (η 0.3, shift 3), 11 trained transitions per sample,
        /// classifier-free guidance 5 against the empty prompt in rollout and training, one optimizer step per
        /// iteration (accumulation over all 24 samples), HPS-v2.1 on frame 0, shared initial noise, checkpoints every
        /// 200 steps.
        /// https://github.com/XueZeyue/DanceGRPO/blob/15cc71d53cc2e6e18a68ee607d5fb6ba9a99e344/scripts/finetune/finetune_wan_2_1_grpo.sh
        public static var wan: Config {
            var c = Config.flux
            c.iterations = 1000
            c.promptsPerIteration = 2
            c.numGenerations = 12
            c.samplingSteps = 20
            c.gradientAccumulationSteps = 24
            c.guidanceScale = 5
            c.checkpointEvery = 200
            return c
        }

        /// DanceGRPO's Qwen-Image launch script (`finetune_qwenimage_grpo.sh`, `train_grpo_qwenimage.py`): 2 prompts ×
        /// 12 generations per GPU from one initial noise shared by all 24 (the script draws it once per rollout), 20
        /// Dance-SDE steps (η 0.3, shift 3 on `linspace(1, 0)`, not the folder's dynamic shifting), 11 trained
        /// transitions per sample (fraction 0.6 of 19: the last step is dropped), clip 1e-4, advantages clipped at 5
        /// within each prompt's group, an optimizer step every 12 samples (2 per iteration), lr 1e-5, weight decay
        /// 1e-4, gradient norm 1, 300 iterations, a checkpoint every 60, seed 42, HPS-v2.1, no classifier-free
        /// guidance (the script's `--cfg 0.0` is a caption-dropout rate). 720 × 720 px is the task's default size.
        /// Deviations: the seed recomputes half the blocks (`--selective_checkpointing 0.5`), here every block
        /// recomputes; its bf16 autocast is `mixedPrecision` bf16 here, left to the run as for the other presets.
        /// https://github.com/XueZeyue/DanceGRPO/blob/15cc71d53cc2e6e18a68ee607d5fb6ba9a99e344/scripts/finetune/finetune_qwenimage_grpo.sh
        public static var qwenImage: Config {
            var c = Config.flux
            c.iterations = 300
            c.promptsPerIteration = 2
            c.numGenerations = 12
            c.samplingSteps = 20
            c.gradientAccumulationSteps = 12
            c.checkpointEvery = 60
            return c
        }

        /// DanceGRPO's Qwen-Image-Edit launch script (`finetune_qwenimage_edit_grpo.sh`,
        /// `train_grpo_qwenimage_edit.py`): the Qwen-Image preset with 2 SEED-Data-Edit samples × 8 generations per
        /// GPU (one initial noise shared by all 16), an optimizer step every 8 samples (2 per iteration), 512 × 512
        /// px outputs (the task's default size). As for Qwen-Image: 20 Dance-SDE steps (η 0.3, shift 3), 11 trained
        /// transitions per sample, clip 1e-4, advantages clipped at 5 within each group, lr 1e-5, weight decay 1e-4,
        /// gradient norm 1, a checkpoint every 60, seed 42, HPS-v2.1 (of the edited image against the instruction),
        /// no classifier-free guidance. 300 iterations: the script's `--max_train_steps`. Deviation: the seed loops 3
        /// epochs over its loader, each cut after 302 steps, so on `assets/edit_data.jsonl` (3,142 samples, 8 GPUs ×
        /// 2, the last partial batch dropped) it runs 3 × 196 = 588 steps. The seed recomputes every block
        /// (`--selective_checkpointing 1.0`), as here.
        /// https://github.com/XueZeyue/DanceGRPO/blob/15cc71d53cc2e6e18a68ee607d5fb6ba9a99e344/scripts/finetune/finetune_qwenimage_edit_grpo.sh
        public static var qwenImageEdit: Config {
            var c = Config.qwenImage
            c.numGenerations = 8
            c.gradientAccumulationSteps = 8
            return c
        }

        /// The reward of the ``hunyuanVideo`` preset: the seed's `--use_videoalign --vq_coef 1.0 --mq_coef 0.0`,
        /// VideoAlign's visual quality (normalised, from `<--reward-dir>/videoalign_ckpt/`).
        public static let hunyuanVideoReward = "videoalign-vq"

        /// DanceGRPO's HunyuanVideo launch script (`finetune_hunyuan_grpo.sh`, `train_grpo_hunyuan.py`): one prompt ×
        /// 24 generations per GPU from one initial noise (`--use_same_noise`), 16 Dance-SDE steps (the seed's
        /// `flux_step`: η 0.25, shift 5 on `linspace(1, 0)`), best-of-8 (the 4 highest and 4 lowest advantages of the
        /// group trained), 9 trained transitions per sample (fraction 0.6 of 15: the last step is dropped), clip 1e-4,
        /// advantages clipped at 5, an optimizer step every 4 trained samples (2 per iteration), lr 1e-5, weight decay
        /// 1e-4, gradient norm 1, 202 iterations, a checkpoint every 50 (the newest 3 kept), seed 42, every block
        /// recomputed, VideoAlign's VQ (``hunyuanVideoReward``), no classifier-free guidance (`--cfg 0.0` is a
        /// caption-dropout rate; the transformer's embedded guidance is the task's). 53 frames of 480 × 480 px are the
        /// task's defaults. The script's `--ema_decay 0.999` and `--checkpoints_total_limit 3` are never read by
        /// `train_grpo_hunyuan.py`: no EMA here either; deviation: 3 checkpoints are kept (the seed keeps every one,
        /// 13B each). Its bf16 autocast is `mixedPrecision` bf16, left to the run as for the other presets.
        /// https://github.com/XueZeyue/DanceGRPO/blob/15cc71d53cc2e6e18a68ee607d5fb6ba9a99e344/scripts/finetune/finetune_hunyuan_grpo.sh
        public static var hunyuanVideo: Config {
            var c = Config.flux
            c.iterations = 202
            c.promptsPerIteration = 1
            c.numGenerations = 24
            c.samplingSteps = 16
            c.eta = 0.25
            c.shift = 5
            c.bestOfN = 8
            c.gradientAccumulationSteps = 4
            c.checkpointEvery = 50
            c.checkpointsTotalLimit = 3
            c.rewards = hunyuanVideoReward
            return c
        }

        /// DanceGRPO's SkyReels-V1 image-to-video launch script (`finetune_skyreels_i2v.sh`,
        /// `train_grpo_skyreels_i2v.py`): 1 prompt × 8 generations per GPU from one initial noise, 16 Dance-SDE
        /// steps (η 0.3, shift 7), 9 trained transitions per sample (fraction 0.6 of 15: the last step is dropped),
        /// classifier-free guidance 5 against the cached empty prompt in rollout and training, clip 1e-4,
        /// advantages clipped at 5 within the group, one optimizer step per iteration (accumulation over the 8
        /// samples), lr 1e-5, weight decay 1e-4, gradient norm 1, 121 iterations, a checkpoint every 40, seed 42.
        /// 53 frames of 640 × 400 px are the task's defaults (TaskSettings). The reward is the seed's: VideoAlign's
        /// motion quality (`--use_videoalign`, `MQ`, normalised).
        /// https://github.com/XueZeyue/DanceGRPO/blob/15cc71d53cc2e6e18a68ee607d5fb6ba9a99e344/scripts/finetune/finetune_skyreels_i2v.sh
        public static var skyreelsI2V: Config {
            var c = Config.flux
            c.iterations = 121
            c.promptsPerIteration = 1
            c.numGenerations = 8
            c.samplingSteps = 16
            c.shift = 7
            c.guidanceScale = 5
            c.gradientAccumulationSteps = 8
            c.checkpointEvery = 40
            c.rewards = "videoalign-mq"
            return c
        }
    }
}
