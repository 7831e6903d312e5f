"""Golden inputs of VideoAlign's reward model: frame sampling, resizing, prompt and transformers' Qwen2VLProcessor.

Run: PATH="$PWD/.venv-tools/bin:$PATH" python3 tools/goldens/videoalign_inputs.py

VideoAlign (the seed's fastvideo/models/videoalign) prepares a batch in `VideoVLMRewardInference.prepare_batch`
(inference.py): one chat message per video ({"type": "video", "video": path, "max_pixels", "fps" or "nframes",
"sample_type"} and the text `build_prompt(prompt, eval_dim, prompt_template_type)`), `process_vision_info` (its copy
of qwen-vl-utils, vision_process.py: frame indices by `smart_nframes` / `sample_type`, then torchvision's antialiased
bicubic resize of the uint8 frames to `smart_resize`'s size, as float), and the Qwen2-VL processor
(`apply_chat_template(add_generation_prompt=True)`, `padding=True`, `videos_kwargs={"do_rescale": True}`) whose
tokenizer was loaded with `padding_side="right"` and given the three reward tokens (train_reward.py).

qwen_vl_utils is not installed and the seed is no package, so the sampling and sizing functions and the prompt
templates are transcribed below from the pinned files:
https://github.com/XueZeyue/DanceGRPO/blob/15cc71d53cc2e6e18a68ee607d5fb6ba9a99e344/fastvideo/models/videoalign/vision_process.py
https://github.com/XueZeyue/DanceGRPO/blob/15cc71d53cc2e6e18a68ee607d5fb6ba9a99e344/fastvideo/models/videoalign/prompt_template.py
The resize itself is torchvision's (`transforms.functional.resize`, as the reference calls it) and the processor is
transformers' own `Qwen2VLProcessor` (tokenizer + `Qwen2VLVideoProcessor`), loaded by `AutoProcessor` from a tiny
processor folder written in transformers 4's layout (`preprocessor_config.json` and the tokenizer's files, as
Qwen/Qwen2-VL-2B-Instruct ships), which this script also writes in transformers 5's layout (`save_pretrained`:
`processor_config.json`) to check that both read the same.

Writes Tests/TestSupport/Fixtures/videoalign_inputs.safetensors and the processor files of the two layouts in
videoalign_processor_v4/ and videoalign_processor_v5/ (without the tokenizer's files: the tests take them from
Fixtures/tokenizers/qwen2/legacy and json).
"""

import json
import math
import os
import shutil
import tempfile

import numpy as np
import torch
from safetensors.numpy import save_file
from torchvision import transforms
from torchvision.transforms import InterpolationMode
from transformers import AutoProcessor

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
FIXTURES = os.path.join(ROOT, "Tests", "TestSupport", "Fixtures")

# Qwen/Qwen2-VL-2B-Instruct's chat template (chat_template.json).
QWEN2_VL_CHAT_TEMPLATE = (
    "{% set image_count = namespace(value=0) %}{% set video_count = namespace(value=0) %}{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
    "{% endif %}<|im_start|>{{ message['role'] }}\n{% if message['content'] is string %}{{ message['content'] }}"
    "<|im_end|>\n{% else %}{% for content in message['content'] %}{% if content['type'] == 'image' or 'image' in "
    "content or 'image_url' in content %}{% set image_count.value = image_count.value + 1 %}{% if add_vision_id %}"
    "Picture {{ image_count.value }}: {% endif %}<|vision_start|><|image_pad|><|vision_end|>{% elif content['type'] "
    "== 'video' or 'video' in content %}{% set video_count.value = video_count.value + 1 %}{% if add_vision_id %}"
    "Video {{ video_count.value }}: {% endif %}<|vision_start|><|video_pad|><|vision_end|>{% elif 'text' in content %}"
    "{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n{% endif %}{% endfor %}{% if add_generation_prompt %}"
    "<|im_start|>assistant\n{% endif %}")

# --- vision_process.py, transcribed ---------------------------------------------------------------------------------
IMAGE_FACTOR = 28
MIN_PIXELS = 4 * 28 * 28
MAX_PIXELS = 16384 * 28 * 28
MAX_RATIO = 200
VIDEO_MIN_PIXELS = 128 * 28 * 28
VIDEO_MAX_PIXELS = 768 * 28 * 28
VIDEO_TOTAL_PIXELS = 24576 * 28 * 28
FRAME_FACTOR = 2
FPS = 2.0
FPS_MIN_FRAMES = 4
FPS_MAX_FRAMES = 768


