import ArgumentParser
import Engine
import Foundation
import Models

extension PreprocessCommand {
    /// `prompt_embed/<i>` and `prompt_attention_mask/<i>` per prompt, as DanceGRPO's HunyuanVideo preprocessing
    /// (`preprocess_hunyuan_embeddings.py --model_type hunyuan_hf`) writes them: the templated prompt's Llama states
    /// after the template's tokens, at `--max-sequence-length` tokens (the seed's 256), below CLIP-L's pooled vector
    /// padded to their width (``HunyuanVideoEmbeddingCache``), the Llama mask, and the manifest. The template's
    /// `crop_start` is counted with the folder's tokenizer, as `HunyuanVideoPipeline.load` does (95 for
    /// HunyuanVideo's).
    /// https://github.com/XueZeyue/DanceGRPO/blob/15cc71d53cc2e6e18a68ee607d5fb6ba9a99e344/fastvideo/data_preprocess/preprocess_hunyuan_embeddings.py
    func runHunyuanVideo(_ selected: [(index: Int, text: String)]) throws {
        let cache = HunyuanVideoEmbeddingCache(folder: URL(fileURLWithPath: out))
        let length = maxSequenceLength ?? HunyuanVideoTextEncoding.defaultMaxSequenceLength
        guard length >= 1 else { throw ValidationError("--max-sequence-length must be at least 1, got \(length)") }
        let f = HunyuanVideoEmbeddingCache.folders
        func cached(_ index: Int) -> Bool {
            [f.prompt, f.mask].allSatisfy {
                FileManager.default.fileExists(
                    atPath: cache.folder.appendingPathComponent($0).appendingPathComponent("\(index).safetensors").path)
            }
        }
        let todo = selected.filter { !cached($0.index) }
        print("\(selected.count) prompts from \(prompts); \(selected.count - todo.count) already cached in \(out)")
        if !todo.isEmpty {
            var encoding = try HunyuanVideoTextEncoding.load(from: URL(fileURLWithPath: checkpoint))
            let prefix = HunyuanVideoTextEncoding.templatePrefixLength(encoding.template, tokenizer: encoding.tokenizer)
            if prefix != encoding.cropStart {
                encoding = HunyuanVideoTextEncoding(
                    tokenizer: encoding.tokenizer, textEncoder: encoding.textEncoder, tokenizer2: encoding.tokenizer2,
                    textEncoder2: encoding.textEncoder2, template: encoding.template, cropStart: prefix)
            }
            let hidden = encoding.textEncoder.config.hiddenSize
            let pooled = encoding.textEncoder2.config.hiddenSize
            guard pooled <= hidden else {
                throw ValidationError(
                    """
                    \(checkpoint): CLIP's pooled vector (\(pooled) features) does not fit in a row of the Llama states \
                    (\(hidden)), where DanceGRPO's cache layout stores it
                    """)
            }
            let bar = ProgressBar(total: todo.count, label: "encoding")
            for start in stride(from: 0, to: todo.count, by: max(1, batchSize)) {
                let batch = Array(todo[start..<min(todo.count, start + max(1, batchSize))])
                let (states, mask, pooledStates) = encoding.encodePrompt(
                    batch.map(\.text), maxSequenceLength: length)
                for (row, line) in batch.enumerated() {
                    _ = try cache.write(
                        index: line.index, promptEmbeds: states[row], attentionMask: mask[row],
                        pooledPromptEmbeds: pooledStates[row], caption: line.text, dtype: dtype)
                }
                bar.update(start + batch.count)
            }
        }
        let entries = selected.map {
            HunyuanVideoEmbeddingCache.Entry(
                promptEmbedPath: "\($0.index).safetensors", promptAttentionMask: "\($0.index).safetensors",
                caption: $0.text)
        }
        try cache.writeManifest(entries)
        print("wrote \(cache.manifestURL.path) (\(entries.count) prompts)")
    }
}
