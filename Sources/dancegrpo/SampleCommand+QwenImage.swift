import ArgumentParser
import Engine
import Foundation
import Imaging
import Models
import Sampling

extension SampleCommand {
    /// Qwen-Image as diffusers' `QwenImagePipeline` samples it: Qwen2.5-VL states of each prompt, the folder's Euler
    /// scheduler with its dynamic shifting and `shift_terminal`, true CFG (`--guidance`, the pipeline's
    /// `true_cfg_scale`, default 4) against `--negative-prompt` when one is given (diffusers turns it off without
    /// one), the VAE. One PNG per prompt; `--initial-noise` / `--save-latents` in the packed layout the pipeline
    /// takes as `latents` and returns with `output_type="latent"`.
    func runQwenImage(_ prompts: [String]) throws {
        let steps = self.steps ?? QwenImagePipeline.defaultSteps
        let height = self.height ?? QwenImagePipeline.defaultSize, width = self.width ?? QwenImagePipeline.defaultSize
        let guidance = self.guidance ?? QwenImagePipeline.defaultTrueCFGScale
        let started = Date()
        FileHandle.standardError.write(Data("loading transformer, vae and text encoder…\n".utf8))
        let pipeline = try QwenImagePipeline.load(
            from: URL(fileURLWithPath: checkpoint), dtype: dtype,
            transformerFolder: transformer.map { URL(fileURLWithPath: $0) })
        print(
            String(
                format: "loaded %@ in %.1fs (%@ transformer parameters, %@)", checkpoint,
                Date().timeIntervalSince(started), formatCount(pipeline.transformer.parameterCount()),
                pipeline.scheduler.className))
        if guidance > 1, negativePrompt.isEmpty {
            print("note: no --negative-prompt, so true CFG is off (as diffusers' QwenImagePipeline does)")
        }

        let outFolder = URL(fileURLWithPath: out)
        try FileManager.default.createDirectory(at: outFolder, withIntermediateDirectories: true)
        let expected = [prompts.count] + pipeline.latentShape(height: height, width: width)
        let given = try loadInitialNoise(expected: expected, prompts: prompts.count, size: "\(height)×\(width)")
        let negative =
            guidance > 1 && !negativePrompt.isEmpty
            ? pipeline.encodePrompt([negativePrompt], maxSequenceLength: maxSequenceLength) : nil

        var images: [RGBImage] = [], finals: [Tensor] = []
        let bar = ProgressBar(total: prompts.count * steps, label: "sampling")
        for (i, prompt) in prompts.enumerated() {
            let noise =
                given.map { $0[i..<(i + 1)] }
                ?? pipeline.initialNoise(
                    count: 1, height: height, width: width, key: RandomKey(seed: seed &+ UInt64(i)))
            let text = pipeline.encodePrompt([prompt], maxSequenceLength: maxSequenceLength)
            let latents = pipeline.denoise(
                noise, promptEmbeds: text.promptEmbeds, mask: text.mask, negativePromptEmbeds: negative?.promptEmbeds,
                negativeMask: negative?.mask, trueCFGScale: guidance, steps: steps, height: height, width: width
            ) { done, _ in bar.update(i * steps + done) }
            let pixels = pipeline.decode(latents, height: height, width: width)
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
}
