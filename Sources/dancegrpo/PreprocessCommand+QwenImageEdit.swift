import ArgumentParser
import Engine
import Foundation
import Models
import Training

extension PreprocessCommand {
    /// `prompt_embed/<i>`, `prompt_attention_mask/<i>` and `image_latents/<i>` per SEED-Data-Edit sample (`--data`,
    /// the annotation JSONL; `<i>` the sample's order in it, the seed's `filename`), as DanceGRPO's Qwen-Image-Edit
    /// preprocessing writes them: the instruction encoded with the source image (one sample per call, as the seed's
    /// batch of 1), its states zero-padded to `--max-sequence-length` (the seed's 5000), the image's VAE latents, and
    /// the manifest with each `original_length` and calculated size. `--batch-size` and `--drop-cjk` do not apply.
    /// https://github.com/XueZeyue/DanceGRPO/blob/15cc71d53cc2e6e18a68ee607d5fb6ba9a99e344/fastvideo/data_preprocess/preprocess_qwenimage_edit_embeddings.py
    func runQwenImageEdit() throws {
        guard let data else {
            throw ValidationError(
                "--model qwen-image-edit needs --data (SEED-Data-Edit's annotation JSONL, e.g. assets/edit_data.jsonl)")
        }
        let area = imageArea ?? QwenImageEditPipeline.defaultTargetArea
        guard area > 0 else { throw ValidationError("--image-area must be positive, got \(area)") }
        let length = maxSequenceLength ?? QwenImageEditEmbeddingCache.paddedLength
        guard length >= 1 else { throw ValidationError("--max-sequence-length must be at least 1, got \(length)") }
        let dataset = try SEEDDataEdit(
            file: URL(fileURLWithPath: data), imageRoot: imageRoot.map { URL(fileURLWithPath: $0) })
        var samples = Array(dataset.samples.enumerated())
        if limit > 0 { samples = Array(samples.prefix(limit)) }

        let cache = QwenImageEditEmbeddingCache(folder: URL(fileURLWithPath: out))
        // The previous manifest keeps what was cached before (a resumed run skips those samples' files).
        let previous = (try? cache.readManifest()) ?? []
        var done = Dictionary(previous.map { ($0.promptEmbedPath, $0) }, uniquingKeysWith: { first, _ in first })
        let f = QwenImageEditEmbeddingCache.folders
        func cached(_ index: Int) -> Bool {
            done["\(index).safetensors"] != nil
                && [f.prompt, f.mask, f.image].allSatisfy {
                    FileManager.default.fileExists(
                        atPath: cache.folder.appendingPathComponent($0).appendingPathComponent("\(index).safetensors")
                            .path)
                }
        }
        let todo = samples.filter { !cached($0.offset) }
        print("\(samples.count) samples from \(data); \(samples.count - todo.count) already cached in \(out)")
        if !todo.isEmpty {
            let preprocessing = try QwenImageEditPreprocessing.load(from: URL(fileURLWithPath: checkpoint))
            let bar = ProgressBar(total: todo.count, label: "encoding")
            for (n, (index, sample)) in todo.enumerated() {
                let image = try dataset.sourceRGB(sample)
                let encoded: (promptEmbeds: Tensor, imageLatents: Tensor, calculated: (height: Int, width: Int))
                do {
                    encoded = try preprocessing.encode(
                        rgb: image.pixels, height: image.height, width: image.width, instruction: sample.instruction,
                        targetArea: area)
                } catch {
                    throw ValidationError("\(data):\(sample.line): \(error)")
                }
                guard encoded.promptEmbeds.dim(0) <= length else {
                    throw ValidationError(
                        """
                        \(data):\(sample.line): the instruction with its image takes \(encoded.promptEmbeds.dim(0)) \
                        tokens, more than --max-sequence-length \(length)
                        """)
                }
                let entry = try cache.write(
                    index: index, promptEmbeds: encoded.promptEmbeds, imageLatents: encoded.imageLatents,
                    caption: sample.instruction, calculatedSize: encoded.calculated, paddedLength: length, dtype: dtype)
                done[entry.promptEmbedPath] = entry
                bar.update(n + 1)
            }
        }
        let entries = samples.compactMap { done["\($0.offset).safetensors"] }
        try cache.writeManifest(entries)
        print("wrote \(cache.manifestURL.path) (\(entries.count) samples)")
    }
}
