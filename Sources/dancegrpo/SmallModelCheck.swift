import Dispatch
import Engine
import NN

/// A two-layer MLP regressing a fixed random teacher network: small enough for a second, big enough to show a
/// broken gradient or update.
struct SmallModelCheck {
    let steps: Int

    struct Report {
        var parameterCount: Int
        var forwardMilliseconds: Double
        var backwardMilliseconds: Double
        var initialLoss: Float
        var finalLoss: Float
        var trainingSeconds: Double
    }

    final class MLP: Module {
        let fc1: Linear
        let fc2: Linear
        init(seed: UInt64) {
            let keys = RandomKey(seed: seed).split(into: 2)
            fc1 = Linear(32, 128, key: keys[0])
            fc2 = Linear(128, 8, key: keys[1])
        }
        func callAsFunction(_ x: Tensor) -> Tensor { fc2(gelu(fc1(x))) }
    }

    func run() throws -> Report {
        let teacher = MLP(seed: 100)
        let student = MLP(seed: 200)
        let x = Random.normal([256, 32], key: RandomKey(seed: 3))
        let y = teacher(x)
        eval(y)
        let loss = { (student(x) - y).square().mean() }

        let forward = time { eval(student(x)) }
        let backward = time {
            let (values, grads) = valueAndGrad(model: student) { [loss()] }
            eval(values + Array(grads.values))
        }

        let initial = loss().item(Float.self)
        let learningRate: Float = 0.05
        let start = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<steps {
            let (_, grads) = valueAndGrad(model: student) { [loss()] }
            var updated: [String: Tensor] = [:]
            for (key, value) in student.trainableParameters() { updated[key] = value - learningRate * grads[key]! }
            student.update(parameters: updated)
            eval(Array(updated.values))
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        return Report(
            parameterCount: student.parameterCount(), forwardMilliseconds: forward,
            backwardMilliseconds: backward, initialLoss: initial, finalLoss: loss().item(Float.self),
            trainingSeconds: seconds)
    }

    /// Median milliseconds of a few runs after a warm-up.
    private func time(_ body: () -> Void) -> Double {
        body()
        var samples: [Double] = []
        for _ in 0..<7 {
            let start = DispatchTime.now().uptimeNanoseconds
            body()
            samples.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
        }
        return samples.sorted()[samples.count / 2]
    }
}
