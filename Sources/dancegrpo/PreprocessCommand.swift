import ArgumentParser
import Engine
import Foundation
import Models

/// Caches the text conditioning of every prompt so that training never loads the text encoders — DanceGRPO's
/// preprocessing step: for FLUX the T5 states, CLIP pooled vector and text ids; for Wan the UMT5 states of the prompt
/// and of the negative prompt; for Qwen-Image the Qwen2.5-VL states and mask of the prompt; for Qwen-Image-Edit, per
/// SEED-Data-Edit sample (`--data`), the instruction's states with the source image and the image's VAE latents; for
/// HunyuanVideo the Llama states and mask with CLIP-L's pooled vector.
/// Resumable: prompts whose files exist are skipped.
struct PreprocessCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "preprocess",
        abstract: "Encode a prompt file with the model's text encoders into an embedding cache for training.")

    @Option(help: "Model family: flux, wan, qwen-image, qwen-image-edit, hunyuan-video or skyreels-i2v.")
    var model = "flux"

    @Option(
        help:
            """
            A diffusers FLUX folder (only text_encoder/, tokenizer/, text_encoder_2/, tokenizer_2/ are read), Wan or \
            Qwen-Image folder (text_encoder/, tokenizer/), Qwen-Image-Edit folder (also vae/, processor/), or \
            HunyuanVideo/SkyReels folder (text_encoder/, tokenizer/, text_encoder_2/, tokenizer_2/).
            """)
    var checkpoint: String

    @Option(
        help:
            """
            Prompt file, one prompt per line (blank lines are skipped; line numbers name the files); every model but \
            qwen-image-edit.
            """)
    var prompts = ""

    @Option(
        help:
            """
            qwen-image-edit: SEED-Data-Edit's annotation file (JSONL with source_image and instruction per line, as \
            DanceGRPO's assets/edit_data.jsonl).
            """)
    var data: String?

    @Option(help: "qwen-image-edit: the folder source_image paths are relative to (default: the --data file's).")
    var imageRoot: String?

    @Option(help: "qwen-image-edit: the condition image's area in pixels (default: diffusers' 1024²).")
    var imageArea: Int?

    @Option(name: [.customLong("out"), .customLong("output")], help: "Output folder.")
    var out = "data/rl_embeddings"

    @Option(help: "Stored dtype: bfloat16 (as the reference) or float32.")
    var dtype = DType.bfloat16

    @Option(
        help:
            """
            Text tokens (default: 512 for FLUX, 226 for Wan, 1024 for Qwen-Image, 5000 for Qwen-Image-Edit, 256 \
            after the template for HunyuanVideo and SkyReels as DanceGRPO's preprocessing; Qwen-Image's files are \
            padded to this length, as the seed's).
            """)
    var maxSequenceLength: Int?

    @Option(help: "Wan: the negative prompt of classifier-free guidance (DanceGRPO's: the empty prompt).")
    var negativePrompt = ""

    @Option(help: "Encode at most this many prompts (0: all).")
    var limit = 0

    @Option(help: "Prompts per encoder call.")
    var batchSize = 8

    @Flag(help: "Drop prompts with CJK characters, as the reference preprocessing does.")
    var dropCJK = false

    func run() throws {
        let models = ["flux", "wan", "qwen-image", "qwen-image-edit", "hunyuan-video", "skyreels-i2v"]
        guard models.contains(model) else {
            throw ValidationError("unknown model '\(model)' (available: \(models.joined(separator: ", ")))")
        }
        if model == "qwen-image-edit" { return try runQwenImageEdit() }
        guard !prompts.isEmpty else { throw ValidationError("--model \(model) needs --prompts (one prompt per line)") }
        let lines = try PromptLines.read(prompts)
        var selected = lines.filter { !$0.text.isEmpty && !(dropCJK && PromptLines.hasCJK($0.text)) }
        if limit > 0 { selected = Array(selected.prefix(limit)) }
        guard !selected.isEmpty else { throw ValidationError("\(prompts): no prompts (all lines are blank)") }
        if model == "wan" { return try runWan(selected) }
        if model == "qwen-image" { return try runQwenImage(selected) }
        if model == "hunyuan-video" { return try runHunyuanVideo(selected) }
        if model == "skyreels-i2v" { return try runSkyReelsI2V(selected) }
        let storedDType = dtype
        let maxSequenceLength = self.maxSequenceLength ?? 512

        let cache = FluxEmbeddingCache(folder: URL(fileURLWithPath: out))
        let todo = selected.filter { !cache.contains($0.index) }
        print("\(selected.count) prompts from \(prompts); \(selected.count - todo.count) already cached in \(out)")
        if !todo.isEmpty {
            let encoders = try FluxTextEncoders.load(from: URL(fileURLWithPath: checkpoint))
            let bar = ProgressBar(total: todo.count, label: "encoding")
            for start in stride(from: 0, to: todo.count, by: max(1, batchSize)) {
                let batch = Array(todo[start..<min(todo.count, start + max(1, batchSize))])
                let embeddings = encoders.encode(batch.map(\.text), maxSequenceLength: maxSequenceLength)
                for (row, line) in batch.enumerated() {
                    _ = try cache.write(index: line.index, embeddings: embeddings, row: row, dtype: storedDType)
                }
                bar.update(start + batch.count)
            }
        }
        let entries = selected.map { line -> FluxEmbeddingCache.Entry in
            let name = "\(line.index).safetensors"
            return .init(promptEmbedPath: name, pooledPromptEmbedsPath: name, textIds: name, caption: line.text)
        }
        try cache.writeManifest(entries)
        print("wrote \(cache.manifestURL.path) (\(entries.count) prompts)")
    }
}

