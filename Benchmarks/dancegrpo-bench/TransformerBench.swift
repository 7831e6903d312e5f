import Engine
import NN

/// Forward and forward+backward time of a small pre-norm transformer, built from plain engine ops and `Linear` so
/// that it measures the engine rather than any particular model file. The PyTorch twin is
/// tools/bench/torch_bench.py (`Transformer`); both must keep the same shapes and architecture.
enum TransformerBench {
    static let layers = 8, hidden = 256, heads = 4, mlpHidden = 1024, batch = 8, tokens = 256
    static let layerNormEps: Float = 1e-5

    struct Result {
        var parameterCount: Int
        var forwardSeconds: Double
        var forwardBackwardSeconds: Double
    }

    static func run(warmup: Int, repeats: Int) -> Result {
        let model = Transformer(key: RandomKey(seed: 0))
        let x = Random.normal([batch, tokens, hidden], key: RandomKey(seed: 1))
        eval([x] + Array(model.parameters().values))
        let parameterCount = model.parameterCount()

        let forward = medianSeconds(warmup: warmup, repeats: repeats) { eval(model(x)) }
        let forwardBackward = medianSeconds(warmup: warmup, repeats: repeats) {
            let (values, gradients) = valueAndGrad(model: model) { [model(x).square().mean()] }
            precondition(gradients.count == model.trainableParameters().count, "a parameter got no gradient")
            eval(values + Array(gradients.values))
        }
        return Result(parameterCount: parameterCount, forwardSeconds: forward, forwardBackwardSeconds: forwardBackward)
    }

    /// LayerNorm over the last axis with learned scale and shift (PyTorch's `nn.LayerNorm`).
    final class Norm: Module {
        @Param var weight: Tensor
        @Param var bias: Tensor

        init(_ features: Int) {
            weight = .ones([features])
            bias = .zeros([features])
            super.init()
        }

        func callAsFunction(_ x: Tensor) -> Tensor { layerNorm(x, weight: weight, bias: bias, eps: layerNormEps) }
    }

    /// Multi-head self-attention with a fused q/k/v projection and the engine's fused attention kernel.
    final class SelfAttention: Module {
        let qkv: Linear
        let out: Linear
        let heads: Int

        init(hidden: Int, heads: Int, key: RandomKey) {
            let keys = key.split(into: 2)
            qkv = Linear(hidden, 3 * hidden, key: keys[0])
            out = Linear(hidden, hidden, key: keys[1])
            self.heads = heads
            super.init()
        }

        func callAsFunction(_ x: Tensor) -> Tensor {
            let (b, l, d) = (x.dim(0), x.dim(1), x.dim(2))
            let headDim = d / heads
            let qkvHeads = qkv(x).split(parts: 3, axis: -1).map {
                $0.reshaped(b, l, heads, headDim).transposed(0, 2, 1, 3)
            }
            let attended = scaledDotProductAttention(
                queries: qkvHeads[0], keys: qkvHeads[1], values: qkvHeads[2], scale: 1 / Float(headDim).squareRoot())
            return out(attended.transposed(0, 2, 1, 3).reshaped(b, l, d))
        }
    }

    /// x + attention(LN(x)), then x + MLP(LN(x)) with an exact (erf) GELU.
    final class Block: Module {
        let norm1: Norm
        let attention: SelfAttention
        let norm2: Norm
        let fc1: Linear
        let fc2: Linear

        init(key: RandomKey) {
            let keys = key.split(into: 3)
            norm1 = Norm(hidden)
            attention = SelfAttention(hidden: hidden, heads: heads, key: keys[0])
            norm2 = Norm(hidden)
            fc1 = Linear(hidden, mlpHidden, key: keys[1])
            fc2 = Linear(mlpHidden, hidden, key: keys[2])
            super.init()
        }

        func callAsFunction(_ x: Tensor) -> Tensor {
            let h = x + attention(norm1(x))
            return h + fc2(gelu(fc1(norm2(h))))
        }
    }

    final class Transformer: Module {
        let blocks: [Block]

        init(key: RandomKey) {
            blocks = key.split(into: layers).map { Block(key: $0) }
            super.init()
        }

        func callAsFunction(_ x: Tensor) -> Tensor { blocks.reduce(x) { h, block in block(h) } }
    }
}
