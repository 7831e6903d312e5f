import ArgumentParser
import Engine
import Foundation
import Models

extension PreprocessCommand {
    /// `prompt_embed/<i>` and `prompt_attention_mask/<i>` per prompt, as DanceGRPO's Qwen-Image preprocessing writes
    /// them: `QwenImagePipeline.encode_prompt`'s states of each prompt (its own tokens, as the seed's one prompt per
    /// call gives them) zero-padded to `--max-sequence-length` tokens, and the manifest with each `original_length`.
    /// https://github.com/XueZeyue/DanceGRPO/blob/15cc71d53cc2e6e18a68ee607d5fb6ba9a99e344/fastvideo/data_preprocess/preprocess_qwenimage_embedding.py
    func runQwenImage(_ selected: [(index: Int, text: String)]) throws {
        let cache = QwenImageEmbeddingCache(folder: URL(fileURLWithPath: out))
        let length = maxSequenceLength ?? QwenImageEmbeddingCache.paddedLength
        guard length >= 1 else { throw ValidationError("--max-sequence-length must be at least 1, got \(length)") }
        // The previous manifest keeps the lengths of prompts cached before (a resumed run skips their files).
        let previous = (try? cache.readManifest()) ?? []
        var lengths = Dictionary(
            previous.map { ($0.promptEmbedPath, $0.originalLength) }, uniquingKeysWith: { first, _ in first })
        let f = QwenImageEmbeddingCache.folders
        func cached(_ index: Int) -> Bool {
            lengths["\(index).safetensors"] != nil
                && [f.prompt, f.mask].allSatisfy {
                    FileManager.default.fileExists(
                        atPath: cache.folder.appendingPathComponent($0).appendingPathComponent("\(index).safetensors")
                            .path)
                }
        }
        let todo = selected.filter { !cached($0.index) }
        print("\(selected.count) prompts from \(prompts); \(selected.count - todo.count) already cached in \(out)")
        if !todo.isEmpty {
            let encoding = try QwenImageTextEncoding.load(from: URL(fileURLWithPath: checkpoint))
            let bar = ProgressBar(total: todo.count, label: "encoding")
            for start in stride(from: 0, to: todo.count, by: max(1, batchSize)) {
                let batch = Array(todo[start..<min(todo.count, start + max(1, batchSize))])
                let (states, mask) = encoding.encodePrompt(batch.map(\.text), maxSequenceLength: length)
                // Right padding: a row's tokens are the first `sum(mask)`; Qwen2.5-VL is causal, so the padding of
                // a batch leaves them as one prompt per call gives them.
                let rowLengths = mask.map { $0.asType(.int32).sum(axis: 1).toArray(Int32.self).map(Int.init) }
                for (row, line) in batch.enumerated() {
                    let tokens = rowLengths?[row] ?? states.dim(1)
                    let entry = try cache.write(
                        index: line.index, promptEmbeds: states[row][0..<tokens], caption: line.text,
                        paddedLength: length, dtype: dtype)
                    lengths[entry.promptEmbedPath] = entry.originalLength
                }
                bar.update(start + batch.count)
            }
        }
        let entries = selected.map { line -> QwenImageEmbeddingCache.Entry in
            let name = "\(line.index).safetensors"
            return .init(
                promptEmbedPath: name, promptAttentionMask: name, caption: line.text, originalLength: lengths[name] ?? 0
            )
        }
        try cache.writeManifest(entries)
        print("wrote \(cache.manifestURL.path) (\(entries.count) prompts)")
    }
}
