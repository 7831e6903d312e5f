import Engine
import Sampling
import Foundation
import GRPO
import Imaging
import NN
import ShapesWorld

/// A prompt the trainer samples for, with what the rewards may need beyond its text: the shapes world's parsed
/// prompt for its rule-based scorer (nil for free text).
public struct TrainingPrompt: Sendable, Equatable {
    public var text: String
    public var spec: PromptSpec?

    public init(text: String, spec: PromptSpec? = nil) {
        self.text = text
        self.spec = spec
    }

    public init(_ spec: PromptSpec) {
        self.init(text: spec.text, spec: spec)
    }
}

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
    func trainingPrompts(count: Int, iteration: Int, seed: UInt64) throws -> [TrainingPrompt]
    /// `count` fixed evaluation prompts (held out from training where the data allows).
    func evaluationPrompts(count: Int) throws -> [TrainingPrompt]
    /// Conditioning rows, one per text; the empty text is the unconditional branch of classifier-free guidance.
    func conditioning(_ texts: [String]) throws -> Conditioning
    /// The decoder: final latents `[B, ...latentShape]` → 8-bit images.
    func images(_ latents: Tensor) throws -> [RGBImage]
}

extension TrainingTask {
    /// Reads a network saved by `saveNetwork` back from `folder` (resume).
    public func loadNetwork(from folder: URL) throws {
        try network.load(contentsOf: folder.appendingPathComponent(networkFolderName))
    }
}

extension SamplingChain {
    /// The rollout's process: a flow schedule with `sampler` (or a per-step MixGRPO `plan`), or DDIM with η = `eta`.
    public func process(steps: Int, shift: Float, sampler: FlowSampler, eta: Float, plan: [FlowSampler]? = nil) -> any SamplingProcess {
        switch self {
        case .flow: return FlowProcess(steps: steps, shift: shift, sampler: sampler, plan: plan)
        case .ddim(let config): return DDIMProcess(scheduler: DDIMScheduler(config: config, steps: steps), eta: eta)
        }
    }

    /// The deterministic sampler of evaluations: the Euler ODE for flows, DDIM with η = 0.
    public func deterministicProcess(steps: Int, shift: Float) -> any SamplingProcess {
        process(steps: steps, shift: shift, sampler: .ode, eta: 0)
    }
}
