#!/usr/bin/env python3
"""Golden of VideoAlign's whole inference path on one tiny VideoReward checkpoint folder (Tests/RewardsTests/).

    PATH="$PWD/.venv-tools/bin:$PATH" .venv-tools/bin/python3 tools/goldens/videoalign_end_to_end.py

videoalign_model.py checks the model and videoalign_inputs.py the processor, each on its own vocabulary; this one runs
them together as VideoAlign's `VideoVLMRewardInference.reward(video_paths, prompts, use_norm=True)` does (inference.py
at the pin):
https://github.com/XueZeyue/DanceGRPO/blob/15cc71d53cc2e6e18a68ee607d5fb6ba9a99e344/fastvideo/models/videoalign/inference.py
  - the chat entries of `prepare_batch` with model_config.json's data_config (max_frame_pixels, fps, sample_type,
    eval_dim, prompt_template_type), `process_vision_info` (videoalign_inputs.py's transcription: frame indices, then
    torchvision's antialiased bicubic resize), the real transformers processor loaded from the base folder
    (`AutoProcessor.from_pretrained(..., padding_side="right")` plus the three reward tokens, train_reward.py's
    `create_model_and_processor`), `padding=True`, `videos_kwargs={"do_rescale": True}`;
  - the real Qwen2VLForConditionalGeneration with the checkpoint's LoRA / resized embedding / merger applied and
    VideoAlign's forward and "special" head (videoalign_model.py's transcription);
  - `_norm`: (value - mean) / std with inference_config's means and deviations.

The clip (6 frames of 56 × 84 at 8 fps, sampled at 2 fps to 4 frames and downscaled by max_frame_pixels to 28 × 56)
is scored with two prompts in one batch, as `reward` takes them.

Writes Tests/TestSupport/Fixtures/videoalign_e2e/, the checkpoint folder as users download it:
  model_config.json                      data_config / model_config / peft_lora_config / inference_config
  checkpoint-4/                          the LoRA layout (adapter_config.json, adapter_model.safetensors,
                                         non_lora_state_dict.pth) as videoalign_model.py writes it
  Qwen2-VL-2B-Instruct/                  the base: config.json (transformers 4 layout; vocabulary the tiny Qwen2
                                         tokenizer's 716 tokens + the 3 reward tokens, its image / video /
                                         vision-start ids), model.safetensors, and the processor files in
                                         transformers 4's layout (vocab.json, merges.txt, tokenizer_config.json,
                                         preprocessor_config.json, chat_template.json: videoalign_processor_v4's)
and Tests/TestSupport/Fixtures/videoalign_e2e.safetensors:
  clip                                   [6, 56, 84, 3] uint8 frames (metadata "fps" 8)
  normalized                             [2, 3] the normalised VQ, MQ, TA of each prompt (float64 reference)
  raw                                    [2, 3] the head's values before `_norm`
  normalized_num_frames                  [2, 3] the same with data_config "num_frames": 6 (metadata
                                         "num_frames_data_config"; prepare_batch's `nframes` entry, all 6 frames)
with metadata "prompts" (JSON list), "fps", "video_grid_thw", "lengths" (each row's token count). Weights float32, reference forward in float64. Seeded.
"""
import copy
import json
import math
import os
import shutil

import numpy as np
import torch
from safetensors.numpy import save_file as save_numpy
from safetensors.torch import save_file
from transformers import AutoProcessor, Qwen2VLConfig, Qwen2VLForConditionalGeneration

import videoalign_inputs as inputs
import videoalign_model as reward

FIXTURES = reward.FIXTURES
TOKENIZER = os.path.join(FIXTURES, "tokenizers", "qwen2", "legacy")
PROCESSOR = os.path.join(FIXTURES, "videoalign_processor_v4")

# The tiny Qwen2 tokenizer's ids (Fixtures/tokenizers/qwen2/legacy: 700 tokens, then its added ones up to 715).
ENDOFTEXT, IM_END, VISION_START, VISION_END, VISION_PAD, IMAGE, VIDEO = 700, 702, 709, 710, 711, 712, 713
TOKENIZER_LENGTH = 716 + 3

CONFIG_T4 = copy.deepcopy(reward.CONFIG_T4)
CONFIG_T4.update({
    "bos_token_id": ENDOFTEXT, "eos_token_id": IM_END, "vision_start_token_id": VISION_START,
    "vision_end_token_id": VISION_END, "vision_token_id": VISION_PAD, "image_token_id": IMAGE,
    "video_token_id": VIDEO, "hidden_size": 16, "intermediate_size": 24, "num_attention_heads": 2,
    "num_key_value_heads": 1, "vocab_size": TOKENIZER_LENGTH,
    "vision_config": {"depth": 2, "embed_dim": 8, "mlp_ratio": 2, "num_heads": 2, "in_chans": 3, "hidden_size": 16,
                      "patch_size": 14, "spatial_merge_size": 2, "temporal_patch_size": 2},
})

