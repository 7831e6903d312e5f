import Engine
import NN

// The three block kinds of Stable Diffusion's UNet (diffusers unet_2d_blocks.py). Each class covers the plain and
// the cross-attention variant: `attentions` is empty for `DownBlock2D` / `UpBlock2D`. Activations are channels-last,
// `[N, H, W, C]`; `embedding` is the time embedding `[N, time_embed_dim]`, `context` the text states `[N, L, D]`.

/// Everything a block needs from the UNet config, resolved for one block.
struct UNetBlockSettings {
    var groups: Int
    var eps: Float
    var timeEmbeddingChannels: Int
    var heads: Int
    var contextDim: Int
    var transformerLayers: Int
    var linearProjection: Bool
    var onlyCrossAttention: Bool
    var dtype: DType

    func attention(channels: Int, key: RandomKey) -> SpatialTransformer {
        SpatialTransformer(
            channels: channels, heads: heads, layers: transformerLayers, contextDim: contextDim, groups: groups,
            linearProjection: linearProjection, onlyCrossAttention: onlyCrossAttention, dtype: dtype, key: key)
    }

    func resnet(_ input: Int, _ output: Int, outputScaleFactor: Float = 1, key: RandomKey) -> ResnetBlock2D {
        ResnetBlock2D(
            inChannels: input, outChannels: output, groups: groups, eps: eps,
            timeEmbeddingChannels: timeEmbeddingChannels,
            outputScaleFactor: outputScaleFactor, dtype: dtype, key: key)
    }
}

/// `CrossAttnDownBlock2D` (ResNet then spatial transformer, per layer) or `DownBlock2D` (ResNets only), then
/// (all levels but the last) `downsamplers.0`, a stride-2 convolution. Returns the output and the skip activations
/// the up path consumes: one per layer, plus the down-sampled output (so the output is always the last skip).
public final class UNetDownBlock: Module {
    public let resnets: [ResnetBlock2D]
    public let attentions: [SpatialTransformer]
    /// Empty on the last level.
    public let downsamplers: [Downsample2D]

    init(
        inChannels: Int, outChannels: Int, layers: Int, crossAttention: Bool, downsample: Bool, downsamplePadding: Int,
        settings: UNetBlockSettings, key: RandomKey
    ) {
        let keys = key.split(into: 2 * layers + 1)
        resnets = (0..<layers).map { settings.resnet($0 == 0 ? inChannels : outChannels, outChannels, key: keys[$0]) }
        attentions =
            crossAttention ? (0..<layers).map { settings.attention(channels: outChannels, key: keys[layers + $0]) } : []
        downsamplers =
            downsample
            ? [
                Downsample2D(
                    channels: outChannels, padding: downsamplePadding, dtype: settings.dtype, key: keys[2 * layers])
            ] : []
        super.init()
    }

    public func callAsFunction(_ x: Tensor, embedding: Tensor, context: Tensor) -> (output: Tensor, skips: [Tensor]) {
        var h = x, skips: [Tensor] = []
        for (i, resnet) in resnets.enumerated() {
            h = resnet(h, timeEmbedding: embedding)
            if !attentions.isEmpty { h = attentions[i](h, context: context) }
            skips.append(h)
        }
        for downsampler in downsamplers {
            h = downsampler(h)
            skips.append(h)
        }
        return (h, skips)
    }
}

/// `UNetMidBlock2DCrossAttn`: ResNet, then (spatial transformer, ResNet) once, at the lowest resolution.
public final class UNetMidBlock: Module {
    public let resnets: [ResnetBlock2D]
    public let attentions: [SpatialTransformer]

    init(channels: Int, outputScaleFactor: Float, settings: UNetBlockSettings, key: RandomKey) {
        let keys = key.split(into: 3)
        resnets = [0, 2].map {
            settings.resnet(channels, channels, outputScaleFactor: outputScaleFactor, key: keys[$0])
        }
        attentions = [settings.attention(channels: channels, key: keys[1])]
        super.init()
    }

    public func callAsFunction(_ x: Tensor, embedding: Tensor, context: Tensor) -> Tensor {
        var h = resnets[0](x, timeEmbedding: embedding)
        for (attention, resnet) in zip(attentions, resnets.dropFirst()) {
            h = resnet(attention(h, context: context), timeEmbedding: embedding)
        }
        return h
    }
}

/// `CrossAttnUpBlock2D` or `UpBlock2D`: per layer, the last remaining skip activation is concatenated on the channel
/// axis (`[h, skip]`), then a ResNet (and a spatial transformer); then (all levels but the last) `upsamplers.0`,
/// nearest ×2 and a 3×3 convolution. Layer i's ResNet takes `previous` (i = 0) or `out` channels plus the skip's:
/// `out`, except the last layer's skip, which comes from the level above (`skipChannels`).
public final class UNetUpBlock: Module {
    public let resnets: [ResnetBlock2D]
    public let attentions: [SpatialTransformer]
    /// Empty on the last level.
    public let upsamplers: [Upsample2D]

    init(
        previousChannels: Int, skipChannels: Int, outChannels: Int, layers: Int, crossAttention: Bool, upsample: Bool,
        settings: UNetBlockSettings, key: RandomKey
    ) {
        let keys = key.split(into: 2 * layers + 1)
        resnets = (0..<layers).map { i in
            let skip = i == layers - 1 ? skipChannels : outChannels
            return settings.resnet((i == 0 ? previousChannels : outChannels) + skip, outChannels, key: keys[i])
        }
        attentions =
            crossAttention ? (0..<layers).map { settings.attention(channels: outChannels, key: keys[layers + $0]) } : []
        upsamplers = upsample ? [Upsample2D(channels: outChannels, dtype: settings.dtype, key: keys[2 * layers])] : []
        super.init()
    }

    /// `skips` are this block's skip activations in the order the down path produced them (one per ResNet); they
    /// are consumed from the last.
    public func callAsFunction(_ x: Tensor, skips: [Tensor], embedding: Tensor, context: Tensor) -> Tensor {
        precondition(
            skips.count == resnets.count, "UNetUpBlock: \(skips.count) skip activations for \(resnets.count) ResNets")
        var h = x
        for (i, resnet) in resnets.enumerated() {
            h = resnet(concatenated([h, skips[skips.count - 1 - i]], axis: -1), timeEmbedding: embedding)
            if !attentions.isEmpty { h = attentions[i](h, context: context) }
        }
        return upsamplers.reduce(h) { $1($0) }
    }
}
