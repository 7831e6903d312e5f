import Checkpoints
import ArgumentParser
import Engine
import Foundation
import Imaging
import Models
import NN

/// Text-to-image and text-to-video sampling from a diffusers checkpoint folder (DanceGRPO's visualisation script,
/// without copying files into the model folder): one PNG (or MP4) per prompt, a captioned grid when there are
/// several, optional final latents. `--model flux` (FLUX.1, Euler ODE), `--model sd` (Stable Diffusion v1, DDIM with
/// classifier-free guidance), `--model wan` (Wan-2.1, the folder's scheduler with classifier-free guidance) or
/// `--model qwen-image` (Qwen-Image, the folder's Euler scheduler with true CFG against a negative prompt) or
/// `--model qwen-image-edit` (Qwen-Image-Edit: the same with a condition image, `--image`) or `--model hunyuan-video`
/// (HunyuanVideo, the folder's Euler scheduler with embedded guidance) or `--model skyreels-i2v` (SkyReels-V1
/// image-to-video from `--image` or a FLUX first frame).
struct SampleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sample",
        abstract:
            """
            Generate images or videos from prompts with a FLUX, Stable Diffusion, Wan, Qwen-Image(-Edit) or \
            HunyuanVideo folder.
            """)

    @Option(
        help:
            """
            Model family: flux, sd (Stable Diffusion v1), wan (Wan-2.1), qwen-image, qwen-image-edit, hunyuan-video \
            or skyreels-i2v.
            """
    )
    var model = "flux"

    @Option(
        help:
            """
            A diffusers folder: FLUX (transformer/, vae/, text_encoder/, tokenizer/, text_encoder_2/, tokenizer_2/, \
            scheduler/), SD (unet/, vae/, text_encoder/, tokenizer/, scheduler/), Wan or Qwen-Image (transformer/, \
            vae/, text_encoder/, tokenizer/, scheduler/; Qwen-Image-Edit also processor/), HunyuanVideo (FLUX's parts \
            with scheduler/).
            """
    )
    var checkpoint: String

    @Option(help: "A prompt (repeatable).")
    var prompt: [String] = []

    @Option(
        help:
            """
            qwen-image-edit: the condition image (PNG) every prompt edits; skyreels-i2v: the first frame (PNG or JPEG) \
            every prompt animates.
            """)
    var image: String?

    @Option(
        help:
            """
            skyreels-i2v without --image: a diffusers FLUX folder that generates each prompt's first frame at the \
            video's size (DanceGRPO's reference-image step: 30 steps, guidance 3.5, 512 T5 tokens), saved beside \
            the video.
            """)
    var referenceCheckpoint: String?

    @Option(
        help:
            """
            qwen-image-edit: the condition image's area in pixels, at its aspect ratio in multiples of 32 (default \
            1048576, the 1024² diffusers fixes); the output size defaults to the condition's.
            """)
    var imageArea: Int?

    @Option(help: "A text file with one prompt per line (blank lines are skipped).")
    var promptsFile: String?

    @Option(
        help: "Denoising steps (default: flux 16, sd 50, wan 50, qwen-image 50, hunyuan-video and skyreels-i2v 50).")
    var steps: Int?

    @Option(
        help:
            """
            Image height in pixels (default: flux 720, a multiple of 16; sd 512, a multiple of 8; wan 480; qwen-image \
            1024, a multiple of 16; hunyuan-video 720, a multiple of 16; skyreels-i2v 544, a multiple of 16).
            """)
    var height: Int?

    @Option(
        help:
            """
            Image width in pixels (default: flux 720, sd 512, wan 832, qwen-image 1024, hunyuan-video 1280, \
            skyreels-i2v 960).
            """)
    var width: Int?

    @Option(
        help:
            """
            Wan, HunyuanVideo and SkyReels: frames per video, 1 + 4k (default: wan 81, hunyuan-video 129, \
            skyreels-i2v 97; 1 writes a PNG except for skyreels-i2v).
            """)
    var numFrames: Int?

    @Option(
        help:
            """
            Wan, Qwen-Image and HunyuanVideo: the negative prompt of classifier-free guidance (default: empty; \
            Qwen-Image uses true CFG only with one, HunyuanVideo only with --true-cfg-scale above 1).
            """)
    var negativePrompt = ""

    @Option(
        help:
            """
            Guidance scale: FLUX's embedded guidance (default 3.5), SD's and Wan's classifier-free guidance with the \
            empty (Wan: negative) prompt (default 5.0, as DanceGRPO; ≤ 1 turns it off), Qwen-Image's true_cfg_scale \
            against the negative prompt (default 4.0), HunyuanVideo's embedded guidance (default 6.0, passed × 1000).
            """
    )
    var guidance: Float?

    @Option(
        help: "HunyuanVideo and SkyReels: true CFG scale against --negative-prompt (default 1: off; skyreels-i2v 6).")
    var trueCfgScale: Float?

    @Option(help: "SD only: DDIM noise scale η (default 1.0, DanceGRPO's sampling value; 0 is deterministic DDIM).")
    var eta: Float?

    @Option(help: "Static time shift instead of the scheduler config's rule (DanceGRPO rollouts use 3).")
    var shift: Float?

    @Option(help: "Seed of the initial noise; prompt i uses seed + i.")
    var seed: UInt64 = 42

    @Option(help: "Output folder.")
    var out = "outputs/samples"

    @Option(
        help:
            """
            A safetensors file with the initial latents (key 'latents' or its only tensor), to compare with another \
            implementation from the same noise: FLUX packed [N, tokens, channels]; SD diffusers' layout [N, 4, H/8, \
            W/8]; Wan and HunyuanVideo diffusers' layout [N, 16, 1 + (F − 1)/4, H/8, W/8]; Qwen-Image packed [N, \
            H/16 · W/16, 64].
            """
    )
    var initialNoise: String?

    @Flag(
        help:
            """
            Also write the final latents to latents.safetensors (FLUX packed; SD [N, 4, H/8, W/8]; Wan [N, 16, f, \
            H/8, W/8], as WanPipeline returns them with output_type="latent", HunyuanVideo likewise; Qwen-Image \
            packed, as its pipeline returns them).
            """)
    var saveLatents = false

    @Option(
        help:
            """
            SD only: a fine-tuned UNet to use instead of <checkpoint>/unet: a training checkpoint folder with unet/ \
            inside, or a UNet folder.
            """
    )
    var unet: String?

    @Option(
        help:
            """
            FLUX, Wan, Qwen-Image and HunyuanVideo: a fine-tuned transformer to use instead of \
            <checkpoint>/transformer: a training checkpoint folder (checkpoint-<n>-<e>/) or a transformer folder.
            """
    )
    var transformer: String?

    @Option(help: "FLUX only: a LoRA adapter (.safetensors, PEFT/diffusers keys) to merge into the transformer.")
    var lora: String?

    @Option(
        help:
            """
            Weight dtype: float32, bfloat16 or float16. float32 by default: MLX's CPU back end has no fast bfloat16 \
            matrix product (30× slower than float32 here); on a GPU back end bfloat16 halves memory.
            """
    )
    var dtype = DType.float32

    @Option(
        help:
            """
            FLUX, Wan, Qwen-Image and HunyuanVideo: T5/UMT5/Qwen2.5-VL/Llama tokens (the pipelines use 512; \
            HunyuanVideo's uses 256 after its template: its masks drop the padding, so only longer prompts differ).
            """)
    var maxSequenceLength = 512

    func run() throws {
        let prompts = try PromptList.load(prompts: prompt, file: promptsFile)
        guard !prompts.isEmpty else { throw ValidationError("give --prompt or --prompts-file") }
        if !["wan", "hunyuan-video", "skyreels-i2v"].contains(model), numFrames != nil {
            throw ValidationError("--num-frames is for --model wan, hunyuan-video and skyreels-i2v")
        }
        if !["wan", "qwen-image", "qwen-image-edit", "hunyuan-video", "skyreels-i2v"].contains(model),
            !negativePrompt.isEmpty
        {
            throw ValidationError(
                """
                --negative-prompt is for --model wan and qwen-image (or qwen-image-edit), hunyuan-video and \
                skyreels-i2v
                """)
        }
        if model != "hunyuan-video", model != "skyreels-i2v", trueCfgScale != nil {
            throw ValidationError("--true-cfg-scale is for --model hunyuan-video and skyreels-i2v")
        }
        if model != "qwen-image-edit", model != "skyreels-i2v", image != nil {
            throw ValidationError("--image is for --model qwen-image-edit and skyreels-i2v")
        }
        if model != "qwen-image-edit", imageArea != nil {
            throw ValidationError("--image-area is for --model qwen-image-edit")
        }
        if model != "skyreels-i2v", referenceCheckpoint != nil {
            throw ValidationError("--reference-checkpoint is for --model skyreels-i2v")
        }
        switch model {
        case "flux":
            guard eta == nil, unet == nil else { throw ValidationError("--eta and --unet are for --model sd") }
            try runFlux(prompts)
        case "wan":
            guard eta == nil, unet == nil, lora == nil else {
                throw ValidationError("--eta and --unet are for --model sd, --lora for --model flux")
            }
            try runWan(prompts)
        case "qwen-image":
            guard eta == nil, unet == nil, lora == nil, shift == nil else {
                throw ValidationError("--eta and --unet are for --model sd, --lora and --shift for flux and wan")
            }
            try runQwenImage(prompts)
        case "qwen-image-edit":
            guard eta == nil, unet == nil, lora == nil, shift == nil else {
                throw ValidationError("--eta and --unet are for --model sd, --lora and --shift for flux and wan")
            }
            try runQwenImageEdit(prompts)
        case "hunyuan-video":
            guard eta == nil, unet == nil, lora == nil else {
                throw ValidationError("--eta and --unet are for --model sd, --lora for --model flux")
            }
            try runHunyuanVideo(prompts)
        case "skyreels-i2v":
            guard eta == nil, unet == nil, lora == nil else {
                throw ValidationError("--eta and --unet are for --model sd, --lora for --model flux")
            }
            try runSkyReelsI2V(prompts)
        case "sd":
            guard transformer == nil, lora == nil, shift == nil else {
                throw ValidationError("--transformer, --lora and --shift are for --model flux")
            }
            try runStableDiffusion(prompts)
        default:
            throw ValidationError(
                """
                unknown model '\(model)' (available: flux, sd, wan, qwen-image, qwen-image-edit, hunyuan-video, \
                skyreels-i2v)
                """)
        }
    }

    private func runFlux(_ prompts: [String]) throws {
        let steps = self.steps ?? 16, height = self.height ?? 720, width = self.width ?? 720
        let guidance = self.guidance ?? 3.5
        let weightsDType = dtype

        let started = Date()
        let pipeline = try FluxPipeline.load(
            from: URL(fileURLWithPath: checkpoint), dtype: weightsDType,
            transformerFolder: transformer.map { URL(fileURLWithPath: $0) }
        ) {
            FileHandle.standardError.write(Data("loading \($0)…\n".utf8))
        }
        if let lora {
            let config = try pipeline.transformer.loadLoRA(from: URL(fileURLWithPath: lora))
            pipeline.transformer.mergeLoRA()
            print("merged LoRA rank \(config.rank), alpha \(config.alpha) from \(lora)")
        }
        print(
            String(
                format: "loaded %@ in %.1fs (%@ transformer parameters)", checkpoint, Date().timeIntervalSince(started),
                formatCount(pipeline.transformer.parameterCount())))

        let outFolder = URL(fileURLWithPath: out)
        try FileManager.default.createDirectory(at: outFolder, withIntermediateDirectories: true)
        let expected = pipeline.initialNoise(
            count: prompts.count, height: height, width: width, key: RandomKey(seed: 0)
        ).shape
        let given = try loadInitialNoise(expected: expected, prompts: prompts.count, size: "\(height)×\(width)")

        var images: [RGBImage] = [], finals: [Tensor] = []
        let bar = ProgressBar(total: prompts.count * steps, label: "sampling")
        for (i, text) in prompts.enumerated() {
            let embeddings = pipeline.textEncoders!.encode([text], maxSequenceLength: maxSequenceLength)
            let noise =
                given.map { $0[i..<(i + 1)] }
                ?? pipeline.initialNoise(
                    count: 1, height: height, width: width, key: RandomKey(seed: seed &+ UInt64(i)))
            let latents = pipeline.denoise(
                noise, embeddings: embeddings, height: height, width: width, steps: steps,
                guidance: guidance, shift: shift
            ) { done, _ in bar.update(i * steps + done) }
            let pixels = pipeline.decode(latents, height: height, width: width)
            let image = try RGBImage(hwc: pixels.toArray(Float.self), shape: pixels.shape, range: .zeroToOne)
            let file = outFolder.appendingPathComponent(String(format: "%03d-%@.png", i, PromptList.slug(text)))
            try PNGEncoder.write(image, to: file)
            images.append(image)
            finals.append(latents)
        }
        try writeGridAndLatents(images: images, finals: finals, prompts: prompts, outFolder: outFolder)
        print(
            """
            wrote \(prompts.count) image(s) to \(outFolder.path) in \(formatDuration(Date().timeIntervalSince(started)))
            """
        )
    }

    /// Stable Diffusion v1: DDIM with classifier-free guidance against the empty prompt (DanceGRPO's sampling:
    /// 50 steps, guidance 5, η 1 by default), one prompt at a time, the VAE decoding the final latent.
    private func runStableDiffusion(_ prompts: [String]) throws {
        let steps = self.steps ?? 50, height = self.height ?? 512, width = self.width ?? 512
        let guidance = self.guidance ?? 5, eta = self.eta ?? 1
        guard height % 8 == 0, width % 8 == 0, height > 0, width > 0 else {
            throw ValidationError(
                "--height and --width must be positive multiples of 8 for SD (got \(height)×\(width))")
        }
        guard steps >= 1, steps <= 1000 else { throw ValidationError("--steps must be in 1...1000") }
        guard eta >= 0 else { throw ValidationError("--eta must be non-negative") }
        let weightsDType = dtype

        let started = Date()
        let pipeline = try StableDiffusionPipeline.load(
            from: URL(fileURLWithPath: checkpoint), dtype: weightsDType,
            unetFolder: unet.map { URL(fileURLWithPath: $0) }
        ) {
            FileHandle.standardError.write(Data("loading \($0)…\n".utf8))
        }
        print(
            String(
                format: "loaded %@ in %.1fs (%@ UNet parameters)", checkpoint, Date().timeIntervalSince(started),
                formatCount(pipeline.unet.parameterCount())))
        let factor = 1 << pipeline.unet.config.downsamplingSteps
        let (h, w) = pipeline.latentSize(height: height, width: width)
        guard h % factor == 0, w % factor == 0 else {
            throw ValidationError(
                "--height and --width must be multiples of \(factor * pipeline.vaeScaleFactor) for this UNet")
        }

        let outFolder = URL(fileURLWithPath: out)
        try FileManager.default.createDirectory(at: outFolder, withIntermediateDirectories: true)
        // Given noise is in diffusers' layout [N, C, h, w]; the pipeline computes channels-last.
        let given = try loadInitialNoise(
            expected: [prompts.count, pipeline.unet.config.inChannels, h, w], prompts: prompts.count,
            size: "\(height)×\(width)"
        ).map { $0.transposed([0, 2, 3, 1]) }

        let unconditional = guidance > 1 ? pipeline.unconditionalEmbedding() : nil
        var images: [RGBImage] = [], finals: [Tensor] = []
        let bar = ProgressBar(total: prompts.count * steps, label: "sampling")
        for (i, text) in prompts.enumerated() {
            let key = RandomKey(seed: seed &+ UInt64(i)).split(into: 2)
            let noise =
                given.map { $0[i..<(i + 1)] }
                ?? pipeline.initialNoise(count: 1, height: height, width: width, key: key[0])
            let trajectory = pipeline.denoise(
                noise, conditional: pipeline.encode([text]), unconditional: unconditional, steps: steps,
                guidance: guidance, eta: eta, noiseKey: key[1]
            ) { done, _ in bar.update(i * steps + done) }
            let pixels = pipeline.decode(trajectory.final)
            let image = try RGBImage(hwc: pixels.toArray(Float.self), shape: pixels.shape, range: .zeroToOne)
            let file = outFolder.appendingPathComponent(String(format: "%03d-%@.png", i, PromptList.slug(text)))
            try PNGEncoder.write(image, to: file)
            images.append(image)
            finals.append(trajectory.final.transposed([0, 3, 1, 2]))
        }
        try writeGridAndLatents(images: images, finals: finals, prompts: prompts, outFolder: outFolder)
        print(
            """
            wrote \(prompts.count) image(s) to \(outFolder.path) in \(formatDuration(Date().timeIntervalSince(started)))
            """
        )
    }

    /// `--initial-noise`: the file's 'latents' tensor (or its only one), checked against the expected shape.
    func loadInitialNoise(expected: [Int], prompts: Int, size: String) throws -> Tensor? {
        guard let initialNoise else { return nil }
        let file = try SafeTensorsFile(url: URL(fileURLWithPath: initialNoise))
        let key = file.entries["latents"] != nil ? "latents" : file.keys.first
        guard let key, file.entries.count == 1 || key == "latents" else {
            throw ValidationError("\(initialNoise): expected a tensor 'latents' or a single tensor, found \(file.keys)")
        }
        let tensor = try file.tensor(key)
        guard tensor.shape == expected else {
            throw ValidationError(
                """
                \(initialNoise): '\(key)' has shape \(tensor.shape), expected \(expected) for \(prompts) prompt(s) at \
                \(size)
                """
            )
        }
        return tensor
    }

    func writeGridAndLatents(images: [RGBImage], finals: [Tensor], prompts: [String], outFolder: URL) throws {
        if prompts.count > 1 {
            try ImageGrid().writePNG(images, captions: prompts, to: outFolder.appendingPathComponent("grid.png"))
        }
        if saveLatents {
            try SafeTensors.save(
                ["latents": concatenated(finals, axis: 0)], metadata: ["prompts": prompts.joined(separator: "\n")],
                to: outFolder.appendingPathComponent("latents.safetensors"))
        }
    }
}