extension PreprocessCommand {
    /// `prompt_embed/<i>` and `negative_prompt_embeds/<i>` per prompt, as DanceGRPO's Wan preprocessing writes them
    /// (`WanPipeline.encode_prompt` with classifier-free guidance), and the manifest.
    func runWan(_ selected: [(index: Int, text: String)]) throws {
        let cache = WanEmbeddingCache(folder: URL(fileURLWithPath: out))
        let f = WanEmbeddingCache.folders
        func cached(_ index: Int) -> Bool {
            [f.prompt, f.negative].allSatisfy {
                FileManager.default.fileExists(
                    atPath: cache.folder.appendingPathComponent($0).appendingPathComponent("\(index).safetensors").path)
            }
        }
        let todo = selected.filter { !cached($0.index) }
        print("\(selected.count) prompts from \(prompts); \(selected.count - todo.count) already cached in \(out)")
        var entries: [WanEmbeddingCache.Entry] = []
        if !todo.isEmpty {
            let encoder = try WanTextEncoder.load(from: URL(fileURLWithPath: checkpoint))
            let length = maxSequenceLength ?? 226
            // One negative prompt for every prompt: encoded once.
            let negative = encoder.encode([negativePrompt], maxSequenceLength: length)[0]
            let bar = ProgressBar(total: todo.count, label: "encoding")
            for start in stride(from: 0, to: todo.count, by: max(1, batchSize)) {
                let batch = Array(todo[start..<min(todo.count, start + max(1, batchSize))])
                let states = encoder.encode(batch.map(\.text), maxSequenceLength: length)
                for (row, line) in batch.enumerated() {
                    _ = try cache.write(
                        index: line.index, promptEmbeds: states[row], negativePromptEmbeds: negative,
                        caption: line.text, dtype: dtype)
                }
                bar.update(start + batch.count)
            }
        }
        entries = selected.map {
            WanEmbeddingCache.Entry(
                promptEmbedPath: "\($0.index).safetensors", negativePromptEmbedsPath: "\($0.index).safetensors",
                caption: $0.text)
        }
        try cache.writeManifest(entries)
        print("wrote \(cache.manifestURL.path) (\(entries.count) prompts)")
    }
}

/// The lines of a prompt file with their 0-based line numbers.
enum PromptLines {
    static func read(_ path: String) throws -> [(index: Int, text: String)] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ValidationError("\(path): cannot read the prompt file")
        }
        guard let text = String(data: data, encoding: .utf8) else { throw ValidationError("\(path): not UTF-8 text") }
        var lines = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).map(String.init)
        if lines.last == "" { lines.removeLast() }
        return lines.enumerated().map { ($0.offset, $0.element.trimmingCharacters(in: .whitespaces)) }
    }

    static func hasCJK(_ text: String) -> Bool {
        text.unicodeScalars.contains { (0x4E00...0x9FFF).contains($0.value) || (0x3400...0x4DBF).contains($0.value) }
    }
}
