import Engine
import Foundation
import NN

/// VideoAlign's reward model (KwaiVGI/VideoReward, the VQ / MQ / TA reward of the seed's HunyuanVideo and
/// SkyReels-I2V runs): Qwen2-VL (the version 1 vision tower and the Qwen2 language model) with a bias-free linear
/// `rm_head` (`hidden_size → output_dim`) read at a few positions: VideoAlign's `Qwen2VLRewardModelBT`.
/// https://github.com/XueZeyue/DanceGRPO/blob/15cc71d53cc2e6e18a68ee607d5fb6ba9a99e344/fastvideo/models/videoalign/trainer.py#L59
///
/// What its forward computes, given the tensors of transformers' Qwen2-VL processor (`input_ids`,
/// `attention_mask`, `pixel_values_videos`, `video_grid_thw`, and the image pair when there are images):
/// 1. token embeddings; the vision tower's merged tokens for the videos (images) replace, in order, the embeddings
///    at the `video_token_id` (`image_token_id`) positions (`masked_scatter`);
/// 2. the language model (`self.model`, the text decoder, final norm included) on those embeddings with the
///    attention mask and **no position ids**: under the seed's transformers 4.46.1 the text model then numbers the
///    positions 0 ..< L in all three M-RoPE rows, so the video tokens get no 3D positions (get_rope_index belongs to
///    `Qwen2VLForConditionalGeneration.forward`, which this forward replaces);
/// 3. `rm_head` on every position, pooled per ``VideoRewardPooling`` (the released checkpoint: the three reward
///    tokens, output_dim 1 → `[B, 3]` = VQ, MQ, TA raw scores).
/// The seed then standardises each with `model_config.json`'s `inference_config` (``VideoAlignConfig``).
///
/// Keys as the hub's transformers 4 checkpoint names them: `visual.*`, `model.embed_tokens`, `model.layers.<i>`,
/// `model.norm`, `rm_head.weight` (``load(from:base:step:dtype:)`` reads the checkpoint folder).
public final class VideoRewardModel: Module {
    public let visual: Qwen2VisionTransformer
    public let model: Qwen2_5_VLTextModel
    @Child(key: "rm_head") public var rmHead: Linear
    public var pooling: VideoRewardPooling
    public let videoTokenID: Int
    public let imageTokenID: Int

    /// Random weights; load a checkpoint over them.
    public init(
        vision: Qwen2VisionConfig, text: Qwen2_5_VLTextConfig, pooling: VideoRewardPooling,
        videoTokenID: Int = 151_656, imageTokenID: Int = 151_655, dtype: DType = .float32,
        key: RandomKey = RandomKey(seed: 0)
    ) {
        precondition(
            vision.hiddenSize == text.hiddenSize,
            "VideoRewardModel: vision_config.hidden_size \(vision.hiddenSize) ≠ text \(text.hiddenSize)"
        )
        let keys = key.split(into: 3)
        visual = Qwen2VisionTransformer(vision, dtype: dtype, key: keys[0])
        model = Qwen2_5_VLTextModel(text, dtype: dtype, key: keys[1])
        self.pooling = pooling
        self.videoTokenID = videoTokenID
        self.imageTokenID = imageTokenID
        super.init()
        rmHead = Linear(text.hiddenSize, pooling.outputDim, bias: false, dtype: dtype, key: keys[2])
    }

    public enum Error: Swift.Error, CustomStringConvertible, Equatable {
        case visionTokenCount(kind: String, tokens: Int, features: Int)
        public var description: String {
            switch self {
            case .visionTokenCount(let kind, let tokens, let features):
                return "VideoRewardModel: \(tokens) \(kind) tokens in input_ids but the \(kind) grids give \(features) "
                    + "features"
            }
        }
    }

