import ArgumentParser
import Engine
import Foundation
import Models

extension PreprocessCommand {
    /// DanceGRPO's preprocess_skyreels_rl_embeddings.sh: per prompt, the templated Llama 3 states, their mask and
    /// CLIP-L's pooled vector in the seed's layout (``SkyReelsEmbeddingCache``), then the empty prompt the same way
    /// in `<out>/empty` (the seed's second run on assets/empty.txt), for the unconditional branch of CFG.
    func runSkyReelsI2V(_ selected: [(index: Int, text: String)]) throws {
        let cache = SkyReelsEmbeddingCache(folder: URL(fileURLWithPath: out))
        let empty = SkyReelsEmbeddingCache(
            folder: cache.folder.appendingPathComponent(SkyReelsEmbeddingCache.emptyFolderName))
        let f = SkyReelsEmbeddingCache.folders
        func cached(_ index: Int, in cache: SkyReelsEmbeddingCache) -> Bool {
            [f.prompt, f.mask].allSatisfy {
                FileManager.default.fileExists(
                    atPath: cache.folder.appendingPathComponent($0).appendingPathComponent("\(index).safetensors").path)
            }
        }
        let todo = selected.filter { !cached($0.index, in: cache) }
        let needEmpty = !cached(0, in: empty)
        print("\(selected.count) prompts from \(prompts); \(selected.count - todo.count) already cached in \(out)")
        if !todo.isEmpty || needEmpty {
            let folder = URL(fileURLWithPath: checkpoint)
            var text = try HunyuanVideoTextEncoding.load(from: folder)
            let prefix = HunyuanVideoTextEncoding.templatePrefixLength(text.template, tokenizer: text.tokenizer)
            if prefix != text.cropStart {
                text = HunyuanVideoTextEncoding(
                    tokenizer: text.tokenizer, textEncoder: text.textEncoder, tokenizer2: text.tokenizer2,
                    textEncoder2: text.textEncoder2, template: text.template, cropStart: prefix)
            }
            let length = maxSequenceLength ?? HunyuanVideoTextEncoding.defaultMaxSequenceLength
            if needEmpty {
                let (states, mask, pooled) = text.encodePrompt([""], maxSequenceLength: length)
                let entry = try empty.write(
                    index: 0, promptEmbeds: states[0], attentionMask: mask[0], pooledPromptEmbeds: pooled[0],
                    caption: "",
                    dtype: dtype)
                try empty.writeManifest([entry])
            }
            let bar = ProgressBar(total: todo.count, label: "encoding")
            for start in stride(from: 0, to: todo.count, by: max(1, batchSize)) {
                let batch = Array(todo[start..<min(todo.count, start + max(1, batchSize))])
                let (states, mask, pooled) = text.encodePrompt(batch.map(\.text), maxSequenceLength: length)
                for (row, line) in batch.enumerated() {
                    _ = try cache.write(
                        index: line.index, promptEmbeds: states[row], attentionMask: mask[row],
                        pooledPromptEmbeds: pooled[row],
                        caption: line.text, dtype: dtype)
                }
                bar.update(start + batch.count)
            }
        }
        let entries = selected.map {
            SkyReelsEmbeddingCache.Entry(
                promptEmbedPath: "\($0.index).safetensors", promptAttentionMask: "\($0.index).safetensors",
                caption: $0.text)
        }
        try cache.writeManifest(entries)
        print(
            "wrote \(cache.manifestURL.path) (\(entries.count) prompts) and the empty prompt's in \(empty.folder.path)")
    }
}
