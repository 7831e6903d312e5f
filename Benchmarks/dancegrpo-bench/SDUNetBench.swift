import Engine
import Foundation
import Models
import NN

/// `dancegrpo-bench sd-unet [--quick] [--repeats N] [--no-torch]`: forward and forward+backward time of Stable
/// Diffusion's UNet (`Models.UNet2DConditionModel`) on a medium config, float32, against diffusers on the same
/// machine. The diffusers twin is tools/bench/sd_unet_bench.py: same config, same input shapes, same repeat policy
/// (median of the timed runs after warm-ups); keep the two in step. The diffusers side runs after the Swift side.
enum SDUNetBench {
    static let mode = "sd-unet"
    static let script = "tools/bench/sd_unet_bench.py"

    /// SD v1's layout at reduced width: three levels (128, 256, 256), two layers per level, cross-attention in the
    /// first two down levels and the last two up levels, 8 heads, CLIP-L context width.
    static var config: UNet2DConditionConfig {
        var c = UNet2DConditionConfig()
        c.blockOutChannels = [128, 256, 256]
        c.downBlockTypes = ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"]
        c.upBlockTypes = ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"]
        c.layersPerBlock = .all(2)
        c.attentionHeadDim = .all(8)
        c.crossAttentionDim = .all(768)
        c.normNumGroups = 32
        c.sampleSize = [32]
        return c
    }

    /// 32×32 latents (256 px images), 77 text tokens, batch 2 (one CFG pair).
    static let batch = 2, latentSize = 32, textTokens = 77

    static func run(_ arguments: [String]) -> Int32? {
        guard arguments.count >= 2, arguments[1] == mode else { return nil }
        var quick = false, withTorch = true, repeats: Int?
        var rest = arguments.dropFirst(2)
        while let argument = rest.popFirst() {
            switch argument {
            case "--quick": quick = true
            case "--no-torch": withTorch = false
            case "--repeats":
                guard let text = rest.popFirst(), let n = Int(text), n >= 1 else {
                    FileHandle.standardError.write(
                        Data("dancegrpo-bench sd-unet: --repeats needs a positive integer\n".utf8))
                    return 2
                }
                repeats = n
            default:
                print("usage: dancegrpo-bench sd-unet [--quick] [--repeats N] [--no-torch]")
                return argument == "-h" || argument == "--help" ? 0 : 2
            }
        }
        let warmup = quick ? 1 : 2, timedRuns = repeats ?? (quick ? 3 : 10)
        let cores = ProcessInfo.processInfo.activeProcessorCount
        print("MLX \(Engine.mlxVersion); cblas_sgemm from \(Engine.sgemmProvider); \(cores) cores")
        print(
            """
            SD UNet: block_out_channels \(config.blockOutChannels), 2 layers per block, \(latentSize)×\(latentSize) \
            latents, \(textTokens) text tokens of 768, batch \(batch), float32
            """)

        let swiftPhase = BackgroundLoad()
        let model = UNet2DConditionModel(config, key: RandomKey(seed: 0))
        let keys = RandomKey(seed: 1).split(into: 2)
        let sample = Random.normal([batch, latentSize, latentSize, 4], key: keys[0])
        let context = Random.normal([batch, textTokens, 768], key: keys[1])
        let timesteps = Tensor([Int32(981), 501])
        eval([sample, context, timesteps] + Array(model.parameters().values))
        let forward = medianSeconds(warmup: warmup, repeats: timedRuns) {
            eval(model(sample, timesteps: timesteps, encoderHiddenStates: context))
        }
        print(String(format: "swift sd-unet: forward %.1f ms", 1e3 * forward))
        let forwardBackward = medianSeconds(warmup: warmup, repeats: timedRuns) {
            let (values, gradients) = valueAndGrad(model: model) {
                [model(sample, timesteps: timesteps, encoderHiddenStates: context).square().mean()]
            }
            precondition(gradients.count == model.trainableParameters().count, "a parameter got no gradient")
            eval(values + Array(gradients.values))
        }
        print(
            String(
                format: "swift sd-unet: forward+backward %.1f ms (%d parameters)", 1e3 * forwardBackward,
                model.parameterCount()))
        let swiftBackground = swiftPhase.otherCores()

        guard withTorch else { return 0 }
        guard let root = FluxProcesses.packageRoot(containing: script),
            let python = FluxProcesses.python(importing: ["torch", "diffusers"], root: root)
        else {
            print("torch/diffusers or \(script) not found: ratios skipped")
            return 0
        }
        let torchPhase = BackgroundLoad()
        let arguments = [
            root.appendingPathComponent(script).path, "--json", "--warmup", "\(warmup)", "--repeats", "\(timedRuns)",
            "--threads", "\(cores)"
        ]
        guard let (status, output) = FluxProcesses.run(python, arguments), status == 0,
            let object = try? JSONSerialization.jsonObject(with: output) as? [String: Any],
            let torchForward = object["forward_ms"] as? Double,
            let torchBackward = object["forward_backward_ms"] as? Double
        else {
            print("\(script) failed: ratios skipped")
            return 0
        }
        let torchBackground = torchPhase.otherCores()
        print("")
        print(
            """
            diffusers \(object["diffusers_version"] ?? "?"), torch \(object["torch_version"] ?? "?"), \
            \(object["threads"] ?? "?") threads; parameters \(object["parameters"] ?? "?") (Swift \
            \(model.parameterCount()))
            """)
        print(
            """
            timings: median of \(timedRuns) timed runs after \(warmup) warm-up run(s); ratio = diffusers/Swift, > 1 \
            means Swift is faster
            """
        )
        print(
            String(
                format: "forward:          Swift %8.1f ms   diffusers %8.1f ms   ratio %.2f×", 1e3 * forward,
                torchForward, torchForward / (1e3 * forward)))
        print(
            String(
                format: "forward+backward: Swift %8.1f ms   diffusers %8.1f ms   ratio %.2f×", 1e3 * forwardBackward,
                torchBackward,
                torchBackward / (1e3 * forwardBackward)))
        let phases = [("Swift", swiftBackground), ("diffusers", torchBackground)].compactMap { name, cores in
            cores.map { (name, $0) }
        }
        if !phases.isEmpty {
            print(
                "other processes used "
                    + phases.map { String(format: "%.2f cores during the %@ runs", $0.1, $0.0) }.joined(separator: ", ")
            )
        }
        return 0
    }
}