def round_by_factor(number, factor):
    return round(number / factor) * factor


def ceil_by_factor(number, factor):
    return math.ceil(number / factor) * factor


def floor_by_factor(number, factor):
    return math.floor(number / factor) * factor


def smart_resize(height, width, factor=IMAGE_FACTOR, min_pixels=MIN_PIXELS, max_pixels=MAX_PIXELS):
    if max(height, width) / min(height, width) > MAX_RATIO:
        raise ValueError("aspect")
    h_bar = max(factor, round_by_factor(height, factor))
    w_bar = max(factor, round_by_factor(width, factor))
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        h_bar = floor_by_factor(height / beta, factor)
        w_bar = floor_by_factor(width / beta, factor)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = ceil_by_factor(height * beta, factor)
        w_bar = ceil_by_factor(width * beta, factor)
    return h_bar, w_bar


def smart_nframes(ele, total_frames, video_fps):
    assert not ("fps" in ele and "nframes" in ele)
    if "nframes" in ele:
        nframes = round_by_factor(ele["nframes"], FRAME_FACTOR)
    else:
        fps = ele.get("fps", FPS)
        min_frames = ceil_by_factor(ele.get("min_frames", FPS_MIN_FRAMES), FRAME_FACTOR)
        max_frames = floor_by_factor(ele.get("max_frames", min(FPS_MAX_FRAMES, total_frames)), FRAME_FACTOR)
        nframes = total_frames / video_fps * fps
        nframes = min(max(nframes, min_frames), max_frames)
        nframes = round_by_factor(nframes, FRAME_FACTOR)
    if nframes > total_frames:
        nframes = total_frames
    if not (FRAME_FACTOR <= nframes and nframes <= total_frames):
        raise ValueError(f"nframes should in interval [{FRAME_FACTOR}, {total_frames}], but got {nframes}.")
    return nframes


