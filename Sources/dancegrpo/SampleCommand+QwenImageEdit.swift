import ArgumentParser
import Engine
import Foundation
import Imaging
import Models
import Sampling

extension SampleCommand {
    /// Qwen-Image-Edit as diffusers' `QwenImageEditPipeline` samples it: the `--image` PNG resized to the condition
    /// area (`--image-area`, diffusers' 1024²) at its aspect ratio, seen by the vision tower in each prompt's template
    /// and joined to the latents through the VAE; true CFG (`--guidance`, default 4) against `--negative-prompt` when
    /// one is given. The output size defaults to the condition's. One PNG per prompt; `--initial-noise` /
    /// `--save-latents` in the packed layout the pipeline takes as `latents` and returns with `output_type="latent"`.
    func runQwenImageEdit(_ prompts: [String]) throws {
        guard let image else { throw ValidationError("--model qwen-image-edit needs --image IN.png") }
        let area = imageArea ?? QwenImageEditPipeline.defaultTargetArea
        guard area > 0 else { throw ValidationError("--image-area must be positive, got \(area)") }
        let steps = self.steps ?? QwenImageEditPipeline.defaultSteps
        let guidance = self.guidance ?? QwenImageEditPipeline.defaultTrueCFGScale
        let source = try Self.conditionRGB(URL(fileURLWithPath: image))
        let started = Date()
        FileHandle.standardError.write(Data("loading transformer, vae, text encoder and vision tower…\n".utf8))
        let pipeline = try QwenImageEditPipeline.load(
            from: URL(fileURLWithPath: checkpoint), dtype: dtype,
            transformerFolder: transformer.map { URL(fileURLWithPath: $0) })
        print(
            String(
                format: "loaded %@ in %.1fs (%@ transformer parameters, %@)", checkpoint,
                Date().timeIntervalSince(started), formatCount(pipeline.base.transformer.parameterCount()),
                pipeline.base.scheduler.className))
        if guidance > 1, negativePrompt.isEmpty {
            print("note: no --negative-prompt, so true CFG is off (as diffusers' QwenImageEditPipeline does)")
        }
        let condition = try pipeline.prepareCondition(
            rgb: source.pixels, height: source.height, width: source.width, targetArea: area)
        let size = pipeline.outputSize(height: height, width: width, condition: (condition.height, condition.width))
        print("condition image \(source.width)×\(source.height) → \(condition.width)×\(condition.height)")

        let outFolder = URL(fileURLWithPath: out)
        try FileManager.default.createDirectory(at: outFolder, withIntermediateDirectories: true)
        let expected = [prompts.count] + pipeline.base.latentShape(height: size.height, width: size.width)
        let given = try loadInitialNoise(
            expected: expected, prompts: prompts.count, size: "\(size.height)×\(size.width)")
        let resized = (condition.rgb, condition.height, condition.width)
        let negative =
            guidance > 1 && !negativePrompt.isEmpty
            ? try pipeline.encodePrompt([negativePrompt], condition: resized) : nil

        var images: [RGBImage] = [], finals: [Tensor] = []
        let bar = ProgressBar(total: prompts.count * steps, label: "sampling")
        for (i, prompt) in prompts.enumerated() {
            let noise =
                given.map { $0[i..<(i + 1)] }
                ?? pipeline.base.initialNoise(
                    count: 1, height: size.height, width: size.width, key: RandomKey(seed: seed &+ UInt64(i)))
            let text = try pipeline.encodePrompt([prompt], condition: resized)
            let latents = pipeline.denoise(
                noise, promptEmbeds: text.promptEmbeds, mask: text.mask, negativePromptEmbeds: negative?.promptEmbeds,
                negativeMask: negative?.mask, condition: condition.latents, trueCFGScale: guidance, steps: steps,
                height: size.height, width: size.width
            ) { done, _ in bar.update(i * steps + done) }
            let pixels = pipeline.base.decode(latents, height: size.height, width: size.width)
            let image = try RGBImage(hwc: pixels.toArray(Float.self), shape: pixels.shape, range: .zeroToOne)
            let file = outFolder.appendingPathComponent(String(format: "%03d-%@.png", i, PromptList.slug(prompt)))
            try PNGEncoder.write(image, to: file)
            images.append(image)
            finals.append(latents)
        }
        try writeGridAndLatents(images: images, finals: finals, prompts: prompts, outFolder: outFolder)
        print(
            """
            wrote \(prompts.count) image(s) to \(outFolder.path) in \(formatDuration(Date().timeIntervalSince(started)))
            """)
    }

    /// The PNG as PIL's `convert("RGB")` gives it to diffusers: grey copied to the three channels, alpha dropped
    /// (not composited). A missing or unreadable file is an error naming it.
    static func conditionRGB(_ url: URL) throws -> (pixels: [UInt8], height: Int, width: Int) {
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw ValidationError("--image \(url.path): no such file")
        }
        let png: PNGImage
        do {
            png = try PNGDecoder.decode(contentsOf: url)
        } catch {
            throw ValidationError("--image \(url.path): not a readable PNG (\(error))")
        }
        let count = png.width * png.height
        var pixels = [UInt8](repeating: 0, count: count * 3)
        for i in 0..<count {
            for c in 0..<3 { pixels[i * 3 + c] = png.samples[i * png.channels + (png.channels <= 2 ? 0 : c)] }
        }
        return (pixels, png.height, png.width)
    }
}
