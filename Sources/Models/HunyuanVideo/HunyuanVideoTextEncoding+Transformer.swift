import Engine
import Foundation

extension HunyuanVideoTextEncoding {
    /// The text side of a HunyuanVideo folder as its pipelines load it: `cropStart` nil counts the template's prefix
    /// with the folder's tokenizer (95 with HunyuanVideo's, diffusers' `DEFAULT_PROMPT_TEMPLATE["crop_start"]`, and
    /// the right count for a tokenizer of another vocabulary); the Llama states must have the transformer's
    /// `text_embed_dim` features.
    static func load(from folder: URL, dtype: DType?, cropStart: Int?, textEmbedDim: Int) throws
        -> HunyuanVideoTextEncoding
    {
        var text = try HunyuanVideoTextEncoding.load(from: folder, dtype: dtype)
        let prefix =
            cropStart ?? HunyuanVideoTextEncoding.templatePrefixLength(text.template, tokenizer: text.tokenizer)
        if prefix != text.cropStart {
            text = HunyuanVideoTextEncoding(
                tokenizer: text.tokenizer, textEncoder: text.textEncoder, tokenizer2: text.tokenizer2,
                textEncoder2: text.textEncoder2, template: text.template, cropStart: prefix)
        }
        guard text.textEncoder.config.hiddenSize == textEmbedDim else {
            throw ModelFolderError.missingComponents(
                file: folder.path,
                reason:
                    """
                    text_encoder/ gives \(text.textEncoder.config.hiddenSize)-dim states, the transformer's \
                    text_embed_dim is \(textEmbedDim)
                    """)
        }
        return text
    }
}
