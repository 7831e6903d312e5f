import Engine

// Layout of every Wan VAE activation: channels-last video `[B, T, H, W, C]` (B batch, T frames, H × W pixels or
// latent positions, C channels); diffusers' is `[B, C, T, H, W]`.

// https://github.com/huggingface/diffusers/blob/v0.42.1/src/diffusers/models/autoencoders/autoencoder_kl_wan.py#L1127
/// diffusers' `feat_cache` list and `feat_idx` counter for one `encode` or `decode` call:
/// the VAE runs time in chunks (encode: frame 0, then 4 frames at a time; decode: one latent frame at a time), and
/// every causal convolution and temporal resample keeps here what the next chunk needs from this one. Sites take their
/// entries in the order the network visits them, which is the same in every chunk; an entry is created when a site
/// first asks for it.
public final class WanFeatureCache {
    public enum Entry {
        /// Nothing yet: this is the first chunk (diffusers' `None`).
        case empty
        /// The first chunk passed a temporal upsampler, which leaves the first frame alone; the next chunk upsamples
        /// with zeros for a past (diffusers' `"Rep"`).
        case zeroPast
        /// The last frames of this site's input, `[B, 1 or 2, H, W, C]`.
        case frames(Tensor)

        var frames: Tensor? {
            if case .frames(let t) = self { return t }
            return nil
        }
    }

    private var entries: [Entry] = []
    private var cursor = 0

    public init() {}

    /// Starts a chunk: the sites are visited again from the first (diffusers' `feat_idx = [0]`).
    public func startChunk() { cursor = 0 }

    /// Gives the current site's entry to `body`, keeps the entry it returns for the next chunk, and moves on to the
    /// next site; returns `body`'s output.
    public func visit(_ body: (Entry) -> (keep: Entry, output: Tensor)) -> Tensor {
        if cursor == entries.count { entries.append(.empty) }
        let (keep, output) = body(entries[cursor])
        entries[cursor] = keep
        cursor += 1
        return output
    }
}

extension Tensor {
    /// The last `count` frames (fewer if there are fewer) of a `[B, T, …]` video.
    func lastFrames(_ count: Int) -> Tensor {
        let t = dim(1)
        return self[.all, Swift.max(0, t - count)..<t]
    }
}
