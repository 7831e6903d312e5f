// Port of mlfoundations/open_clip src/open_clip/{model.py CLIP, transformer.py VisionTransformer, Transformer,
// ResidualAttentionBlock} (open_clip_torch 3.3.0, checked against it by tools/goldens/rewards.py) for the ViT family.
// Keys are open_clip's state-dict keys (`visual.conv1.weight`, `visual.transformer.resblocks.<i>.attn.in_proj_weight`,
// `token_embedding.weight`, `text_projection`, …); the `attn_mask` buffer is not in the state dict and is not a
// tensor here (causal attention is a mask mode). Deviation: images are channels-last `[B, H, W, 3]` (the engine's
// convolution layout); the result is the same.
import Engine
import Foundation
import NN

/// `torch.nn.MultiheadAttention` as open_clip uses it (self-attention, batch first): keys `in_proj_weight [3D, D]`,
/// `in_proj_bias [3D]`, `out_proj.weight`, `out_proj.bias`.
public final class OpenCLIPAttention: Module {
    @Param(key: "in_proj_weight") public var inProjectionWeight: Tensor
    @Param(key: "in_proj_bias") public var inProjectionBias: Tensor
    @Child(key: "out_proj") public var outProjection: Linear
    public let heads: Int

    public init(dim: Int, heads: Int, dtype: DType = .float32, key: RandomKey = RandomKey(seed: 0)) {
        precondition(dim % heads == 0, "OpenCLIPAttention: width \(dim) is not a multiple of heads \(heads)")
        self.heads = heads
        let keys = key.split(into: 2)
        super.init()
        let bound = 1 / Float(dim).squareRoot()
        inProjectionWeight = Random.uniform([3 * dim, dim], low: -bound, high: bound, key: keys[0]).asType(dtype)
        inProjectionBias = Tensor.zeros([3 * dim], dtype: dtype)
        outProjection = Linear(dim, dim, dtype: dtype, key: keys[1])
    }

    /// `x [B, L, D]` → `[B, L, D]`.
    public func callAsFunction(_ x: Tensor, mask: AttentionMask) -> Tensor {
        let (batch, length, dim) = (x.dim(0), x.dim(1), x.dim(2))
        let qkv = inProjectionBias.addmm(x, inProjectionWeight.T)
            .reshaped([batch, length, 3, heads, dim / heads]).transposed([2, 0, 3, 1, 4])
        let out = scaledDotProductAttention(
            queries: qkv[0], keys: qkv[1], values: qkv[2],
            scale: 1 / Float(dim / heads).squareRoot(), mask: mask)
        return outProjection(out.transposed([0, 2, 1, 3]).reshaped([batch, length, dim]))
    }
}

/// open_clip's MLP (`nn.Sequential` with `c_fc`, the activation, `c_proj`).
public final class OpenCLIPMLP: Module, UnaryLayer {
    @Child(key: "c_fc") public var fc: Linear
    @Child(key: "c_proj") public var projection: Linear
    public let activation: Activation

    public init(
        width: Int, hidden: Int, activation: Activation, dtype: DType = .float32, key: RandomKey = RandomKey(seed: 0)
    ) {
        self.activation = activation
        let keys = key.split(into: 2)
        super.init()
        fc = Linear(width, hidden, dtype: dtype, key: keys[0])
        projection = Linear(hidden, width, dtype: dtype, key: keys[1])
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { projection(activation(fc(x))) }
}

/// LayerScale (`ls_1`, `ls_2`): `x · gamma`, key `gamma [D]`.
public final class OpenCLIPLayerScale: Module, UnaryLayer {
    @Param public var gamma: Tensor

    public init(_ dim: Int, initialValue: Double, dtype: DType = .float32) {
        gamma = Tensor.full([dim], initialValue, dtype: dtype)
        super.init()
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { x * gamma }
}

/// open_clip's `ResidualAttentionBlock`: keys `ln_1`, `attn`, `ls_1` (optional), `ln_2`, `mlp`, `ls_2` (optional).
public final class OpenCLIPResidualBlock: Module {
    @Child(key: "ln_1") public var layerNorm1: LayerNorm
    public let attn: OpenCLIPAttention
    @Child(key: "ls_1") public var layerScale1: OpenCLIPLayerScale? = nil
    @Child(key: "ln_2") public var layerNorm2: LayerNorm
    public let mlp: OpenCLIPMLP
    @Child(key: "ls_2") public var layerScale2: OpenCLIPLayerScale? = nil