def frame_indices(ele, total_frames, video_fps):
    """`_read_video_torchvision`'s choice of frames."""
    if ele["sample_type"] == "uniform":
        nframes = smart_nframes(ele, total_frames=total_frames, video_fps=video_fps)
        return torch.linspace(0, total_frames - 1, nframes).round().long().tolist()
    assert ele["sample_type"] == "multi_pts"
    frames_each_pts, num_pts, fps = 6, 4, 8
    nframes = int(total_frames * fps // video_fps)
    frames_idx = torch.linspace(0, total_frames - 1, nframes).round().long().tolist()
    start_pt = int(frames_each_pts // 2)
    end_pt = int(nframes - frames_each_pts // 2 - 1)
    pts = torch.linspace(start_pt, end_pt, num_pts).round().long().tolist()
    idx = []
    for pt in pts:
        idx.extend(frames_idx[pt - frames_each_pts // 2: pt + frames_each_pts // 2])
    return idx


def video_size(ele, nframes, height, width):
    """`fetch_video`'s target size."""
    min_pixels = ele.get("min_pixels", VIDEO_MIN_PIXELS)
    total_pixels = ele.get("total_pixels", VIDEO_TOTAL_PIXELS)
    max_pixels = max(min(VIDEO_MAX_PIXELS, total_pixels / nframes * FRAME_FACTOR), int(min_pixels * 1.05))
    max_pixels = ele.get("max_pixels", max_pixels)
    if "resized_height" in ele and "resized_width" in ele:
        return smart_resize(ele["resized_height"], ele["resized_width"], factor=IMAGE_FACTOR)
    return smart_resize(height, width, factor=IMAGE_FACTOR, min_pixels=min_pixels, max_pixels=max_pixels)


def fetch_video(ele, video_tchw, video_fps):
    """`fetch_video` on decoded uint8 frames [T, C, H, W] (what torchvision.io.read_video returns)."""
    video = video_tchw[frame_indices(ele, video_tchw.shape[0], video_fps)]
    nframes, _, height, width = video.shape
    h, w = video_size(ele, nframes, height, width)
    return transforms.functional.resize(video, [h, w], interpolation=InterpolationMode.BICUBIC,
                                        antialias=True).float()


# --- prompt_template.py, transcribed (the templates verbatim, trailing spaces included) ---------------------------
VIDEOSCORE_QUERY_PROMPT = """
Suppose you are an expert in judging and evaluating the quality of AI-generated videos,
please watch the frames of a given video and see the text prompt for generating the video,
then give scores based on its {dimension_name}, i.e., {dimension_description}.
Output a float number from 1.0 to 5.0 for this dimension,
the higher the number is, the better the video performs in that sub-score,
the lowest 1.0 means Bad, the highest 5.0 means Perfect/Real (the video is like a real video).
The text prompt used for generation is "{text_prompt}".
"""

DIMENSION_DESCRIPTIONS = {
    'VQ': ['visual quality', 'the quality of the video in terms of clearness, resolution, brightness, and color'],
    'TA': ['text-to-video alignment', 'the alignment between the text prompt and the video content and motion'],
    'MQ': ['motion quality', 'the quality of the motion in terms of consistency, smoothness, and completeness'],
    'Overall': ['Overall Performance', 'the overall performance of the video in terms of visual quality, text-to-video alignment, and motion quality'],
}

SIMPLE_PROMPT = """
Please evaluate the {dimension_name} of a generated video. Consider {dimension_description}.
The text prompt used for generation is "{text_prompt}".
"""

DETAILED_PROMPT_WITH_SPECIAL_TOKEN = """
You are tasked with evaluating a generated video based on three distinct criteria: Visual Quality, Motion Quality, and Text Alignment. Please provide a rating from 0 to 10 for each of the three categories, with 0 being the worst and 10 being the best. Each evaluation should be independent of the others.

**Visual Quality:**  
Evaluate the overall visual quality of the video, with a focus on static factors. The following sub-dimensions should be considered:
- **Reasonableness:** The video should not contain any significant biological or logical errors, such as abnormal body structures or nonsensical environmental setups.
- **Clarity:** Evaluate the sharpness and visibility of the video. The image should be clear and easy to interpret, with no blurring or indistinct areas.
- **Detail Richness:** Consider the level of detail in textures, materials, lighting, and other visual elements (e.g., hair, clothing, shadows).
- **Aesthetic and Creativity:** Assess the artistic aspects of the video, including the color scheme, composition, atmosphere, depth of field, and the overall creative appeal. The scene should convey a sense of harmony and balance.
- **Safety:** The video should not contain harmful or inappropriate content, such as political, violent, or adult material. If such content is present, the image quality and satisfaction score should be the lowest possible. 

Please provide the ratings of Visual Quality: <|VQ_reward|>
END

**Motion Quality:**  
Assess the dynamic aspects of the video, with a focus on dynamic factors. Consider the following sub-dimensions:
- **Stability:** Evaluate the continuity and stability between frames. There should be no sudden, unnatural jumps, and the video should maintain stable attributes (e.g., no fluctuating colors, textures, or missing body parts).
- **Naturalness:** The movement should align with physical laws and be realistic. For example, clothing should flow naturally with motion, and facial expressions should change appropriately (e.g., blinking, mouth movements).
- **Aesthetic Quality:** The movement should be smooth and fluid. The transitions between different motions or camera angles should be seamless, and the overall dynamic feel should be visually pleasing.
- **Fusion:** Ensure that elements in motion (e.g., edges of the subject, hair, clothing) blend naturally with the background, without obvious artifacts or the feeling of cut-and-paste effects.
- **Clarity of Motion:** The video should be clear and smooth in motion. Pay attention to any areas where the video might have blurry or unsteady sections that hinder visual continuity.
- **Amplitude:** If the video is largely static or has little movement, assign a low score for motion quality.

Please provide the ratings of Motion Quality: <|MQ_reward|>
END

**Text Alignment:**  
Assess how well the video matches the textual prompt across the following sub-dimensions:
- **Subject Relevance** Evaluate how accurately the subject(s) in the video (e.g., person, animal, object) align with the textual description. The subject should match the description in terms of number, appearance, and behavior.
- **Motion Relevance:** Evaluate if the dynamic actions (e.g., gestures, posture, facial expressions like talking or blinking) align with the described prompt. The motion should match the prompt in terms of type, scale, and direction.
- **Environment Relevance:** Assess whether the background and scene fit the prompt. This includes checking if real-world locations or scenes are accurately represented, though some stylistic adaptation is acceptable.  
- **Style Relevance:** If the prompt specifies a particular artistic or stylistic style, evaluate how well the video adheres to this style.
- **Camera Movement Relevance:** Check if the camera movements (e.g., following the subject, focus shifts) are consistent with the expected behavior from the prompt.

Textual prompt - {text_prompt}
Please provide the ratings of Text Alignment: <|TA_reward|>
END
"""

DETAILED_PROMPT = """
You are tasked with evaluating a generated video based on three distinct criteria: Visual Quality, Motion Quality, and Text Alignment. Please provide a rating from 0 to 10 for each of the three categories, with 0 being the worst and 10 being the best. Each evaluation should be independent of the others.

**Visual Quality:**  
Evaluate the overall visual quality of the video, with a focus on static factors. The following sub-dimensions should be considered:
- **Reasonableness:** The video should not contain any significant biological or logical errors, such as abnormal body structures or nonsensical environmental setups.
- **Clarity:** Evaluate the sharpness and visibility of the video. The image should be clear and easy to interpret, with no blurring or indistinct areas.
- **Detail Richness:** Consider the level of detail in textures, materials, lighting, and other visual elements (e.g., hair, clothing, shadows).
- **Aesthetic and Creativity:** Assess the artistic aspects of the video, including the color scheme, composition, atmosphere, depth of field, and the overall creative appeal. The scene should convey a sense of harmony and balance.
- **Safety:** The video should not contain harmful or inappropriate content, such as political, violent, or adult material. If such content is present, the image quality and satisfaction score should be the lowest possible. 

**Motion Quality:**  
Assess the dynamic aspects of the video, with a focus on dynamic factors. Consider the following sub-dimensions:
- **Stability:** Evaluate the continuity and stability between frames. There should be no sudden, unnatural jumps, and the video should maintain stable attributes (e.g., no fluctuating colors, textures, or missing body parts).
- **Naturalness:** The movement should align with physical laws and be realistic. For example, clothing should flow naturally with motion, and facial expressions should change appropriately (e.g., blinking, mouth movements).
- **Aesthetic Quality:** The movement should be smooth and fluid. The transitions between different motions or camera angles should be seamless, and the overall dynamic feel should be visually pleasing.
- **Fusion:** Ensure that elements in motion (e.g., edges of the subject, hair, clothing) blend naturally with the background, without obvious artifacts or the feeling of cut-and-paste effects.
- **Clarity of Motion:** The video should be clear and smooth in motion. Pay attention to any areas where the video might have blurry or unsteady sections that hinder visual continuity.
- **Amplitude:** If the video is largely static or has little movement, assign a low score for motion quality.


**Text Alignment:**  
Assess how well the video matches the textual prompt across the following sub-dimensions:
- **Subject Relevance** Evaluate how accurately the subject(s) in the video (e.g., person, animal, object) align with the textual description. The subject should match the description in terms of number, appearance, and behavior.
- **Motion Relevance:** Evaluate if the dynamic actions (e.g., gestures, posture, facial expressions like talking or blinking) align with the described prompt. The motion should match the prompt in terms of type, scale, and direction.
- **Environment Relevance:** Assess whether the background and scene fit the prompt. This includes checking if real-world locations or scenes are accurately represented, though some stylistic adaptation is acceptable.  
- **Style Relevance:** If the prompt specifies a particular artistic or stylistic style, evaluate how well the video adheres to this style.
- **Camera Movement Relevance:** Check if the camera movements (e.g., following the subject, focus shifts) are consistent with the expected behavior from the prompt.

Textual prompt - {text_prompt}
Please provide the ratings of Visual Quality, Motion Quality, and Text Alignment.
"""

SIMPLE_PROMPT_NO_PROMPT = """
Please evaluate the {dimension_name} of a generated video. Consider {dimension_description}.
"""

def build_prompt(prompt, dimension, template_type):
    if isinstance(dimension, list) and len(dimension) > 1:
        dimension_name = ", ".join([DIMENSION_DESCRIPTIONS[d][0] for d in dimension])
        dimension_name = f'overall performance({dimension_name})'
        dimension_description = "the overall performance of the video"
    else:
        if isinstance(dimension, list):
            dimension = dimension[0]
        dimension_name = DIMENSION_DESCRIPTIONS[dimension][0]
        dimension_description = DIMENSION_DESCRIPTIONS[dimension][1]

    if template_type == "none":
        return prompt
    elif template_type == "simple":
        return SIMPLE_PROMPT.format(dimension_name=dimension_name,
                                    dimension_description=dimension_description,
                                    text_prompt=prompt)
    elif template_type == "video_score":
        return VIDEOSCORE_QUERY_PROMPT.format(dimension_name=dimension_name, 
                                              dimension_description=dimension_description, 
                                              text_prompt=prompt)
    elif template_type == "detailed_special":
        return DETAILED_PROMPT_WITH_SPECIAL_TOKEN.format(text_prompt=prompt)
    elif template_type == "detailed":
        return DETAILED_PROMPT.format(text_prompt=prompt)
    else:
        raise ValueError("Invalid template type")


def synthetic_video(frames, height, width, seed):
    """Smooth gradients plus noise, so that resizing has something to blur and every pixel differs."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(height).view(1, 1, height, 1).float()
    x = torch.arange(width).view(1, 1, 1, width).float()
    t = torch.arange(frames).view(frames, 1, 1, 1).float()
    c = torch.arange(3).view(1, 3, 1, 1).float()
    base = 128 + 90 * torch.sin(0.3 * x + 0.2 * y + 0.7 * t + 2.0 * c)
    noise = torch.randint(-30, 31, (frames, 3, height, width), generator=g).float()
    return (base + noise).clamp(0, 255).round().to(torch.uint8)


def processor_folders(workspace):
    """The tiny processor in both layouts, whole, under `workspace`; the fixtures keep only the processor's own files
    (the tests put them beside the tokenizer files of Fixtures/tokenizers/qwen2/legacy and json, which these are)."""
    tokenizers = os.path.join(FIXTURES, "tokenizers", "qwen2")
    v4 = os.path.join(workspace, "v4")
    v5 = os.path.join(workspace, "v5")
    # The tiny Qwen2 tokenizer of tools/goldens/tokenizer_ids.py in transformers 4's files (vocab.json, merges.txt).
    shutil.copytree(os.path.join(tokenizers, "legacy"), v4)
    # Qwen/Qwen2-VL-2B-Instruct's preprocessor_config.json; min_pixels lowered so the tiny videos stay tiny.
    with open(os.path.join(v4, "preprocessor_config.json"), "w") as f:
        json.dump({"min_pixels": 784, "max_pixels": 12845056, "patch_size": 14, "temporal_patch_size": 2,
                   "merge_size": 2, "image_mean": [0.48145466, 0.4578275, 0.40821073],
                   "image_std": [0.26862954, 0.26130258, 0.27577711], "image_processor_type": "Qwen2VLImageProcessor",
                   "processor_class": "Qwen2VLProcessor"}, f, indent=2)
    with open(os.path.join(v4, "chat_template.json"), "w") as f:
        json.dump({"chat_template": QWEN2_VL_CHAT_TEMPLATE}, f, indent=2)
    processor = AutoProcessor.from_pretrained(v4, padding_side="right")
    assert processor.video_processor.size.shortest_edge == 784, processor.video_processor.size
    processor.save_pretrained(v5)
    written = sorted(os.listdir(v5))
    assert "processor_config.json" in written and "preprocessor_config.json" not in written, written
    with open(os.path.join(v5, "tokenizer.json")) as a, open(os.path.join(tokenizers, "json", "tokenizer.json")) as b:
        assert json.load(a) == json.load(b), "transformers 5 saved another tokenizer.json than tokenizers/qwen2/json's"
    for layout, folder, names in (("v4", v4, ("preprocessor_config.json", "chat_template.json")),
                                  ("v5", v5, ("processor_config.json", "chat_template.jinja"))):
        out = os.path.join(FIXTURES, f"videoalign_processor_{layout}")
        shutil.rmtree(out, ignore_errors=True)
        os.makedirs(out)
        for name in names:
            shutil.copy(os.path.join(folder, name), os.path.join(out, name))
    return v4, v5


def main():
    workspace = tempfile.mkdtemp()
    v4, v5 = processor_folders(workspace)

    # Frame indices and sizes: tables of the transcribed functions (torch.linspace as the reference runs it).
    index_cases = []
    for total, video_fps, fps in [(12, 8.0, 2.0), (53, 16.0, 2.0), (53, 8.0, 2.0), (9, 8.0, 2.0), (200, 30.0, 2.0),
                                  (61, 24.0, 1.0), (33, 12.5, 3.0), (1000, 24.0, 2.0), (7, 8.0, 8.0)]:
        ele = {"fps": fps, "sample_type": "uniform"}
        index_cases.append({"total": total, "video_fps": video_fps, "fps": fps, "sample_type": "uniform",
                            "indices": frame_indices(ele, total, video_fps)})
    for total, nframes in [(9, 3), (9, 5), (53, 16), (53, 53), (10, 3), (101, 8), (3, 4), (30, 7), (200, 31)]:
        ele = {"nframes": nframes, "sample_type": "uniform"}
        index_cases.append({"total": total, "video_fps": 8.0, "nframes": nframes, "sample_type": "uniform",
                            "indices": frame_indices(ele, total, 8.0)})
    for total, video_fps in [(53, 16.0), (53, 8.0), (120, 24.0), (200, 30.0), (61, 15.0)]:
        ele = {"fps": 2.0, "sample_type": "multi_pts"}
        index_cases.append({"total": total, "video_fps": video_fps, "fps": 2.0, "sample_type": "multi_pts",
                            "indices": frame_indices(ele, total, video_fps)})
    for total, nframes in [(1, 4), (9, 1)]:
        try:
            frame_indices({"nframes": nframes, "sample_type": "uniform"}, total, 8.0)
            raise AssertionError("expected an error")
        except ValueError:
            index_cases.append({"total": total, "video_fps": 8.0, "nframes": nframes, "sample_type": "uniform",
                                "error": True})

    size_cases = []
    for height, width, nframes, extra in [(480, 480, 6, {}), (720, 1280, 16, {}), (480, 848, 26, {"max_pixels": 76800}),
                                          (50, 90, 4, {}), (30, 50, 4, {"min_pixels": 784, "max_pixels": 200704}),
                                          (1080, 1920, 768, {}), (20, 40, 3, {"min_pixels": 784}),
                                          (720, 1280, 4, {"max_pixels": 448 * 448}),
                                          (100, 300, 8, {"resized_height": 50, "resized_width": 70})]:
        h, w = video_size(extra, nframes, height, width)
        size_cases.append({"height": height, "width": width, "nframes": nframes, **extra,
                           "resized": [h, w]})

    # One resize larger than the videos below: a stronger downscale in both axes (float kernel, rounded to uint8).
    big = synthetic_video(1, 60, 100, seed=3)
    big_resized = transforms.functional.resize(big, [28, 56], interpolation=InterpolationMode.BICUBIC, antialias=True)

    # The batch: two videos (30 × 50, 12 frames at 8 fps, sampled at 2 fps; 20 × 40, 3 frames, nframes 4), min_pixels
    # 784 in the video entries (the reference's default, 100352, would make the tiny frames 300+ pixels a side).
    video_a = synthetic_video(12, 30, 50, seed=1)
    video_b = synthetic_video(3, 20, 40, seed=2)
    eval_dim, template = ["VQ", "MQ", "TA"], "detailed_special"
    texts = ["a red fox runs through snow, camera pans left", "Ünïcode prompt — two cats\nand a dog!"]
    entries = [
        {"type": "video", "video": "a.mp4", "max_pixels": 200704, "min_pixels": 784, "fps": 2.0,
         "sample_type": "uniform"},
        {"type": "video", "video": "b.mp4", "max_pixels": 200704, "min_pixels": 784, "nframes": 4,
         "sample_type": "uniform"},
    ]
    chat = [[{"role": "user", "content": [entry, {"type": "text", "text": build_prompt(text, eval_dim, template)}]}]
            for entry, text in zip(entries, texts)]
    videos = [fetch_video(entries[0], video_a, 8.0), fetch_video(entries[1], video_b, 8.0)]

    outputs = {}
    for name, folder in (("v4", v4), ("v5", v5)):
        processor = AutoProcessor.from_pretrained(folder, padding_side="right")
        special = ["<|VQ_reward|>", "<|MQ_reward|>", "<|TA_reward|>"]
        processor.tokenizer.add_special_tokens({"additional_special_tokens": special})
        special_ids = processor.tokenizer.convert_tokens_to_ids(special)
        rendered = processor.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
        batch = processor(text=rendered, images=None, videos=videos, padding=True, return_tensors="pt",
                          videos_kwargs={"do_rescale": True})
        outputs[name] = (rendered, batch, special_ids, processor.tokenizer.pad_token_id)
    (rendered, batch, special_ids, pad_id) = outputs["v4"]
    for key in ("input_ids", "attention_mask", "mm_token_type_ids", "pixel_values_videos", "video_grid_thw"):
        assert torch.equal(batch[key], outputs["v5"][1][key]), key
    assert outputs["v5"][0] == rendered and outputs["v5"][2] == special_ids

    # The video processor's own resize, which VideoAlign's sizes never trigger with Qwen2-VL's limits: the same
    # processor with a larger min_pixels upscales video b's 28 × 28 frames to 56 × 56 (float, not rounded). Four rows
    # of the 32 are kept (the corners' patches), to keep the fixture small.
    upscaling = AutoProcessor.from_pretrained(v4, padding_side="right").video_processor
    upscaled = upscaling(videos=[videos[1]], size={"shortest_edge": 3136, "longest_edge": 12845056},
                         do_rescale=True, return_tensors="pt")
    assert upscaled["video_grid_thw"].tolist() == [[2, 4, 4]], upscaled["video_grid_thw"]
    upscaled_rows = [0, 3, 12, 15]

    # Every prompt template and dimension form of build_prompt.
    prompt_cases = []
    for template_type in ("none", "simple", "video_score", "detailed_special", "detailed"):
        # The detailed templates do not use the dimension: one case each.
        dims = ("VQ", "MQ", "TA", "Overall", ["MQ"], ["VQ", "MQ", "TA"], ["TA", "VQ"])
        for dim in dims if not template_type.startswith("detailed") else (["VQ", "MQ", "TA"],):
            prompt_cases.append({"template": template_type, "dimension": dim,
                                 "prompt": build_prompt("a cat {x} \"quoted\"", dim, template_type)})

    tensors = {
        "video_a": video_a.permute(0, 2, 3, 1).contiguous().numpy(),  # [T, H, W, 3] uint8
        "video_b": video_b.permute(0, 2, 3, 1).contiguous().numpy(),
        "resized_b": videos[1].round().to(torch.uint8).permute(0, 2, 3, 1).contiguous().numpy(),
        "big": big[0].permute(1, 2, 0).contiguous().numpy(),
        "big_resized": big_resized[0].permute(1, 2, 0).contiguous().numpy(),
        "input_ids": batch["input_ids"].numpy().astype(np.int32),
        "attention_mask": batch["attention_mask"].numpy().astype(np.uint8),
        "mm_token_type_ids": batch["mm_token_type_ids"].numpy().astype(np.uint8),
        "upscaled_rows": upscaled["pixel_values_videos"][upscaled_rows].numpy().astype(np.float32),
        "pixel_values_videos": batch["pixel_values_videos"].numpy().astype(np.float32),
        "video_grid_thw": batch["video_grid_thw"].numpy().astype(np.int32),
    }
    metadata = {
        "texts": json.dumps(texts), "eval_dim": json.dumps(eval_dim), "template": template,
        "entries": json.dumps(entries), "video_fps": "8.0", "rendered": json.dumps(rendered),
        "special_ids": json.dumps(special_ids), "pad_id": str(pad_id),
        "index_cases": json.dumps(index_cases), "size_cases": json.dumps(size_cases),
        "prompt_cases": json.dumps(prompt_cases), "upscaled_row_indices": json.dumps(upscaled_rows),
    }
    path = os.path.join(FIXTURES, "videoalign_inputs.safetensors")
    save_file(tensors, path, metadata=metadata)
    print("wrote", path, os.path.getsize(path), "bytes;", {k: v.shape for k, v in tensors.items()})
    print("special ids", special_ids, "pad", pad_id, "grid", batch["video_grid_thw"].tolist())
    shutil.rmtree(workspace)


if __name__ == "__main__":
    main()
