import Engine

/// Multi-head attention in diffusers' `Attention` / `FluxAttention` key layout:
/// `to_q`, `to_k`, `to_v`, `to_out.0` (Linear), optional `norm_q` / `norm_k` (per-head RMSNorm or LayerNorm),
/// and for joint text–image attention (FLUX's double-stream blocks) `add_q_proj`, `add_k_proj`, `add_v_proj`,
/// `to_add_out`, `norm_added_q`, `norm_added_k`. Inputs are `[B, L, dims]`.
///
/// Order of operations, as diffusers: project, split heads, normalise q and k per head, rotate q and k (rotary),
/// `softmax(q kᵀ / sqrt(headDimensions) + mask) v` with the engine's fused kernel, merge heads, project out. Heads
/// stay where the projections put them (`[B, L, heads, D]`): diffusers' transposes to `[B, heads, L, D]` would be
/// strided copies on the CPU (an eighth of a small FLUX's training time), and `sequenceMajorAttention` reads the heads
/// in place.
public final class MultiHeadAttention: Module {
    /// Per-head normalisation of queries and keys (diffusers' `qk_norm`).
    public enum QKNorm: Sendable {
        case none
        case rmsNorm(eps: Float = 1e-5)
        case layerNorm(eps: Float = 1e-5)
    }

    @Child(key: "to_q") public private(set) var toQuery: Linear
    @Child(key: "to_k") public private(set) var toKey: Linear
    @Child(key: "to_v") public private(set) var toValue: Linear
    /// Absent for FLUX's single-stream blocks (`pre_only`), whose caller projects the output itself.
    @Child(key: "to_out.0") public private(set) var toOut: Linear? = nil
    @Child(key: "norm_q") public private(set) var normQuery: Module? = nil
    @Child(key: "norm_k") public private(set) var normKey: Module? = nil
    @Child(key: "add_q_proj") public private(set) var addQuery: Linear? = nil
    @Child(key: "add_k_proj") public private(set) var addKey: Linear? = nil
    @Child(key: "add_v_proj") public private(set) var addValue: Linear? = nil
    @Child(key: "to_add_out") public private(set) var toAddOut: Linear? = nil
    @Child(key: "norm_added_q") public private(set) var normAddedQuery: Module? = nil
    @Child(key: "norm_added_k") public private(set) var normAddedKey: Module? = nil

    public let heads: Int
    public let keyValueHeads: Int
    public let headDimensions: Int

    /// - Parameters:
    ///   - contextDimensions: width of the cross-attention context (`cross_attention_dim`); nil is self-attention.
    ///   - keyValueHeads: fewer key/value heads than query heads (grouped-query attention); nil is `heads`.
    ///   - bias: bias of the q/k/v projections; `outputBias` that of `to_out.0` (and `to_add_out`).
    ///   - addedContextDimensions: enables joint attention (`added_kv_proj_dim`), see
    ///   ``joint(_:context:mask:rotary:)``.
    ///   - preOnly: no output projection.
    public init(
        queryDimensions: Int, contextDimensions: Int? = nil, heads: Int, headDimensions: Int,
        keyValueHeads: Int? = nil, outputDimensions: Int? = nil, bias: Bool = false, outputBias: Bool = true,
        qkNorm: QKNorm = .none, addedContextDimensions: Int? = nil, addedProjectionBias: Bool = true,
        preOnly: Bool = false, dtype: DType = .float32, key: RandomKey = RandomKey(seed: 0)
    ) {
        let kvHeads = keyValueHeads ?? heads
        precondition(
            heads % kvHeads == 0, "MultiHeadAttention: \(heads) heads do not group into \(kvHeads) key/value heads")
        self.heads = heads
        self.keyValueHeads = kvHeads
        self.headDimensions = headDimensions
        super.init()
        let inner = heads * headDimensions, innerKV = kvHeads * headDimensions
        let source = contextDimensions ?? queryDimensions
        let keys = key.split(into: 8)
        toQuery = Linear(queryDimensions, inner, bias: bias, dtype: dtype, key: keys[0])
        toKey = Linear(source, innerKV, bias: bias, dtype: dtype, key: keys[1])
        toValue = Linear(source, innerKV, bias: bias, dtype: dtype, key: keys[2])
        if !preOnly {
            toOut = Linear(inner, outputDimensions ?? queryDimensions, bias: outputBias, dtype: dtype, key: keys[3])
        }
        normQuery = MultiHeadAttention.makeNorm(qkNorm, headDimensions, dtype)
        normKey = MultiHeadAttention.makeNorm(qkNorm, headDimensions, dtype)
        if let added = addedContextDimensions {
            addQuery = Linear(added, inner, bias: addedProjectionBias, dtype: dtype, key: keys[4])
            addKey = Linear(added, innerKV, bias: addedProjectionBias, dtype: dtype, key: keys[5])
            addValue = Linear(added, innerKV, bias: addedProjectionBias, dtype: dtype, key: keys[6])
            toAddOut = Linear(inner, queryDimensions, bias: outputBias, dtype: dtype, key: keys[7])
            normAddedQuery = MultiHeadAttention.makeNorm(qkNorm, headDimensions, dtype)
            normAddedKey = MultiHeadAttention.makeNorm(qkNorm, headDimensions, dtype)
        }
    }

