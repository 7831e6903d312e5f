import ArgumentParser
import Engine
import Foundation
import Imaging
import Models
import Sampling
import Video

extension SampleCommand {
    /// HunyuanVideo frames per second of the MP4s: the rate diffusers' HunyuanVideoPipeline example exports at.
    /// https://github.com/huggingface/diffusers/blob/v0.42.1/src/diffusers/pipelines/hunyuan_video/pipeline_hunyuan_video.py#L65
    static let hunyuanVideoFramesPerSecond = 15.0

    /// HunyuanVideo as diffusers' `HunyuanVideoPipeline` samples it: the templated Llama 3 states with CLIP-L's pooled
    /// vector, the folder's Euler scheduler (`--shift` overrides its shift), the guidance-distilled transformer given
    /// `--guidance` as its embedded guidance, true CFG against `--negative-prompt` when `--true-cfg-scale` > 1, the
    /// video VAE. One MP4 per prompt (a PNG when `--num-frames 1`). Defaults are `__call__`'s.
    func runHunyuanVideo(_ prompts: [String]) throws {
        let steps = self.steps ?? 50, height = self.height ?? 720, width = self.width ?? 1280
        let frames = numFrames ?? 129, guidance = self.guidance ?? 6, trueCFG = trueCfgScale ?? 1
        let started = Date()
        FileHandle.standardError.write(Data("loading transformer, vae and text encoders…\n".utf8))
        let pipeline = try HunyuanVideoPipeline.load(
            from: URL(fileURLWithPath: checkpoint), dtype: dtype,
            transformerFolder: transformer.map { URL(fileURLWithPath: $0) })
        print(
            String(
                format: "loaded %@ in %.1fs (%@ transformer parameters, %@)", checkpoint,
                Date().timeIntervalSince(started), formatCount(pipeline.transformer.parameterCount()),
                pipeline.scheduler.className))

        let outFolder = URL(fileURLWithPath: out)
        try FileManager.default.createDirectory(at: outFolder, withIntermediateDirectories: true)
        let expected = [prompts.count] + pipeline.latentShape(frames: frames, height: height, width: width)
        let given = try loadInitialNoise(
            expected: expected, prompts: prompts.count, size: "\(frames) frames of \(height)×\(width)")
        // diffusers runs true CFG only with a negative prompt given (the empty one included) and a scale above 1.
        let negative =
            trueCFG > 1 ? pipeline.encode([negativePrompt], maxSequenceLength: maxSequenceLength) : nil

        var firstFrames: [RGBImage] = [], finals: [Tensor] = []
        let bar = ProgressBar(total: prompts.count * steps, label: "sampling")
        for (i, prompt) in prompts.enumerated() {
            let noise =
                given.map { $0[i..<(i + 1)] }
                ?? pipeline.initialNoise(
                    count: 1, frames: frames, height: height, width: width, key: RandomKey(seed: seed &+ UInt64(i)))
            let latents = pipeline.denoise(
                noise, conditioning: pipeline.encode([prompt], maxSequenceLength: maxSequenceLength),
                negative: negative, guidance: guidance, trueCFGScale: trueCFG, steps: steps, shift: shift
            ) { done, _ in bar.update(i * steps + done) }
            let video = pipeline.decode(latents)
            let clip = try RGBImage.frames(fhwc: video.toArray(Float.self), shape: video.shape, range: .zeroToOne)
            let name = String(format: "%03d-%@", i, PromptList.slug(prompt))
            if clip.count == 1 {
                try PNGEncoder.write(clip[0], to: outFolder.appendingPathComponent(name + ".png"))
            } else {
                try writeMP4(
                    frames: clip, fps: Self.hunyuanVideoFramesPerSecond,
                    to: outFolder.appendingPathComponent(name + ".mp4"))
            }
            firstFrames.append(clip[0])
            finals.append(latents)
        }
        try writeGridAndLatents(images: firstFrames, finals: finals, prompts: prompts, outFolder: outFolder)
        let kind = frames == 1 ? "image(s)" : "video(s) of \(frames) frames"
        print(
            """
            wrote \(prompts.count) \(kind) to \(outFolder.path) in \(formatDuration(Date().timeIntervalSince(started)))
            """)
    }
}
