import Engine
import NN

// https://github.com/huggingface/diffusers/blob/v0.42.1/src/diffusers/models/autoencoders/autoencoder_kl_wan.py#L228
/// diffusers' `WanResample`:
/// halves or doubles height and width frame by frame with a 2D convolution (`resample.1`; `resample.0` is the
/// parameterless zero pad or nearest upsample), and in the 3D modes also halves or doubles time with `time_conv`, a
/// causal convolution over 3 frames. Activations `[B, T, H, W, C]`.
public final class WanResample: Module {
    public enum Mode: String, Sendable {
        /// Nearest ×2, then a 3×3 convolution to `upsampleOutputChannels`.
        case upsample2d
        /// Time doubled first: `time_conv` makes 2·C channels, read as two frames per input frame.
        case upsample3d
        /// Zero pad right and bottom, then a 3×3 convolution with stride 2.
        case downsample2d
        /// Then time halved: `time_conv` with stride 2 over the previous chunk's last frame and this chunk's.
        case downsample3d

        var isUpsample: Bool { self == .upsample2d || self == .upsample3d }
    }

    public let mode: Mode
    @Child(key: "resample.1") public var conv: Conv2d
    @Child(key: "time_conv") public var timeConv: WanCausalConv3d? = nil

    /// `upsampleOutputChannels` nil is diffusers' default, `channels / 2` (what Wan 2.1's decoder uses).
    public init(
        channels: Int, mode: Mode, upsampleOutputChannels: Int? = nil, dtype: DType = .float32,
        key: RandomKey = RandomKey(seed: 0)
    ) {
        self.mode = mode
        super.init()
        let keys = key.split(into: 2)
        if mode.isUpsample {
            conv = Conv2d(
                channels, upsampleOutputChannels ?? channels / 2, kernelSize: 3, padding: 1, dtype: dtype, key: keys[0])
        } else {
            conv = Conv2d(channels, channels, kernelSize: 3, stride: 2, dtype: dtype, key: keys[0])
        }
        switch mode {
        case .upsample3d:
            timeConv = WanCausalConv3d(
                channels, 2 * channels, kernelSize: [3, 1, 1], padding: [1, 0, 0], dtype: dtype, key: keys[1])
        case .downsample3d:
            timeConv = WanCausalConv3d(
                channels, channels, kernelSize: [3, 1, 1], stride: [2, 1, 1], dtype: dtype, key: keys[1])
        case .upsample2d, .downsample2d: break
        }
    }

    /// One chunk `[B, T, H, W, C]`; the 3D modes keep what the next chunk needs in `cache` (one entry).
    public func callAsFunction(_ x: Tensor, cache: WanFeatureCache) -> Tensor {
        var x = mode == .upsample3d ? upsampleTime(x, cache: cache) : x
        let (b, t, h, w, c) = (x.dim(0), x.dim(1), x.dim(2), x.dim(3), x.dim(4))
        var frames = x.reshaped([b * t, h, w, c])
        if mode.isUpsample {
            // diffusers upsamples with "nearest-exact", which at an integer factor of 2 repeats each pixel.
            frames = conv(frames.upsampledNearest(scale: 2))
        } else {
            frames = conv(frames.padded([(0, 0), (0, 1), (0, 1)]))  // nn.ZeroPad2d((0, 1, 0, 1))
        }
        x = frames.reshaped([b, t, frames.dim(1), frames.dim(2), frames.dim(3)])
        return mode == .downsample3d ? downsampleTime(x, cache: cache) : x
    }

    /// The first chunk's frames pass unchanged (diffusers marks the entry "Rep"); every later chunk gets two output
    /// frames per input frame, with the previous chunk's last two frames (zeros after the first chunk) as the causal
    /// past.
    private func upsampleTime(_ x: Tensor, cache: WanFeatureCache) -> Tensor {
        let timeConv = timeConv!
        return cache.visit { entry in
            var keep = x.lastFrames(2)
            let y: Tensor
            switch entry {
            case .empty:
                return (.zeroPast, x)
            case .zeroPast:
                if keep.dim(1) < 2 { keep = concatenated([Tensor.zeros(like: keep), keep], axis: 1) }
                y = timeConv(x)
            case .frames(let past):
                if keep.dim(1) < 2 { keep = concatenated([past.lastFrames(1), keep], axis: 1) }
                y = timeConv(x, past: past)
            }
            // Channels [k·C + c] of frame t are channel c of output frame 2t + k (diffusers' reshape to
            // [B, 2, C, T, H, W] and stack on the frame axis).
            let (b, t, h, w, c2) = (y.dim(0), y.dim(1), y.dim(2), y.dim(3), y.dim(4))
            let doubled = y.reshaped([b, t, h, w, 2, c2 / 2]).transposed([0, 1, 4, 2, 3, 5])
                .reshaped([b, 2 * t, h, w, c2 / 2])
            return (.frames(keep), doubled)
        }
    }

    /// The first chunk's frames pass unchanged (and are kept); every later chunk is joined to the previous chunk's
    /// last frame and convolved with stride 2 over time, so 4 frames give 2 and 2 give 1.
    private func downsampleTime(_ x: Tensor, cache: WanFeatureCache) -> Tensor {
        let timeConv = timeConv!
        return cache.visit { entry in
            guard let past = entry.frames else { return (.frames(x), x) }
            return (.frames(x.lastFrames(1)), timeConv(concatenated([past.lastFrames(1), x], axis: 1)))
        }
    }
}
