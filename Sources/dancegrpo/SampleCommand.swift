import ArgumentParser
import Engine
import Foundation
import Imaging
import Models
import NN

/// Text-to-image sampling from a diffusers checkpoint folder (the seed's visualisation script, without copying files
/// into the model folder): one PNG per prompt, a captioned grid when there are several, optional final latents.
struct SampleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sample",
        abstract: "Generate images from prompts with a FLUX checkpoint folder.")

    @Option(help: "Model family (flux).")
    var model = "flux"

    @Option(help: "A diffusers FLUX folder (transformer/, vae/, text_encoder/, tokenizer/, text_encoder_2/, tokenizer_2/, scheduler/).")
    var checkpoint: String

    @Option(help: "A prompt (repeatable).")
    var prompt: [String] = []

    @Option(help: "A text file with one prompt per line (blank lines are skipped).")
    var promptsFile: String?

    @Option(help: "Denoising steps.")
    var steps = 16

    @Option(help: "Image height in pixels (rounded down to a multiple of 16).")
    var height = 720

    @Option(help: "Image width in pixels (rounded down to a multiple of 16).")
    var width = 720

    @Option(help: "Embedded guidance scale.")
    var guidance: Float = 3.5

    @Option(help: "Static time shift instead of the scheduler config's rule (DanceGRPO rollouts use 3).")
    var shift: Float?

    @Option(help: "Seed of the initial noise; prompt i uses seed + i.")
    var seed: UInt64 = 42

    @Option(help: "Output folder.")
    var out = "outputs/samples"

    @Option(help: "A safetensors file with packed initial latents [N, tokens, channels] (key 'latents' or its only tensor), to compare with another implementation from the same noise.")
    var initialNoise: String?

    @Flag(help: "Also write the final packed latents to latents.safetensors.")
    var saveLatents = false

    @Option(help: "A fine-tuned transformer to use instead of <checkpoint>/transformer: a training checkpoint folder (checkpoint-<n>-<e>/) or a transformer folder.")
    var transformer: String?

    @Option(help: "A LoRA adapter (.safetensors, PEFT/diffusers keys) to merge into the transformer.")
    var lora: String?

    @Option(help: "Weight dtype: float32, bfloat16 or float16. float32 by default: MLX's CPU back end has no fast bfloat16 matrix product (30× slower than float32 here); on a GPU back end bfloat16 halves memory.")
    var dtype = "float32"

    @Option(help: "T5 tokens (FLUX uses 512).")
    var maxSequenceLength = 512

    func run() throws {
        guard model == "flux" else { throw ValidationError("unknown model '\(model)' (available: flux)") }
        let prompts = try PromptList.load(prompts: prompt, file: promptsFile)
        guard !prompts.isEmpty else { throw ValidationError("give --prompt or --prompts-file") }
        let weightsDType = try parseDType(dtype)

        let started = Date()
        let pipeline = try FluxPipeline.load(from: URL(fileURLWithPath: checkpoint), dtype: weightsDType,
                                             transformerFolder: transformer.map { URL(fileURLWithPath: $0) }) {
            FileHandle.standardError.write(Data("loading \($0)…\n".utf8))
        }
        if let lora {
            let config = try pipeline.transformer.loadLoRA(from: URL(fileURLWithPath: lora))
            pipeline.transformer.mergeLoRA()
            print("merged LoRA rank \(config.rank), alpha \(config.alpha) from \(lora)")
        }
        print(String(format: "loaded %@ in %.1fs (%@ transformer parameters)", checkpoint, Date().timeIntervalSince(started),
                     formatCount(pipeline.transformer.parameterCount())))

        let outFolder = URL(fileURLWithPath: out)
        try FileManager.default.createDirectory(at: outFolder, withIntermediateDirectories: true)
        var given: Tensor?
        if let initialNoise {
            let file = try SafeTensorsFile(url: URL(fileURLWithPath: initialNoise))
            let key = file.entries["latents"] != nil ? "latents" : file.keys.first
            guard let key, file.entries.count == 1 || key == "latents" else {
                throw ValidationError("\(initialNoise): expected a tensor 'latents' or a single tensor, found \(file.keys)")
            }
            given = try file.tensor(key)
            let expected = pipeline.initialNoise(count: prompts.count, height: height, width: width, key: RandomKey(seed: 0)).shape
            guard given!.shape == expected else {
                throw ValidationError("\(initialNoise): '\(key)' has shape \(given!.shape), expected \(expected) for \(prompts.count) prompt(s) at \(height)×\(width)")
            }
        }

        var images: [RGBImage] = [], finals: [Tensor] = []
        let bar = ProgressBar(total: prompts.count * steps, label: "sampling")
        for (i, text) in prompts.enumerated() {
            let embeddings = pipeline.textEncoders!.encode([text], maxSequenceLength: maxSequenceLength)
            let noise = given.map { $0[i..<(i + 1)] }
                ?? pipeline.initialNoise(count: 1, height: height, width: width, key: RandomKey(seed: seed &+ UInt64(i)))
            let latents = pipeline.denoise(noise, embeddings: embeddings, height: height, width: width, steps: steps,
                                           guidance: guidance, shift: shift) { done, _ in bar.update(i * steps + done) }
            let pixels = pipeline.decode(latents, height: height, width: width)
            let image = try RGBImage(hwc: pixels.toArray(Float.self), shape: pixels.shape, range: .zeroToOne)
            let file = outFolder.appendingPathComponent(String(format: "%03d-%@.png", i, PromptList.slug(text)))
            try PNGEncoder.write(image, to: file)
            images.append(image)
            finals.append(latents)
        }
        if prompts.count > 1 {
            try ImageGrid().writePNG(images, captions: prompts, to: outFolder.appendingPathComponent("grid.png"))
        }
        if saveLatents {
            try SafeTensors.save(["latents": concatenated(finals, axis: 0)], metadata: ["prompts": prompts.joined(separator: "\n")],
                                 to: outFolder.appendingPathComponent("latents.safetensors"))
        }
        print("wrote \(prompts.count) image(s) to \(outFolder.path) in \(formatDuration(Date().timeIntervalSince(started)))")
    }
}

func parseDType(_ name: String) throws -> DType {
    switch name.lowercased() {
    case "float32", "fp32": return .float32
    case "bfloat16", "bf16": return .bfloat16
    case "float16", "fp16": return .float16
    default: throw ValidationError("unknown dtype '\(name)' (float32, bfloat16, float16)")
    }
}