    public init(
        width: Int, heads: Int, mlpWidth: Int, activation: Activation, layerScale: Double?, eps: Float,
        dtype: DType = .float32, key: RandomKey = RandomKey(seed: 0)
    ) {
        let keys = key.split(into: 2)
        attn = OpenCLIPAttention(dim: width, heads: heads, dtype: dtype, key: keys[0])
        mlp = OpenCLIPMLP(width: width, hidden: mlpWidth, activation: activation, dtype: dtype, key: keys[1])
        super.init()
        layerNorm1 = LayerNorm(width, eps: eps, dtype: dtype)
        layerNorm2 = LayerNorm(width, eps: eps, dtype: dtype)
        if let layerScale {
            layerScale1 = OpenCLIPLayerScale(width, initialValue: layerScale, dtype: dtype)
            layerScale2 = OpenCLIPLayerScale(width, initialValue: layerScale, dtype: dtype)
        }
    }

    public func callAsFunction(_ x: Tensor, mask: AttentionMask) -> Tensor {
        var a = attn(layerNorm1(x), mask: mask)
        if let layerScale1 { a = layerScale1(a) }
        let x = x + a
        var m = mlp(layerNorm2(x))
        if let layerScale2 { m = layerScale2(m) }
        return x + m
    }
}

/// open_clip's `Transformer`: key `resblocks.<i>`.
public final class OpenCLIPTransformer: Module {
    public let resblocks: [OpenCLIPResidualBlock]

    public init(
        width: Int, layers: Int, heads: Int, mlpWidth: Int, activation: Activation, layerScale: Double?,
        eps: Float, dtype: DType = .float32, key: RandomKey = RandomKey(seed: 0)
    ) {
        let keys = key.split(into: max(layers, 1))
        resblocks = (0..<layers).map {
            OpenCLIPResidualBlock(
                width: width, heads: heads, mlpWidth: mlpWidth, activation: activation,
                layerScale: layerScale, eps: eps, dtype: dtype, key: keys[$0])
        }
        super.init()
    }

    public func callAsFunction(_ x: Tensor, mask: AttentionMask) -> Tensor {
        resblocks.reduce(x) { $1($0, mask: mask) }
    }
}

/// open_clip's `VisionTransformer` (the `visual.` tower): keys `conv1` (no bias), `class_embedding [W]`,
/// `positional_embedding [N + 1, W]`, `ln_pre`, `transformer`, `ln_post`, `proj [W, E]`.
public final class OpenCLIPVisionTransformer: Module {
    public let config: OpenCLIPConfig.Vision
    @Child(key: "conv1") public var patchEmbedding: Conv2d
    @Param(key: "class_embedding") public var classEmbedding: Tensor
    @Param(key: "positional_embedding") public var positionalEmbedding: Tensor
    @Child(key: "ln_pre") public var layerNormPre: LayerNorm? = nil
    public let transformer: OpenCLIPTransformer
    @Child(key: "ln_post") public var layerNormPost: LayerNorm
    @Param(key: "proj") public var projection: Tensor

    public init(
        _ config: OpenCLIPConfig.Vision, embedDim: Int, activation: Activation, eps: Float,
        dtype: DType = .float32, key: RandomKey = RandomKey(seed: 0)
    ) {
        self.config = config
        let keys = key.split(into: 5)
        transformer = OpenCLIPTransformer(
            width: config.width, layers: config.layers, heads: config.heads,
            mlpWidth: config.mlpWidth, activation: activation,
            layerScale: config.layerScale, eps: eps, dtype: dtype, key: keys[0])
        super.init()
        let scale = 1 / Float(config.width).squareRoot()
        patchEmbedding = Conv2d(
            3, config.width, kernelSize: config.patchSize, stride: config.patchSize, bias: false,
            dtype: dtype, key: keys[1])
        classEmbedding = (Random.normal([config.width], key: keys[2]) * scale).asType(dtype)
        positionalEmbedding =
            (Random.normal([config.gridSize * config.gridSize + 1, config.width], key: keys[3]) * scale).asType(dtype)
        if !config.noLayerNormPre { layerNormPre = LayerNorm(config.width, eps: eps, dtype: dtype) }
        layerNormPost = LayerNorm(config.width, eps: eps, dtype: dtype)
        projection = (Random.normal([config.width, embedDim], key: keys[4]) * scale).asType(dtype)
    }

    /// `pixels [B, H, W, 3]` (channels-last, normalised) → image features `[B, E]`, not normalised.
    public func callAsFunction(_ pixels: Tensor) -> Tensor {
        let patches = patchEmbedding(pixels.asType(classEmbedding.dtype))
        let (batch, width) = (patches.dim(0), patches.dim(3))
        let tokens = patches.reshaped([batch, -1, width])
        precondition(
            tokens.dim(1) + 1 == positionalEmbedding.dim(0),
            """
            OpenCLIPVisionTransformer: \(tokens.dim(1)) patches do not match \(positionalEmbedding.dim(0) - 1) \
            positional embeddings (input \(pixels.shape))
            """
        )
        let cls = classEmbedding.reshaped([1, 1, width]).broadcast(to: [batch, 1, width])
        var x = concatenated([cls, tokens], axis: 1) + positionalEmbedding
        if let layerNormPre { x = layerNormPre(x) }
        x = transformer(x, mask: .none)
        let pooled: Tensor
        if config.finalLayerNormAfterPool {
            pooled = layerNormPost(pool(x))
        } else {
            pooled = pool(layerNormPost(x))
        }
        return pooled.matmul(projection)
    }

