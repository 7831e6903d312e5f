// The prompt clean-up diffusers' T5-family video pipelines apply before tokenizing (Wan: `prompt_clean`).

public enum PromptCleaning {
    /// diffusers' `prompt_clean` (`whitespace_clean(basic_clean(text))`): ftfy's `fix_text`, HTML entities unescaped
    /// twice, every run of whitespace made one space, the ends stripped. The case is kept (open_clip's clean-up, the
    /// same steps, then lowercases). ftfy's mojibake repair is not reproduced (see TextFixer).
    /// https://github.com/huggingface/diffusers/blob/v0.42.1/src/diffusers/pipelines/wan/pipeline_wan.py
    public static func diffusers(_ text: String) -> String {
        let fixed = TextFixer.fixText(Scalars(text))
        return UnicodeText.collapsePythonWhitespace(HTMLUnescaper.unescape(HTMLUnescaper.unescape(fixed))).string
    }
}
