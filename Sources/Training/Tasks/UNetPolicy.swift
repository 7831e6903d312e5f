import Engine
import GRPO
import Models
import NN

/// GRPO's view of a `UNet2DConditionModel` (Stable Diffusion v1 and the embedded UNet world): the network output
/// (ε for SD v1, whatever the scheduler's `prediction_type` says in general) for channels-last latents `[B, h, w, C]`
/// at DDIM's integer timesteps (`DDIMProcess.networkTimestep`, given as float32 `[B]`), attending to the text states
/// `conditioning[UNetPolicy.textStatesKey]` `[B, L, D]`. Output in float32, the latents' shape.
public final class UNetPolicy: SnapshotReferencePolicy {
    /// The conditioning key of the text states (diffusers' argument name).
    public static let textStatesKey = "encoder_hidden_states"

    public let unet: UNet2DConditionModel
    /// The initial weights, for the KL penalty (nil without one).
    public let reference: ReferenceWeights?

    public init(unet: UNet2DConditionModel, reference: ReferenceWeights? = nil) {
        self.unet = unet
        self.reference = reference
    }

    public var module: Module { unet }

    public func modelOutput(_ x: Tensor, timesteps: Tensor, conditioning: Conditioning) -> Tensor {
        unet(x, timesteps: timesteps, encoderHiddenStates: conditioning[UNetPolicy.textStatesKey]).asType(.float32)
    }

}
