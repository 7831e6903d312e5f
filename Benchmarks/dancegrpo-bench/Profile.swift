// TEMPORARY diagnosis, to be deleted.
import Engine
import NN
import Foundation

func profileComponents() {
    let x = Random.normal([8, 256, 256], key: RandomKey(seed: 1))
    let h = Random.normal([8, 256, 1024], key: RandomKey(seed: 2))
    let q = Random.normal([8, 4, 256, 64], key: RandomKey(seed: 3))
    let w = Tensor.ones([256]), b = Tensor.zeros([256])
    let l1 = Linear(256, 768), l2 = Linear(256, 1024), l3 = Linear(1024, 256)
    eval(x, h, q, w, b, l1.weight, l2.weight, l3.weight, l1.bias!, l2.bias!, l3.bias!)
    func t(_ name: String, _ body: () -> Void) {
        let s = medianSeconds(warmup: 2, repeats: 10, body)
        print(name.padding(toLength: 30, withPad: " ", startingAt: 0) + String(format: "%8.2f ms", s * 1e3))
    }
    t("layerNorm 8x256x256") { eval(layerNorm(x, weight: w, bias: b, eps: 1e-5)) }
    t("add 8x256x256") { eval(x + x) }
    t("linear 256->768") { eval(l1(x)) }
    t("matmul 2048x256 @ 256x768") { eval(x.reshaped(2048, 256).matmul(l1.weight.T)) }
    t("linear 256->1024") { eval(l2(x)) }
    t("linear 1024->256") { eval(l3(h)) }
    t("sdpa 8x4x256x64") { eval(scaledDotProductAttention(queries: q, keys: q, values: q, scale: 0.125)) }
    t("q@kT 8x4x256x64") { eval(q.matmul(q.transposed(0, 1, 3, 2))) }
    t("softmax 8x4x256x256") { let s = q.matmul(q.transposed(0, 1, 3, 2)); eval(s); eval(softmax(s)) }
    t("gelu 8x256x1024") { eval(gelu(h)) }
    t("erf 8x256x1024") { eval(h.erf()) }
    t("geluApproximate 8x256x1024") { eval(geluApproximate(h)) }
    t("tanh 8x256x1024") { eval(h.tanh()) }
    t("exp 8x256x1024") { eval(h.exp()) }
    t("sigmoid 8x256x1024") { eval(sigmoid(h)) }
    let compiledGelu = CompiledFunction { [gelu($0[0])] }
    t("compiled gelu 8x256x1024") { eval(compiledGelu([h])) }
    t("max axis -1 8x256x1024") { eval(h.max(axis: -1, keepDims: true)) }
    t("sum axis -1 8x256x1024") { eval(h.sum(axis: -1, keepDims: true)) }
    t("softmax 8x256x1024") { eval(softmax(h)) }
    t("softmax precise 8x256x1024") { eval(softmax(h, precise: true)) }
    t("mul 8x256x1024") { eval(h * h) }
    t("transpose+reshape copy") { eval(q.transposed(0, 2, 1, 3).reshaped(8, 256, 256) + 0) }
}