    private static func makeNorm(_ kind: QKNorm, _ dimensions: Int, _ dtype: DType) -> Module? {
        switch kind {
        case .none: return nil
        case .rmsNorm(let eps): return RMSNorm(dimensions, eps: eps, dtype: dtype)
        case .layerNorm(let eps): return LayerNorm(dimensions, eps: eps, dtype: dtype)
        }
    }

    /// Self-attention over `x [B, L, queryDimensions]`, or cross-attention to `context [B, Lc, contextDimensions]`.
    /// `rotary` rotates queries and keys alike (for cross-attention its tables must fit both lengths).
    /// Masks: see ``AttentionMask`` and the helpers ``AttentionMask/keyPadding(_:)``, ``AttentionMask/boolean(_:)``,
    /// ``AttentionMask/additive(_:)``; a query whose keys are all masked out gets NaN, as in PyTorch.
    /// With `sequenceParallel`, `x` is this rank's tokens (its replicated prefix and shard, `rotary` rotating them at
    /// their global positions) and `mask` covers the whole sequence; see ``SequenceParallelism``.
    public func callAsFunction(
        _ x: Tensor, context: Tensor? = nil, mask: AttentionMask = .none,
        rotary: RotaryEmbedding? = nil, sequenceParallel: SequenceParallelism? = nil
    ) -> Tensor {
        precondition(
            addQuery == nil || context == nil,
            "MultiHeadAttention: this layer has added context projections; call joint(_:context:) instead")
        let source = context ?? x
        let q = splitHeads(toQuery(x), count: heads, norm: normQuery)
        let k = splitHeads(toKey(source), count: keyValueHeads, norm: normKey)
        let v = splitHeads(toValue(source), count: keyValueHeads, norm: nil)
        let out = attend(q, k, v, mask: mask, rotary: rotary, sequenceParallel: sequenceParallel)
        return toOut.map { $0(out) } ?? out
    }

    /// Joint attention (FLUX's double-stream blocks): text `context` and image `x` are projected by their own
    /// layers, concatenated along the sequence as `[context, x]` and attend together; the output is split back and
    /// projected by `to_out.0` and `to_add_out`. `rotary` and `mask` cover the concatenated sequence. With
    /// `sequenceParallel` (its replicated prefix the context), `x` is this rank's shard and `rotary` covers `[context,
    /// shard]`, `mask` the whole sequence.
    public func joint(
        _ x: Tensor, context: Tensor, mask: AttentionMask = .none,
        rotary: RotaryEmbedding? = nil, sequenceParallel: SequenceParallelism? = nil
    ) -> (x: Tensor, context: Tensor) {
        guard let addQuery, let addKey, let addValue else {
            preconditionFailure("MultiHeadAttention.joint: built without addedContextDimensions")
        }
        let q = concatenated(
            [
                splitHeads(addQuery(context), count: heads, norm: normAddedQuery),
                splitHeads(toQuery(x), count: heads, norm: normQuery)
            ], axis: 1)
        let k = concatenated(
            [
                splitHeads(addKey(context), count: keyValueHeads, norm: normAddedKey),
                splitHeads(toKey(x), count: keyValueHeads, norm: normKey)
            ], axis: 1)
        let v = concatenated(
            [
                splitHeads(addValue(context), count: keyValueHeads, norm: nil),
                splitHeads(toValue(x), count: keyValueHeads, norm: nil)
            ], axis: 1)
        let out = attend(q, k, v, mask: mask, rotary: rotary, sequenceParallel: sequenceParallel)
        let contextLength = context.dim(1)
        let contextOut = out[.all, ..<contextLength], xOut = out[.all, contextLength...]
        return (toOut.map { $0(xOut) } ?? xOut, toAddOut.map { $0(contextOut) } ?? contextOut)
    }