    private func pool(_ x: Tensor) -> Tensor {
        switch config.poolType {
        case "avg": return x[0..., 1...].mean(axis: 1)
        case "tok": return x[0..., 0]
        default: return x
        }
    }
}

/// open_clip's `CLIP` (ViT image tower + transformer text tower), keys as its state dict: `visual.*`,
/// `token_embedding.weight`, `positional_embedding`, `transformer.resblocks.*`, `ln_final`, `text_projection`,
/// `logit_scale`. The architecture of HPS-v2 (ViT-H-14), laion's and apple's DFN CLIP checkpoints.
public final class OpenCLIPModel: Module {
    public let config: OpenCLIPConfig
    public let visual: OpenCLIPVisionTransformer
    @Child(key: "token_embedding") public var tokenEmbedding: Embedding
    @Param(key: "positional_embedding") public var positionalEmbedding: Tensor
    public let transformer: OpenCLIPTransformer
    @Child(key: "ln_final") public var layerNormFinal: LayerNorm
    /// `text_projection [W, E]` (open_clip's default), or an `nn.Linear` when `proj_bias` is set.
    @Param(key: "text_projection") public var textProjectionMatrix: Tensor?
    @Child(key: "text_projection") public var textProjectionLinear: Linear? = nil
    @Param(key: "logit_scale") public var logitScale: Tensor

    public init(_ config: OpenCLIPConfig, dtype: DType = .float32, key: RandomKey = RandomKey(seed: 0)) {
        self.config = config
        let keys = key.split(into: 5)
        visual = OpenCLIPVisionTransformer(
            config.vision, embedDim: config.embedDim, activation: config.activation,
            eps: config.layerNormEps, dtype: dtype, key: keys[0])
        let text = config.text
        transformer = OpenCLIPTransformer(
            width: text.width, layers: text.layers, heads: text.heads,
            mlpWidth: text.mlpWidth, activation: config.activation,
            layerScale: text.layerScale, eps: config.layerNormEps, dtype: dtype, key: keys[1])
        super.init()
        tokenEmbedding = Embedding(text.vocabSize, text.width, dtype: dtype, key: keys[2])
        positionalEmbedding = (Random.normal([text.contextLength, text.width], key: keys[3]) * 0.01).asType(dtype)
        layerNormFinal = LayerNorm(text.width, eps: config.layerNormEps, dtype: dtype)
        if text.projectionBias {
            textProjectionMatrix = nil
            textProjectionLinear = Linear(text.width, config.embedDim, dtype: dtype, key: keys[4])
        } else {
            textProjectionMatrix =
                (Random.normal([text.width, config.embedDim], key: keys[4])
                * (1 / Float(text.width).squareRoot())).asType(dtype)
        }
        logitScale = Tensor.scalar(Foundation.log(1 / 0.07), dtype: dtype)
    }

    /// `encode_image(normalize=False)`: `pixels [B, H, W, 3]` → `[B, E]`.
    public func encodeImage(_ pixels: Tensor) -> Tensor { visual(pixels) }

    /// `encode_text(normalize=False)`: token ids `[B, L]` (L ≤ context_length; open_clip's tokenizer pads to it) →
    /// `[B, E]`, pooled at each row's largest id (the end-of-text token) by default.
    public func encodeText(_ ids: Tensor) -> Tensor {
        let problem: String? =
            ids.ndim != 2 || ids.dtype.isFloatingPoint
            ? "expected integer token ids [B, L], found \(ids.dtype) \(ids.shape)"
            : ids.dim(1) > positionalEmbedding.dim(0)
                ? "\(ids.dim(1)) tokens exceed the context length \(positionalEmbedding.dim(0))" : nil
        if let problem {
            Engine.refuse("OpenCLIP text encoder", problem, operands: [ids])
            return Tensor.zeros([ids.ndim > 0 ? ids.dim(0) : 1, config.embedDim], dtype: positionalEmbedding.dtype)
        }
        let length = ids.dim(1)
        var x = tokenEmbedding(ids) + positionalEmbedding[0..<length]
        x = transformer(x, mask: config.text.noCausalMask ? .none : .causal)
        x = layerNormFinal(x)
        let pooled: Tensor
        switch config.text.poolType {
        case "first": pooled = x[0..., 0]
        case "last": pooled = x[0..., length - 1]
        default: pooled = CLIPTextTransformer.gatherRows(x, at: CLIPTextTransformer.eosPositions(ids, eosTokenId: 2))
        }
        if let textProjectionLinear { return textProjectionLinear(pooled) }
        return pooled.matmul(textProjectionMatrix!)
    }
}
