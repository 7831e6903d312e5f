import Checkpoints
import ArgumentParser
import Engine
import Foundation
import Imaging
import Rewards

/// Scores images with reward models before training with them: per-image scores, the mean, a CSV.
struct ScoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "score",
        abstract: "Score images against prompts with reward models (hpsv2.1, pickscore, clip-score, aesthetic).",
        discussion: """
            Images are paired with prompts in order: one --prompt for every image, or one prompt per image (from \
            --prompt options or --prompts-file). Checkpoints are found under --reward-dir in DanceGRPO's layout \
            (hps_ckpt/HPS_v2.1_compressed.pt and hps_ckpt/open_clip_pytorch_model.bin, the two files HPS-v2.1 needs, \
            PickScore_v1/, DFN5B-CLIP-ViT-H-14-378/, clip-vit-large-patch14/ + sac+logos+ava1-l14-linearMSE.*) unless \
            a path option names them.
            """)

    @Option(
        help:
            """
            Rewards to compute: name[:weight],… (hpsv2.1, pickscore, clip-score, aesthetic). With several, a \
            weighted total is printed too.
            """
    )
    var reward = "hpsv2.1"

    @Option(help: "A prompt (repeatable): one for all images, or one per image in order.")
    var prompt: [String] = []

    @Option(help: "A text file with one prompt per line (blank lines skipped), one per image in order.")
    var promptsFile: String?

    @Option(parsing: .upToNextOption, help: "Image files (PNG or JPEG).")
    var images: [String] = []

    @Option(help: "A folder whose PNG and JPEG files are scored, in file-name order.")
    var imageDir: String?

    @Option(help: "CSV output (columns image,prompt,reward,score).")
    var csv = "scores.csv"

    @Option(help: "Folder holding the reward checkpoints in DanceGRPO's layout.")
    var rewardDir = "."

    @Option(help: "HPS-v2.1 checkpoint (HPS_v2.1_compressed.pt or .safetensors).")
    var hpsCheckpoint: String?

    @Option(
        help: "open_clip ViT-H-14 weights the HPS checkpoint overrides (open_clip_pytorch_model.bin or .safetensors).")
    var hpsOpenClip: String?

    @Option(help: "open_clip model config JSON for HPS (default ViT-H-14).")
    var hpsConfig: String?

    @Option(help: "open_clip's bpe_simple_vocab_16e6.txt.gz (default: hps_ckpt/'s if any, else the bundled copy).")
    var openClipVocabulary: String?

    @Option(help: "PickScore model folder (transformers layout with tokenizer and preprocessor_config.json).")
    var pickscoreModel: String?

    @Option(help: "CLIP-score model folder (open_clip or transformers layout).")
    var clipScoreModel: String?

    @Option(help: "CLIP ViT-L/14 folder for the aesthetic predictor (transformers layout).")
    var aestheticClip: String?

    @Option(help: "Aesthetic MLP weights (sac+logos+ava1-l14-linearMSE.pth or .safetensors).")
    var aestheticMlp: String?

    @Option(
        parsing: .upToNextOption,
        help: "Video files (MP4 or anything FFmpeg reads), for video rewards (videoalign-vq, -mq, -ta, -overall).")
    var videos: [String] = []

    @Option(help: "VideoAlign's VideoReward checkpoint folder (default: --reward-dir's videoalign_ckpt/).")
    var videoalignCheckpoint: String?

    @Option(help: "The Qwen2-VL-2B-Instruct folder VideoReward builds on (default: its model_name_or_path).")
    var videoalignBase: String?

    @Option(help: "Images per forward pass.")
    var batchSize = 8

    @Option(help: "Weight dtype: float32, bfloat16 or float16 (scores are computed from float32 embeddings).")
    var dtype = DType.float32

    func run() throws {
        if !videos.isEmpty { return try scoreVideos() }
        let specs: [RewardSpec]
        do { specs = try RewardRegistry.parse(reward) } catch { throw ValidationError("\(error)") }
        let files = try imageFiles()
        guard !files.isEmpty else { throw ValidationError("give --images FILE… or --image-dir DIR") }
        let prompts = try PromptList.load(prompts: prompt, file: promptsFile)
        let paired: [String]
        switch prompts.count {
        case files.count: paired = prompts
        case 1: paired = Array(repeating: prompts[0], count: files.count)
        case 0 where specs.allSatisfy({ $0.name == "aesthetic" }): paired = Array(repeating: "", count: files.count)
        default:
            throw ValidationError(
                "\(files.count) images but \(prompts.count) prompts: give one prompt for all images or one per image")
        }
        let decoded = try files.map(Self.loadImage)

        var locations = RewardLocations(directory: URL(fileURLWithPath: rewardDir))
        func url(_ path: String?) -> URL? { path.map { URL(fileURLWithPath: $0) } }
        locations.hpsCheckpoint = url(hpsCheckpoint)
        locations.hpsOpenCLIPCheckpoint = url(hpsOpenClip)
        locations.hpsConfig = url(hpsConfig)
        locations.openCLIPVocabulary = url(openClipVocabulary)
        locations.pickScoreModel = url(pickscoreModel)
        locations.clipScoreModel = url(clipScoreModel)
        locations.aestheticCLIPModel = url(aestheticClip)
        locations.aestheticMLP = url(aestheticMlp)
        let weightsDType = dtype

        var table: [[Double]] = []  // [reward][image]
        for spec in specs {
            FileHandle.standardError.write(Data("loading \(spec.name)…\n".utf8))
            let model: any ImageRewardModel
            do { model = try RewardRegistry.makeModel(spec.name, locations: locations, dtype: weightsDType) } catch let
                error as RewardError
            {
                throw ValidationError("\(spec.name): \(error)")
            }
            model.batchSize = batchSize
            let progress = decoded.count > batchSize ? ProgressBar(total: decoded.count, label: spec.name) : nil
            var scores: [Double] = []
            var start = 0
            while start < decoded.count {
                let end = min(start + batchSize, decoded.count)
                scores += try model.scores(images: Array(decoded[start..<end]), prompts: Array(paired[start..<end]))
                start = end
                progress?.update(end)
            }
            table.append(scores)
        }

        // Report.
        let width = min(48, files.map { ($0 as NSString).lastPathComponent.count }.max() ?? 5)
        let header =
            "image".padding(toLength: width, withPad: " ", startingAt: 0)
            + specs.map { "  " + $0.name.leftPadded(10) }.joined()
            + (specs.count > 1 ? "  " + "total".leftPadded(10) : "")
        print(header)
        func total(_ i: Int) -> Double { zip(specs, table).reduce(0) { $0 + $1.0.weight * $1.1[i] } }
        for (i, file) in files.enumerated() {
            let name = String((file as NSString).lastPathComponent.prefix(width)).padding(
                toLength: width, withPad: " ", startingAt: 0)
            print(
                name + table.map { "  " + String(format: "%.6f", $0[i]).leftPadded(10) }.joined()
                    + (specs.count > 1 ? "  " + String(format: "%.6f", total(i)).leftPadded(10) : ""))
        }
        let means = table.map { $0.reduce(0, +) / Double($0.count) }
        print(
            "mean".padding(toLength: width, withPad: " ", startingAt: 0)
                + means.map { "  " + String(format: "%.6f", $0).leftPadded(10) }.joined()
                + (specs.count > 1
                    ? "  "
                        + String(format: "%.6f", (0..<files.count).map(total).reduce(0, +) / Double(files.count))
                        .leftPadded(10) : ""))

        var lines = ["image,prompt,reward,score"]
        for (r, spec) in specs.enumerated() {
            for (i, file) in files.enumerated() {
                lines.append(
                    [file, paired[i], spec.name, String(format: "%.8f", table[r][i])].map(Self.csvField).joined(
                        separator: ","))
            }
        }
        try AtomicFile.write(Data((lines.joined(separator: "\n") + "\n").utf8), to: URL(fileURLWithPath: csv))
        print("wrote \(csv) (\(files.count) images × \(specs.count) reward\(specs.count == 1 ? "" : "s"))")
    }

    private func imageFiles() throws -> [String] {
        var files = images
        if let imageDir {
            let names: [String]
            do { names = try FileManager.default.contentsOfDirectory(atPath: imageDir) } catch {
                throw ValidationError("\(imageDir): cannot list the image folder")
            }
            let kept = names.filter { ["png", "jpg", "jpeg"].contains(($0 as NSString).pathExtension.lowercased()) }
                .sorted()
            files += kept.map { (imageDir as NSString).appendingPathComponent($0) }
        }
        return files
    }

    /// PNG or JPEG by content (a PNG with alpha is composited on white).
    static func loadImage(_ path: String) throws -> RGBImage {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ValidationError("\(path): cannot read the image")
        }
        let bytes = [UInt8](data)
        do {
            if bytes.starts(with: [0x89, 0x50, 0x4E, 0x47]) { return try PNGDecoder.decodeRGB(bytes) }
            if bytes.starts(with: [0xFF, 0xD8]) { return try JPEGDecoder.decode(bytes) }
        } catch {
            throw ValidationError("\(path): \(error)")
        }
        throw ValidationError("\(path): not a PNG or JPEG file")
    }

    static func csvField(_ text: String) -> String {
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}

extension String {
    func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
