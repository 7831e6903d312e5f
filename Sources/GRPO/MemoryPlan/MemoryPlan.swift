import Engine

/// Each rank's memory for a training run, item by item, from sizes alone (no weights loaded): the accounting of
/// float32 master weights, AdamW's two float32 moments and the sharding of DeepSpeed's ZeRO stages, so a run that
/// cannot fit stops before hours of work instead of failing in them.
public struct MemoryPlan: Sendable, Equatable {
    /// What the plan is computed from.
    public struct Inputs: Sendable, Equatable {
        /// Parameters that train (the whole network, or LoRA adapters): P.
        public var trainableParameters: Int
        /// Bytes of parameters that never train (a LoRA base, a VAE, text encoders): whole on every rank.
        public var frozenBytes = 0
        /// Parameters of the largest unit ZeRO-3 gathers at once (the biggest checkpointed block).
        public var largestUnitParameters = 0
        /// Ranks: W.
        public var worldSize = 1
        /// ZeRO stage s (0–3); with one rank there is nothing to shard, so it counts as 0.
        public var zeroStage = 0
        /// The forward and backward passes' dtype (float32, or bfloat16/float16 under mixed precision).
        public var computeDType = DType.float32
        public var ema = false
        /// A KL reference copy of the trained parameters (β > 0).
        public var reference = false
        public var gradientCheckpointing = false
        /// Rows (sample, transition) of one training call, times the guidance branches.
        public var transitionsPerCall = 1
        /// Samples of one rollout call.
        public var rolloutBatch = 1
        /// The network's activations per row; nil when the family gives no estimate (counted as 0, and said).
        public var activations: ActivationEstimate?

        public init(trainableParameters: Int) { self.trainableParameters = trainableParameters }
    }

    /// One line of the plan.
    public enum Item: String, CaseIterable, Sendable {
        case weights, frozen, gradients, optimizer, ema, reference
        /// A training call's activations kept for the backward pass.
        case activations
        /// A rollout call's forward working set (never at the same time as training's: the larger one counts).
        case rollout
        /// The optimizer step's transient: clipped gradients, new moments and new weights (of this rank's share)
        /// exist beside the old ones until the step is evaluated, and stage 1 and 2 gather the new whole weights;
        /// the call's gradient is gone by then.
        case optimizerStep
    }

    public let inputs: Inputs

    public init(_ inputs: Inputs) { self.inputs = inputs }

    /// The stage that takes effect: sharding needs more than one rank.
    public var stage: Int { inputs.worldSize > 1 ? min(max(inputs.zeroStage, 0), 3) : 0 }

    /// Bytes of `item` on one rank.
    public func bytes(_ item: Item) -> Int {
        let p = inputs.trainableParameters, unit = inputs.largestUnitParameters
        let compute = inputs.computeDType.size
        let mixed = inputs.computeDType != .float32
        // A rank's share of p parameters, rounded up as the last shard is padded.
        func shard(_ count: Int) -> Int { (count + inputs.worldSize - 1) / inputs.worldSize }
        switch item {
        case .weights:
            // ZeRO-3 keeps a shard of the master weights and gathers one unit for the forward of a block while the
            // neighbouring block's backward still holds its own.
            if stage == 3 { return 4 * shard(p) + 2 * unit * compute }
            // Stages 1 and 2 keep the whole weights in the model and this rank's float32 share for the optimizer.
            return 4 * p + (stage > 0 ? 4 * shard(p) : 0) + (mixed ? compute * p : 0)
        case .frozen:
            return inputs.frozenBytes
        case .gradients:
            // Below stage 2 the accumulated gradient sits beside the call's; stage 2 reduce-scatters the call's
            // gradient into an accumulated shard; stage 3 produces it unit by unit: a block's
            // backward holds its tensors' gradients, their concatenation and the reduced sum (ring and MPI all-sum
            // it whole before keeping the share) at once, measured with make bench-scale.
            // (Stage 2's call gradient is whole only during the call: it is counted with the call's activations.)
            switch stage {
            case 0, 1: return 8 * p
            case 2: return 4 * shard(p)
            default: return 4 * shard(p) + 3 * 4 * unit
            }
        case .optimizer:
            return stage == 0 ? 8 * p : 8 * shard(p)
        case .ema:
            // Sharded stages average this rank's shares.
            guard inputs.ema else { return 0 }
            return stage > 0 ? 4 * shard(p) : 4 * p
        case .reference:
            // Replicated, a snapshot in the compute dtype; sharded, this rank's float32 shares of the initial weights.
            guard inputs.reference else { return 0 }
            return stage > 0 ? 4 * shard(p) : compute * p
        case .activations:
            let perRow = inputs.activations?.perRow(checkpointing: inputs.gradientCheckpointing) ?? 0
            return perRow * inputs.transitionsPerCall * compute + (stage == 2 ? 4 * p : 0)
        case .rollout:
            return (inputs.activations?.forward ?? 0) * inputs.rolloutBatch * compute
        case .optimizerStep:
            // Measured at stage 0 (Benchmarks/dancegrpo-bench/ScaleBench.swift): 32 bytes per parameter at the
            // step's peak, 12 over the 20 the held items count.
            // Stages 1 and 2 (measured there too) gather the new whole weights while the old are still held.
            switch stage {
            case 0: return 12 * p
            case 1, 2: return 4 * p + 16 * shard(p)
            default: return 16 * shard(p)
            }
        }
    }

    /// The phases that never overlap: a training call's activations, a rollout call, the optimizer step.
    static let phases: [Item] = [.activations, .rollout, .optimizerStep]

    /// The rank's peak: every held item, plus the largest of the phases.
    public var total: Int {
        let held = Item.allCases.filter { !Self.phases.contains($0) }.reduce(0) { $0 + bytes($1) }
        return held + (Self.phases.map(bytes).max() ?? 0)
    }

    /// Whether the plan fits `deviceBytes`.
    public func fits(_ deviceBytes: Int) -> Bool { total <= deviceBytes }
}