MODEL_CONFIG = copy.deepcopy(reward.MODEL_CONFIG)
MODEL_CONFIG["data_config"].update({"max_frame_pixels": 3136, "fps": 2.0, "num_frames": None})
# Other statistics than the real checkpoint's (which videoalign_model.py uses), so that a de-normalisation with
# constants instead of the file's would show.
MODEL_CONFIG["inference_config"] = {"VQ_mean": -0.8125, "VQ_std": 0.4375, "MQ_mean": 0.3125, "MQ_std": 1.875,
                                    "TA_mean": 1.5625, "TA_std": 0.6875}
CLIP_FPS = 8.0
PROMPTS = ["a red fox runs through snow, camera pans left", "A quiet harbour at dawn; boats drift (slowly)."]
STEP = 4


def main():
    torch.manual_seed(3232)
    config = Qwen2VLConfig(**copy.deepcopy(CONFIG_T4))
    config._attn_implementation = "eager"
    config.vision_config._attn_implementation = "eager"
    config.text_config._attn_implementation = "eager"
    model = Qwen2VLForConditionalGeneration(config).eval()
    reward.perturb(model)
    hidden = CONFIG_T4["hidden_size"]
    base = {reward.hub_key(k): v.detach().clone().float().contiguous() for k, v in model.state_dict().items()
            if k != "lm_head.weight"}

    rm_head = torch.randn(1, hidden) / math.sqrt(hidden)
    non_lora = {"rm_head.weight": rm_head, "model.embed_tokens.weight": torch.randn(TOKENIZER_LENGTH, hidden)}
    for k, v in base.items():
        if k.startswith("visual.merger."):
            non_lora[k] = v + 0.1 * torch.randn_like(v)
    lora, targets = {}, []
    for k, v in base.items():
        if k.startswith("model.layers.") and k.endswith("_proj.weight"):
            module = k[:-len(".weight")]
            targets.append(module)
            out_features, in_features = v.shape
            r = reward.LORA_R
            lora[f"base_model.model.{module}.lora_A.weight"] = torch.randn(r, in_features) / math.sqrt(in_features)
            lora[f"base_model.model.{module}.lora_B.weight"] = 0.3 * torch.randn(out_features, r) / math.sqrt(r)
    scaling = reward.LORA_ALPHA / reward.LORA_R

    # The folder, written first: the processor is loaded from it as create_model_and_processor does.
    folder = os.path.join(FIXTURES, "videoalign_e2e")
    shutil.rmtree(folder, ignore_errors=True)
    step = os.path.join(folder, f"checkpoint-{STEP}")
    base_folder = os.path.join(folder, "Qwen2-VL-2B-Instruct")
    os.makedirs(step)
    shutil.copytree(TOKENIZER, base_folder)
    # The tiny processor's preprocessor_config.json (Qwen2-VL-2B-Instruct's with min_pixels 784, not 3136): the 28 × 56
    # frames VideoAlign leaves are then within the video processor's limits and its own resize keeps them, as it keeps
    # the frames of real clips under VideoAlign's limits. (Below min_pixels it would resize them again, through PIL
    # on uint8 under the seed's transformers 4.46.1 but in float torch under transformers 5: no single reference.)
    for name in ("preprocessor_config.json", "chat_template.json"):
        shutil.copy(os.path.join(PROCESSOR, name), os.path.join(base_folder, name))
    with open(os.path.join(folder, "model_config.json"), "w") as f:
        json.dump(MODEL_CONFIG, f, indent=4)
    adapter_config = {
        "peft_type": "LORA", "task_type": "CAUSAL_LM", "base_model_name_or_path": "./Qwen2-VL-2B-Instruct",
        "r": reward.LORA_R, "lora_alpha": reward.LORA_ALPHA, "lora_dropout": 0.05, "use_rslora": False,
        "bias": "none", "fan_in_fan_out": False, "modules_to_save": None, "rank_pattern": {}, "alpha_pattern": {},
        "target_modules": sorted(targets), "inference_mode": True}
    with open(os.path.join(step, "adapter_config.json"), "w") as f:
        json.dump(adapter_config, f, indent=2)
    save_file({k: v.contiguous() for k, v in lora.items()}, os.path.join(step, "adapter_model.safetensors"),
              metadata={"format": "pt"})
    torch.save({f"base_model.model.{k}": v.contiguous() for k, v in non_lora.items()},
               os.path.join(step, "non_lora_state_dict.pth"))
    with open(os.path.join(base_folder, "config.json"), "w") as f:
        json.dump(CONFIG_T4, f, indent=2)
    save_file(base, os.path.join(base_folder, "model.safetensors"), metadata={"format": "pt"})

    # create_model_and_processor's processor.
    processor = AutoProcessor.from_pretrained(base_folder, padding_side="right")
    special = ["<|VQ_reward|>", "<|MQ_reward|>", "<|TA_reward|>"]
    processor.tokenizer.add_special_tokens({"additional_special_tokens": special})
    special_ids = processor.tokenizer.convert_tokens_to_ids(special)
    assert len(processor.tokenizer) == TOKENIZER_LENGTH, len(processor.tokenizer)
    assert special_ids == [716, 717, 718] and processor.tokenizer.pad_token_id == ENDOFTEXT, special_ids
    assert processor.tokenizer.convert_tokens_to_ids("<|video_pad|>") == VIDEO

    clip = inputs.synthetic_video(6, 56, 84, seed=11)  # [T, C, H, W] uint8
    m = model.double()
    with torch.no_grad():
        reward.apply_reward_weights(m, non_lora, lora, targets, scaling)

    def score(data):
        """reward(video_paths, prompts, use_norm=True) with `data` as model_config.json's data_config: prepare_batch
        on the decoded clip (what read_video gives process_vision_info), the model's forward and head, `_norm`."""
        entry = {"type": "video", "video": "file://clip.mp4", "max_pixels": data["max_frame_pixels"],
                 "sample_type": data["sample_type"]}
        if data["num_frames"] is None:
            entry["fps"] = data["fps"]
        else:
            entry["nframes"] = data["num_frames"]
        chat = [[{"role": "user", "content": [
            entry, {"type": "text", "text": inputs.build_prompt(p, data["eval_dim"], data["prompt_template_type"])}]}]
            for p in PROMPTS]
        videos = [inputs.fetch_video(entry, clip, CLIP_FPS) for _ in PROMPTS]
        batch = processor(text=processor.apply_chat_template(chat, tokenize=False, add_generation_prompt=True),
                          images=None, videos=videos, padding=True, return_tensors="pt",
                          videos_kwargs={"do_rescale": True})
        print("video grid", batch["video_grid_thw"].tolist(), "ids", list(batch["input_ids"].shape))
        with torch.no_grad():
            _, _, logits = reward.reward_forward(m, rm_head, batch["input_ids"], batch["attention_mask"],
                                                 batch["pixel_values_videos"], batch["video_grid_thw"], VIDEO)
            raw = reward.special_logits(logits, batch["input_ids"], special_ids)
        stats = MODEL_CONFIG["inference_config"]
        normalized = torch.stack([(raw[:, i] - stats[f"{d}_mean"]) / stats[f"{d}_std"]
                                  for i, d in enumerate(["VQ", "MQ", "TA"])], dim=1)
        print("raw", raw.tolist())
        print("normalized", normalized.tolist())
        return raw, normalized, batch

    raw, normalized, batch = score(MODEL_CONFIG["data_config"])
    # The same clip with a data_config that asks for a frame count (prepare_batch's "nframes" entry): all 6 frames.
    variant = dict(MODEL_CONFIG["data_config"], num_frames=6)
    _, normalized_frames, batch_frames = score(variant)
    assert batch_frames["video_grid_thw"].tolist()[0] == [3, 2, 4]

    path = os.path.join(FIXTURES, "videoalign_e2e.safetensors")
    save_numpy({"clip": clip.permute(0, 2, 3, 1).contiguous().numpy(),
                "normalized": normalized.numpy().astype(np.float32), "raw": raw.numpy().astype(np.float32),
                "normalized_num_frames": normalized_frames.numpy().astype(np.float32)}, path,
               metadata={"prompts": json.dumps(PROMPTS), "fps": str(CLIP_FPS),
                         "lengths": json.dumps(batch["attention_mask"].sum(dim=1).tolist()),
                         "video_grid_thw": json.dumps(batch["video_grid_thw"].tolist()),
                         "num_frames_data_config": json.dumps(variant)})
    total = os.path.getsize(path)
    for root, _, files in os.walk(folder):
        total += sum(os.path.getsize(os.path.join(root, name)) for name in files)
    print(f"wrote {path} and {folder}: {total} bytes in all")


if __name__ == "__main__":
    main()
