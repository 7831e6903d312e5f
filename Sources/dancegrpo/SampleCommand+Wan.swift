import ArgumentParser
import Engine
import Foundation
import Imaging
import Models
import Sampling
import Training
import Video

extension SampleCommand {
    /// Wan-2.1 as diffusers' `WanPipeline` samples it: UMT5 states of the prompt and of the negative prompt, the
    /// folder's scheduler (UniPC with flow sigmas for Wan's folders; `--shift` overrides its flow shift), classifier-
    /// free guidance, the video VAE. One MP4 per prompt (a PNG when `--num-frames 1`), at Wan's 16 frames per second.
    func runWan(_ prompts: [String]) throws {
        let steps = self.steps ?? 50, height = self.height ?? 480, width = self.width ?? 832
        let frames = numFrames ?? 81, guidance = self.guidance ?? 5
        let started = Date()
        let folder = URL(fileURLWithPath: checkpoint)
        FileHandle.standardError.write(Data("loading transformer and vae…\n".utf8))
        let pipeline = try WanPipeline.load(
            from: folder, dtype: dtype, transformerFolder: transformer.map { URL(fileURLWithPath: $0) })
        FileHandle.standardError.write(Data("loading text encoder…\n".utf8))
        let text = try WanTextEncoder.load(from: folder, dtype: dtype)
        let scheduler = try SchedulerConfig.load(folder.appendingPathComponent("scheduler"))
        print(
            String(
                format: "loaded %@ in %.1fs (%@ transformer parameters, %@)", checkpoint,
                Date().timeIntervalSince(started), formatCount(pipeline.transformer.parameterCount()),
                scheduler.className))

        let outFolder = URL(fileURLWithPath: out)
        try FileManager.default.createDirectory(at: outFolder, withIntermediateDirectories: true)
        let expected = [prompts.count] + pipeline.latentShape(frames: frames, height: height, width: width)
        let given = try loadInitialNoise(
            expected: expected, prompts: prompts.count, size: "\(frames) frames of \(height)×\(width)")
        let negative = text.encode([negativePrompt], maxSequenceLength: maxSequenceLength)

        var firstFrames: [RGBImage] = [], finals: [Tensor] = []
        let bar = ProgressBar(total: prompts.count * steps, label: "sampling")
        for (i, prompt) in prompts.enumerated() {
            let noise =
                given.map { $0[i..<(i + 1)] }
                ?? pipeline.initialNoise(
                    count: 1, frames: frames, height: height, width: width, key: RandomKey(seed: seed &+ UInt64(i)))
            let latents = pipeline.denoise(
                noise, promptEmbeds: text.encode([prompt], maxSequenceLength: maxSequenceLength),
                negativePromptEmbeds: negative, guidance: guidance, scheduler: scheduler, steps: steps, shift: shift
            ) { done, _ in bar.update(i * steps + done) }
            let video = pipeline.decode(latents)
            let clip = try RGBImage.frames(fhwc: video.toArray(Float.self), shape: video.shape, range: .zeroToOne)
            let name = String(format: "%03d-%@", i, PromptList.slug(prompt))
            if clip.count == 1 {
                try PNGEncoder.write(clip[0], to: outFolder.appendingPathComponent(name + ".png"))
            } else {
                try writeMP4(
                    frames: clip, fps: WanTask.framesPerSecond, to: outFolder.appendingPathComponent(name + ".mp4"))
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
