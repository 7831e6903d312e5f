import Engine
import Sampling
import Foundation
import GRPO
import Imaging
import NN
import Rewards

/// The denoising chain of a model family, from which the trainer builds its rollout and evaluation processes.
public enum SamplingChain: Sendable, Equatable {
    /// Flow matching (FLUX and the embedded FLUX-architecture model): the time-shifted σ schedule.
    case flow
    /// ε/v-prediction with DDPO's DDIM step (Stable Diffusion v1), the scheduler read from the checkpoint.
    case ddim(DDIMScheduler.Config)
}

/// What GRPO needs from a model and its data, so one trainer (``GRPOTrainer``) serves every family: the network it
/// trains and how to save it, the policy over it, the sampling chain, prompts, text conditioning and decoding.
/// Implementations: the embedded world (FLUX or UNet architecture), FLUX from a checkpoint and an embedding cache,
/// Stable Diffusion from a diffusers folder.
public protocol TrainingTask: AnyObject {
    /// One line for logs, e.g. "FLUX.1 from data/flux, 12,000 cached prompts".
    var summary: String { get }
    /// The network GRPO trains (FLUX transformer, SD UNet); LoRA adapters, the optimizer, EMA and checkpoints act on
    /// it. Everything else (text encoders, VAE) stays frozen, as in DanceGRPO.
    var network: Module { get }
    /// The network's diffusers subfolder ("transformer", "unet"); also the key prefix of saved LoRA adapters.
    var networkFolderName: String { get }
    /// Writes the network in diffusers layout (`config.json` + `diffusion_pytorch_model.safetensors`) into `folder`.
    func saveNetwork(to folder: URL) throws
    /// The policy over `network`: its output for latents, timesteps and conditioning; `reference` evaluates the
    /// frozen initial policy for the KL penalty.
    func policy(reference: ReferenceWeights?) -> DenoisingPolicy
    /// The family's sampling chain.
    var chain: SamplingChain { get }
    /// One sample's latent shape (no batch axis).
    var latentShape: [Int] { get }
    /// `count` training prompts for an iteration, a pure function of (seed, iteration) so resumed runs see the same.
    func trainingPrompts(count: Int, iteration: Int, seed: UInt64) throws -> [Prompt]
    /// `count` fixed evaluation prompts (held out from training where the data allows).
    func evaluationPrompts(count: Int) throws -> [Prompt]
    /// Conditioning rows, one per text; the empty text is the unconditional branch of classifier-free guidance.
    func conditioning(_ texts: [String]) throws -> Conditioning
    /// Conditioning rows, one per prompt, for tasks whose samples are more than their text (an editing task's source
    /// image, named by the prompt's metadata; two samples may share an instruction). Default: ``conditioning(_:)`` of
    /// the texts.
    func conditioning(prompts: [Prompt]) throws -> Conditioning
    /// The decoder: final latents `[B, ...latentShape]` → 8-bit images (a video family: one picture per sample for
    /// grids and logs, e.g. its first frame).
    func images(_ latents: Tensor) throws -> [RGBImage]
    /// What the rewards score: the decoded samples, pictures or videos (default: ``images(_:)`` as pictures).
    func samples(_ latents: Tensor) throws -> [GeneratedSample]
    /// The rewards a run of this task may name: the standard ones, plus a world's own (default: standard).
    var rewardCatalog: RewardCatalog { get }
    /// The network's activations per training row (a sample at one transition) at the image size of `settings`, read
    /// from the configs of the model folder `folder` without loading weights, for the memory plan (``MemoryPlan``).
    /// Default: nil (no estimate: the plan counts no activations and says so).
    static func activationEstimate(folder: URL, settings: TaskSettings) throws -> ActivationEstimate?
}

/// A task whose samples are videos: decoded once into their frames, from which the rewards' samples and the run
/// folder's clips come.
public protocol VideoTrainingTask: TrainingTask {
    /// Frames per video.
    var frameCount: Int { get }
    /// Frames per second of the clips written for people to watch.
    var framesPerSecond: Double { get }
    /// Final latents → every sample's frames.
    func videos(_ latents: Tensor) throws -> [[RGBImage]]
    /// What the rewards score, from decoded videos (e.g. the frames an image reward looks at).
    func samples(fromVideos videos: [[RGBImage]]) -> [GeneratedSample]
    /// One picture of a clip for sample grids (default: its first frame).
    func picture(of clip: [RGBImage]) -> RGBImage
}

extension VideoTrainingTask {
    public func picture(of clip: [RGBImage]) -> RGBImage { clip[0] }

    /// One ``picture(of:)`` per sample.
    public func images(_ latents: Tensor) throws -> [RGBImage] {
        try videos(latents).map(picture(of:))
    }

    /// ``samples(fromVideos:)`` of the decoded videos.
    public func samples(_ latents: Tensor) throws -> [GeneratedSample] {
        samples(fromVideos: try videos(latents))
    }
}

extension TrainingTask {
    public var rewardCatalog: RewardCatalog { .standard }

    public func conditioning(prompts: [Prompt]) throws -> Conditioning { try conditioning(prompts.map(\.text)) }

    public func samples(_ latents: Tensor) throws -> [GeneratedSample] {
        try images(latents).map(GeneratedSample.image)
    }

    public static func activationEstimate(folder: URL, settings: TaskSettings) throws -> ActivationEstimate? { nil }

    /// Reads a network saved by `saveNetwork` back from `folder` (resume).
    public func loadNetwork(from folder: URL) throws {
        try network.load(contentsOf: folder.appendingPathComponent(networkFolderName))
    }
}

extension SamplingChain {
    /// The rollout's process: a flow schedule with the sampler's SDE (or a per-step MixGRPO `plan`), or DDIM with
    /// the sampler's η.
    public func process(steps: Int, shift: Float, sampler: RolloutSampler, plan: [FlowSampler]? = nil)
        -> any SamplingProcess
    {
        switch (self, sampler) {
        case (.flow, .flow(let step)): return FlowProcess(steps: steps, shift: shift, sampler: step, plan: plan)
        case (.flow, .ddim): preconditionFailure("a DDIM sampler on a flow chain (GRPOTrainer checks the pair)")
        case (.ddim(let config), .ddim(let eta)):
            return DDIMProcess(scheduler: DDIMScheduler(config: config, steps: steps), eta: eta)
        case (.ddim, .flow): preconditionFailure("a flow sampler on a DDIM chain (GRPOTrainer checks the pair)")
        }
    }

    /// The deterministic sampler of evaluations: the Euler ODE for flows, DDIM with η = 0.
    public func deterministicProcess(steps: Int, shift: Float) -> any SamplingProcess {
        switch self {
        case .flow: return process(steps: steps, shift: shift, sampler: .flow(.ode))
        case .ddim: return process(steps: steps, shift: shift, sampler: .ddim(eta: 0))
        }
    }
}
