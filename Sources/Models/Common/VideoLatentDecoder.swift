import Engine

/// A video VAE as the video pipelines decode with it: the transformer's latents back to raw ones
/// (``denormalize(_:)``), those to clips `[B, 3, F, H, W]` in [−1, 1] (``decode(_:)``), computed in the dtype of its
/// weights.
public protocol VideoLatentDecoder: AnyObject {
    func denormalize(_ latents: Tensor) -> Tensor
    func decode(_ latents: Tensor) -> Tensor
    /// The dtype the decoder computes in: raw latents are cast to it.
    var weightDType: DType { get }
}

extension VideoLatentDecoder {
    /// Final latents `[B, C, f, h, w]` → videos `[B, F, H, W, 3]` in [0, 1]: `vae.decode` of the denormalized
    /// latents, then `VideoProcessor.postprocess_video`'s `x / 2 + 0.5` clamped.
    public func decodeVideos(_ latents: Tensor) -> Tensor {
        let raw = denormalize(latents.asType(.float32))
        let video = decode(raw.asType(weightDType)).asType(.float32)
        return ((video + 1) * 0.5).clipped(min: 0, max: 1).transposed([0, 2, 3, 4, 1])
    }
}

extension AutoencoderKLWan: VideoLatentDecoder {
    public var weightDType: DType { quantConv.weight.dtype }
}

extension AutoencoderKLHunyuanVideo: VideoLatentDecoder {
    public var weightDType: DType { quantConv.weight.dtype }
}
