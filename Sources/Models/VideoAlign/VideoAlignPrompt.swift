// https://github.com/XueZeyue/DanceGRPO/blob/15cc71d53cc2e6e18a68ee607d5fb6ba9a99e344/fastvideo/models/videoalign/prompt_template.py
/// VideoAlign's query text (`build_prompt(prompt, eval_dim, prompt_template_type)`) and the Qwen2-VL chat text it is
/// wrapped in for one video (`apply_chat_template(..., add_generation_prompt=True)` on a user message holding the
/// video, then the text).
public enum VideoAlignPrompt {
    /// `DIMENSION_DESCRIPTIONS`' keys.
    public enum Dimension: String, Sendable, CaseIterable, Codable {
        case visualQuality = "VQ", textAlignment = "TA", motionQuality = "MQ", overall = "Overall"

        var name: String {
            switch self {
            case .visualQuality: return "visual quality"
            case .textAlignment: return "text-to-video alignment"
            case .motionQuality: return "motion quality"
            case .overall: return "Overall Performance"
            }
        }

        var description: String {
            switch self {
            case .visualQuality:
                return "the quality of the video in terms of clearness, resolution, brightness, and color"
            case .textAlignment: return "the alignment between the text prompt and the video content and motion"
            case .motionQuality:
                return "the quality of the motion in terms of consistency, smoothness, and completeness"
            case .overall:
                return "the overall performance of the video in terms of visual quality, text-to-video alignment, "
                    + "and motion quality"
            }
        }
    }

    /// `prompt_template_type`.
    public enum TemplateType: String, Sendable, CaseIterable, Codable {
        case none, simple
        case videoScore = "video_score"
        case detailedSpecial = "detailed_special"
        case detailed
    }

    public enum Error: Swift.Error, CustomStringConvertible, Equatable {
        case noDimension
        public var description: String { "VideoAlign prompt: eval_dim names no dimension" }
    }

    /// `build_prompt`: `dimensions` is `eval_dim` (one name, or a list: more than one makes the "overall
    /// performance(…)" dimension).
    public static func build(_ prompt: String, dimensions: [Dimension], template: TemplateType) throws -> String {
        guard let first = dimensions.first else { throw Error.noDimension }
        let (name, description) =
            dimensions.count > 1
            ? (
                "overall performance(" + dimensions.map(\.name).joined(separator: ", ") + ")",
                "the overall performance of the video"
            )
            : (first.name, first.description)
        // str.format: every placeholder filled from the template's text, none from the values put in.
        func format(_ template: String) -> String {
            var out = ""
            var rest = Substring(template)
            let values = ["{dimension_name}": name, "{dimension_description}": description, "{text_prompt}": prompt]
            while let open = rest.firstIndex(of: "{") {
                out += rest[..<open]
                rest = rest[open...]
                if let (key, value) = values.first(where: { rest.hasPrefix($0.key) }) {
                    out += value
                    rest = rest.dropFirst(key.count)
                } else {
                    out.append("{")
                    rest = rest.dropFirst()
                }
            }
            return out + rest
        }
        switch template {
        case .none: return prompt
        case .simple: return format(simpleTemplate)
        case .videoScore: return format(videoScoreTemplate)
        case .detailedSpecial: return format(detailedWithSpecialTokensTemplate)
        case .detailed: return format(detailedTemplate)
        }
    }

    /// Qwen/Qwen2-VL-2B-Instruct's chat template rendered for VideoAlign's message (one user turn: the video, then
    /// `text`), with the generation prompt: the default system turn, the video as
    /// `<|vision_start|><|video_pad|><|vision_end|>` (one `<|video_pad|>`, which the processor expands).
    public static func chatText(_ text: String) -> String {
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n"
            + "<|vision_start|><|video_pad|><|vision_end|>" + text + "<|im_end|>\n<|im_start|>assistant\n"
    }
}
