import Engine
import Models
import NN

/// Forward (and forward+backward) time of the FLUX transformer (`Models.FluxTransformer2DModel`) on a medium config,
/// in float32 and bfloat16. The diffusers twin is tools/bench/flux_bench.py: same config, same input shapes, same
/// repeat policy; keep the two in step.
enum FluxBench {
    /// 4 double-stream + 8 single-stream blocks, 8 heads of 64 (inner 512): about 70M parameters.
    static var config: FluxConfig {
        var c = FluxConfig()
        c.inChannels = 64
        c.numLayers = 4
        c.numSingleLayers = 8
        c.attentionHeadDim = 64
        c.numAttentionHeads = 8
        c.jointAttentionDim = 1024
        c.pooledProjectionDim = 256
        c.guidanceEmbeds = true
        c.axesDimsRope = [8, 28, 28]
        return c
    }

    /// A 256×256 image: a 32×32 latent packed into 16×16 = 256 tokens; 128 text tokens; batch 1.
    static let batch = 1, latentSize = 32, textTokens = 128
    static var imageTokens: Int { (latentSize / 2) * (latentSize / 2) }
    static let dtypes: [DType] = [.float32, .bfloat16]

    struct Result {
        var dtype: DType
        var parameterCount: Int
        var forwardSeconds: Double
        var forwardBackwardSeconds: Double?
    }

    static func run(dtype: DType, warmup: Int, repeats: Int, backward: Bool) -> Result {
        let config = self.config
        let model = FluxTransformer2DModel(config, dtype: dtype, key: RandomKey(seed: 0))
        let keys = RandomKey(seed: 1).split(into: 3)
        let hidden = Random.normal([batch, imageTokens, config.inChannels], key: keys[0]).asType(dtype)
        let context = Random.normal([batch, textTokens, config.jointAttentionDim], key: keys[1]).asType(dtype)
        let pooled = Random.normal([batch, config.pooledProjectionDim], key: keys[2]).asType(dtype)
        let timestep = Tensor.full([batch], 0.5, dtype: dtype)
        let guidance = Tensor.full([batch], 3.5, dtype: dtype)
        let imageIds = FluxLatents.imageIds(height: latentSize, width: latentSize)
        let textIds = FluxLatents.textIds(length: textTokens)
        eval([hidden, context, pooled, timestep, guidance, imageIds, textIds] + Array(model.parameters().values))

        func forward() -> Tensor {
            model(
                hiddenStates: hidden, encoderHiddenStates: context, pooled: pooled, timestep: timestep,
                imageIds: imageIds, textIds: textIds, guidance: guidance)
        }
        let forwardSeconds = medianSeconds(warmup: warmup, repeats: repeats) { eval(forward()) }
        var forwardBackwardSeconds: Double?
        if backward {
            forwardBackwardSeconds = medianSeconds(warmup: warmup, repeats: repeats) {
                // The loss in float32, as the PyTorch side does, so a bfloat16 mean does not lose the small terms.
                let (values, gradients) = valueAndGrad(model: model) { [forward().asType(.float32).square().mean()] }
                precondition(gradients.count == model.trainableParameters().count, "a parameter got no gradient")
                eval(values + Array(gradients.values))
            }
        }
        return Result(
            dtype: dtype, parameterCount: model.parameterCount(), forwardSeconds: forwardSeconds,
            forwardBackwardSeconds: forwardBackwardSeconds)
    }
}