    /// Step 1: `[B, L, hidden]` input embeddings with the vision tower's tokens in their placeholders.
    public func inputEmbeddings(
        ids: [[Int]], pixelValuesVideos: Tensor? = nil, videoGrids: [(t: Int, h: Int, w: Int)] = [],
        pixelValues: Tensor? = nil, imageGrids: [(t: Int, h: Int, w: Int)] = []
    ) throws -> Tensor {
        let batch = ids.count
        let length = ids.first?.count ?? 0
        precondition(ids.allSatisfy { $0.count == length }, "VideoRewardModel: rows of different lengths")
        let hidden = model.config.hiddenSize
        let flatIDs = ids.flatMap { $0 }
        let tokens = model.embedTokens(Tensor(flatIDs.map { Int32($0) }, shape: [batch * length]))
        var sources = [tokens]
        var index = (0..<(batch * length)).map { Int32($0) }
        var offset = batch * length
        for (kind, tokenID, pixels, grids) in [
            ("image", imageTokenID, pixelValues, imageGrids), ("video", videoTokenID, pixelValuesVideos, videoGrids)
        ] {
            let slots = flatIDs.indices.filter { flatIDs[$0] == tokenID }
            let features = pixels.map { visual($0, grids: grids).asType(tokens.dtype) }
            let count = features?.dim(0) ?? 0
            guard slots.count == count else {
                throw Error.visionTokenCount(kind: kind, tokens: slots.count, features: count)
            }
            guard let features, count > 0 else { continue }
            for (k, slot) in slots.enumerated() { index[slot] = Int32(offset + k) }
            sources.append(features)
            offset += count
        }
        let all = sources.count == 1 ? tokens : concatenated(sources, axis: 0)
        return all.take(Tensor(index, shape: [index.count]), axis: 0).reshaped([batch, length, hidden])
    }

    /// Steps 1–2: the language model's last hidden state `[B, L, hidden]`.
    public func hiddenStates(
        ids: [[Int]], attentionMask: [[Int]]? = nil, pixelValuesVideos: Tensor? = nil,
        videoGrids: [(t: Int, h: Int, w: Int)] = [], pixelValues: Tensor? = nil,
        imageGrids: [(t: Int, h: Int, w: Int)] = []
    ) throws -> Tensor {
        let embeds = try inputEmbeddings(
            ids: ids, pixelValuesVideos: pixelValuesVideos, videoGrids: videoGrids, pixelValues: pixelValues,
            imageGrids: imageGrids)
        let mask = attentionMask.map { rows in
            Tensor(rows.flatMap { $0.map { Int32($0) } }, shape: [rows.count, rows.first?.count ?? 0])
        }
        return model(inputsEmbeds: embeds, attentionMask: mask)
    }

    /// The whole forward: `[B, pooling.outputWidth]` raw rewards (VQ, MQ, TA for the released checkpoint).
    public func callAsFunction(
        ids: [[Int]], attentionMask: [[Int]]? = nil, pixelValuesVideos: Tensor? = nil,
        videoGrids: [(t: Int, h: Int, w: Int)] = [], pixelValues: Tensor? = nil,
        imageGrids: [(t: Int, h: Int, w: Int)] = []
    ) throws -> Tensor {
        let hidden = try hiddenStates(
            ids: ids, attentionMask: attentionMask, pixelValuesVideos: pixelValuesVideos, videoGrids: videoGrids,
            pixelValues: pixelValues, imageGrids: imageGrids)
        return try pooling(rmHead(hidden), ids: ids).asType(.float32)
    }

    /// The same from transformers' tensors: `inputIDs`/`attentionMask [B, L]` (any integer or float type holding
    /// integers) and `videoGridTHW [N, 3]`.
    public func callAsFunction(
        inputIDs: Tensor, attentionMask: Tensor?, pixelValuesVideos: Tensor, videoGridTHW: Tensor
    ) throws -> Tensor {
        func rows(_ t: Tensor) -> [[Int]] {
            // Integer tensors read exactly; float ones (as goldens store ids) hold them exactly below 2^24.
            let values =
                t.dtype.isFloatingPoint
                ? t.asType(.float32).toArray(Float.self).map { Int($0) }
                : t.asType(.int32).toArray(Int32.self).map {
                    Int($0)
                }
            let width = t.dim(1)
            return (0..<t.dim(0)).map { Array(values[($0 * width)..<(($0 + 1) * width)]) }
        }
        let grids = rows(videoGridTHW).map { (t: $0[0], h: $0[1], w: $0[2]) }
        return try callAsFunction(
            ids: rows(inputIDs), attentionMask: attentionMask.map(rows), pixelValuesVideos: pixelValuesVideos,
            videoGrids: grids)
    }
}