    /// `[B, L, count · D]` → `[B, L, count, D]`, normalised per head.
    private func splitHeads(_ projected: Tensor, count: Int, norm: Module?) -> Tensor {
        let y = projected.reshaped([projected.dim(0), projected.dim(1), count, headDimensions])
        guard let norm = norm as? UnaryLayer else { return y }
        return norm(y)
    }

    /// Rotary, fused attention on `[B, L, heads, D]`, heads merged back to `[B, L, heads · D]`.
    private func attend(
        _ q: Tensor, _ k: Tensor, _ v: Tensor, mask: AttentionMask, rotary: RotaryEmbedding?,
        sequenceParallel: SequenceParallelism? = nil
    ) -> Tensor {
        var (q, k) = (q, k)
        if let rotary { q = rotary.sequenceMajor(q); k = rotary.sequenceMajor(k) }
        let scale = 1 / Float(headDimensions).squareRoot(), mask = mask.matching(q.dtype)
        let out =
            sequenceParallel.map {
                $0.attention(q, k, v) {
                    sequenceMajorAttention(queries: $0, keys: $1, values: $2, scale: scale, mask: mask)
                }
            } ?? sequenceMajorAttention(queries: q, keys: k, values: v, scale: scale, mask: mask)
        return out.reshaped([q.dim(0), q.dim(1), heads * headDimensions])
    }
}

extension AttentionMask {
    /// Which keys each sample may attend to: `keep [B, Lk]`, true (or nonzero) = attend (the convention of
    /// tokenizers' attention masks; the opposite of `torch.nn.MultiheadAttention`'s `key_padding_mask`).
    public static func keyPadding(_ keep: Tensor) -> AttentionMask {
        precondition(keep.ndim == 2, "AttentionMask.keyPadding: expected [B, Lk], got \(keep.shape)")
        let allowed = keep.dtype == .bool ? keep : keep .!= Tensor.zeros([], dtype: keep.dtype)
        return .array(allowed.reshaped([keep.dim(0), 1, 1, keep.dim(1)]))
    }

    /// True = attend; `[Lq, Lk]`, `[B, Lq, Lk]` (a head axis is inserted) or anything broadcastable to
    /// `[B, H, Lq, Lk]`.
    public static func boolean(_ allowed: Tensor) -> AttentionMask {
        precondition(allowed.dtype == .bool, "AttentionMask.boolean: expected a bool tensor, got \(allowed.dtype)")
        return .array(allowed.ndim == 3 ? allowed.expandedDims(axis: 1) : allowed)
    }

    /// Added to the scores before the softmax (−∞ or a large negative number masks a key); shapes as for
    /// ``boolean(_:)``.
    public static func additive(_ bias: Tensor) -> AttentionMask {
        precondition(
            bias.dtype.isFloatingPoint, "AttentionMask.additive: expected a floating tensor, got \(bias.dtype)")
        return .array(bias.ndim == 3 ? bias.expandedDims(axis: 1) : bias)
    }

    /// An additive mask in the queries' dtype, as the fused kernel requires.
    func matching(_ dtype: DType) -> AttentionMask {
        if case .array(let m) = self, m.dtype != .bool, m.dtype != dtype { return .array(m.asType(dtype)) }
        return self
    }
}
