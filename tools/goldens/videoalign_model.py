#!/usr/bin/env python3
"""Goldens for the Swift VideoAlign reward model (Tests/ModelsTests/VideoAlign/).

    PATH="$PWD/.venv-tools/bin:$PATH" .venv-tools/bin/python3 tools/goldens/videoalign_model.py

VideoAlign's reward model (the KwaiVGI/VideoReward checkpoint the seed scores videos with) is transformers'
Qwen2VLForConditionalGeneration with a bias-free `rm_head` Linear on the language model's last hidden state, read at
the three special reward tokens. The forward below is VideoAlign's `Qwen2VLRewardModelBT.forward` transcribed (only
the head and the way it drives the model; the seed's trainer.py does not import under transformers 5):
https://github.com/XueZeyue/DanceGRPO/blob/15cc71d53cc2e6e18a68ee607d5fb6ba9a99e344/fastvideo/models/videoalign/trainer.py
  - token embeddings, the vision tower's merged video tokens put in the `video_token_id` slots (masked_scatter);
  - the *text* model called with `position_ids=None`: under the seed's transformers 4.46.1 (and 5.25 alike) that is
    0 ..< L in all three M-RoPE rows, not get_rope_index's 3D positions (the reward model never calls it);
  - `rm_head` on every position, then per row the logits at the tokens equal to one of the special token ids, in
    sequence order, viewed [B, 3, output_dim] (diagonal when output_dim is 3, else flattened); "last" and "mean"
    pooling (the seed's other `reward_token` modes) are written too.
The model is built by transformers 5.25 on a tiny random config given in the layout of the hub's transformers 4
config.json of Qwen2-VL-2B-Instruct (text fields at the top level, `rope_scaling` {type: mrope}, vision_config with
embed_dim/mlp_ratio/in_chans). LoRA is applied as peft 0.13.2's `Linear.forward` does (base + lora_B(lora_A(x)) ·
lora_alpha / r; dropout is off in eval) on every Linear of the language model, which is what VideoAlign's
`find_target_linear_names` selects with `lora_namespan_exclude` [lm_head, rm_head, embed_tokens, visual]:
https://github.com/huggingface/peft/blob/v0.13.2/src/peft/tuners/lora/layer.py

Writes Tests/TestSupport/Fixtures/videoalign_mini/, the checkpoint folder as users download it
(load_model_from_checkpoint's layout: the seed's utils.py at the pin) plus the base model beside it:
  model_config.json                       data_config / model_config / peft_lora_config / inference_config
  checkpoint-2/  (an older step, no weights) and checkpoint-12/ (the latest, the one loaded):
    adapter_config.json                   peft's: r, lora_alpha, use_rslora, target_modules
    adapter_model.safetensors             base_model.model.<module>.lora_A.weight / lora_B.weight
    non_lora_state_dict.pth               torch.save of the trainable non-LoRA tensors (rm_head, the resized
                                          embed_tokens, the vision merger), keys base_model.model.<key>
  Qwen2-VL-2B-Instruct/                   the base model in the hub's layout: config.json (transformers 4 layout),
                                          model.safetensors (keys visual.*, model.*; no lm_head: tied)
and Tests/TestSupport/Fixtures/videoalign_model.safetensors:
  input.input_ids, input.attention_mask   [2, L] right padded (float32 holding integers)
  input.pixel_values_videos               [Σ t·h·w, C·T·P·P]; input.video_grid_thw [[4, 4, 4], [2, 4, 6]]
  output.video_embeds                     the base tower's merged tokens for those videos (no merger override)
  output.reward_video_embeds              the reward model's (merger from non_lora_state_dict)
  output.hidden                           the language model's last hidden state [2, L, hidden]
  output.logits_special / _last / _mean   the pooled rm_head logits for each reward_token mode
  output.position_ids                     transformers 5.25's get_rope_index for the same rows, [3, 2, L]
with the configs JSON in metadata "config" (the tiny config in both layouts: "config_t4" as written to the base
folder, "config_t5" as transformers 5 saves it). Weights float32, reference forward in float64. Seeded.
"""
import copy
import json
import math
import os
import shutil

import torch
import transformers
from safetensors.torch import save_file
from transformers import Qwen2VLConfig, Qwen2VLForConditionalGeneration

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "TestSupport", "Fixtures")

# Token ids of the tiny vocabulary: the tokenizer has 72 tokens (the last three the reward tokens VideoAlign adds),
# the base embedding 80 rows (as Qwen2-VL-2B's 151936 rows exceed its tokenizer's 151657 + 3).
VISION_START, VISION_END, IMAGE, VIDEO, PAD = 60, 61, 62, 63, 64
SPECIAL = [69, 70, 71]
TOKENIZER_LENGTH = 72

# The hub's transformers 4 layout (Qwen2-VL-2B-Instruct's config.json shape), with tiny numbers.
CONFIG_T4 = {
    "architectures": ["Qwen2VLForConditionalGeneration"], "attention_dropout": 0.0, "bos_token_id": 59,
    "eos_token_id": 65, "vision_start_token_id": VISION_START, "vision_end_token_id": VISION_END,
    "vision_token_id": 66, "image_token_id": IMAGE, "video_token_id": VIDEO, "hidden_act": "silu",
    "hidden_size": 32, "initializer_range": 0.02, "intermediate_size": 48, "max_position_embeddings": 512,
    "max_window_layers": 2, "model_type": "qwen2_vl", "num_attention_heads": 4, "num_hidden_layers": 2,
    "num_key_value_heads": 2, "rms_norm_eps": 1e-06, "rope_theta": 10000.0, "sliding_window": 512,
    "tie_word_embeddings": True, "torch_dtype": "float32", "transformers_version": "4.41.2", "use_cache": True,
    "use_sliding_window": False,
    "vision_config": {"depth": 2, "embed_dim": 16, "mlp_ratio": 2, "num_heads": 2, "in_chans": 3,
                      "hidden_size": 32, "patch_size": 2, "spatial_merge_size": 2, "temporal_patch_size": 2},
    "rope_scaling": {"type": "mrope", "mrope_section": [1, 1, 2]}, "vocab_size": 80,
}

# Qwen2-VL-2B-Instruct's config.json as the hub has it (transformers 4); "config_2b_t5" is transformers 5's rewrite.
QWEN2_VL_2B = {
    "architectures": ["Qwen2VLForConditionalGeneration"], "attention_dropout": 0.0, "bos_token_id": 151643,
    "eos_token_id": 151645, "vision_start_token_id": 151652, "vision_end_token_id": 151653,
    "vision_token_id": 151654, "image_token_id": 151655, "video_token_id": 151656, "hidden_act": "silu",
    "hidden_size": 1536, "initializer_range": 0.02, "intermediate_size": 8960, "max_position_embeddings": 32768,
    "max_window_layers": 28, "model_type": "qwen2_vl", "num_attention_heads": 12, "num_hidden_layers": 28,
    "num_key_value_heads": 2, "rms_norm_eps": 1e-06, "rope_theta": 1000000.0, "sliding_window": 32768,
    "tie_word_embeddings": True, "torch_dtype": "bfloat16", "transformers_version": "4.41.2", "use_cache": True,
    "use_sliding_window": False,
    "vision_config": {"depth": 32, "embed_dim": 1280, "mlp_ratio": 4, "num_heads": 16, "in_chans": 3,
                      "hidden_size": 1536, "patch_size": 14, "spatial_merge_size": 2, "temporal_patch_size": 2},
    "rope_scaling": {"type": "mrope", "mrope_section": [16, 24, 24]}, "vocab_size": 151936,
}

LORA_R, LORA_ALPHA = 4, 16
MODEL_CONFIG = {
    "data_config": {
        "meta_data": "/path/to/train.csv", "data_dir": "/path/to/videos", "meta_data_test": None,
        "max_frame_pixels": 200704, "num_frames": None, "fps": 2.0, "p_shuffle_frames": 0.0,
        "p_color_jitter": 0.0, "eval_dim": ["VQ", "MQ", "TA"], "prompt_template_type": "detailed_special",
        "add_noise": False, "sample_type": "uniform", "use_tied_data": True},
    "training_args": {"output_dir": "rm_output", "bf16": True},
    "model_config": {
        "model_name_or_path": "Qwen/Qwen2-VL-2B-Instruct", "model_revision": "main", "output_dim": 1,
        "use_special_tokens": True, "freeze_vision_tower": False, "freeze_llm": False, "tune_merger": True,
        "torch_dtype": "bfloat16", "trust_remote_code": False, "attn_implementation": None, "load_in_8bit": False,
        "load_in_4bit": False, "bnb_4bit_quant_type": "nf4", "use_bnb_nested_quant": False,
        "reward_token": "special", "loss_type": "btt"},
    "peft_lora_config": {
        "lora_enable": True, "vision_lora": False, "lora_r": LORA_R, "lora_alpha": LORA_ALPHA, "lora_dropout": 0.05,
        "lora_target_modules": None, "lora_namespan_exclude": ["lm_head", "rm_head", "embed_tokens", "visual"],
        "lora_modules_to_save": None, "lora_task_type": "CAUSAL_LM", "use_rslora": False, "num_lora_modules": -1},
    "inference_config": {"VQ_mean": 3.6757, "VQ_std": 2.2476, "MQ_mean": 1.1646, "MQ_std": 1.3811,
                         "TA_mean": 2.8105, "TA_std": 2.5121},
}


def perturb(model):
    """Norm weights 1 + 0.1·randn, biases 0.1·randn, other weights randn/sqrt(fan-in), so that every tensor moves the
    output."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name or "ln_q" in name:
                p.copy_(1 + 0.1 * torch.randn_like(p))
            elif name.endswith("bias"):
                p.copy_(0.1 * torch.randn_like(p))
            else:
                p.copy_(torch.randn_like(p) / math.sqrt(p[0].numel()))


def hub_key(key):
    """transformers 5's in-memory key → the hub checkpoint's (transformers 4) key."""
    if key.startswith("model.visual."):
        return "visual." + key[len("model.visual."):]
    if key.startswith("model.language_model."):
        return "model." + key[len("model.language_model."):]
    return key


class LoraLinear(torch.nn.Module):
    """peft 0.13.2's lora.Linear in eval: base(x) + lora_B(lora_A(x)) · scaling."""

    def __init__(self, base, a, b, scaling):
        super().__init__()
        self.base, self.a, self.b, self.scaling = base, a, b, scaling

    def forward(self, x):
        return self.base(x) + (x @ self.a.T.to(x.dtype)) @ self.b.T.to(x.dtype) * self.scaling


def apply_reward_weights(m, non_lora, lora, targets, scaling):
    """Turns the (double) base model `m` into the reward model's body as load_model_from_checkpoint leaves it: the
    embedding resized to the tokenizer, the trained vision merger, peft's LoRA on the language model's Linears."""
    lm = m.model.language_model
    lm.embed_tokens = torch.nn.Embedding.from_pretrained(non_lora["model.embed_tokens.weight"].double())
    merger = dict(m.model.visual.merger.named_parameters())
    for k, v in non_lora.items():
        if k.startswith("visual.merger."):
            merger[k[len("visual.merger."):]].copy_(v.double())
    for module in targets:
        parent_name, child_name = module[len("model."):].rsplit(".", 1)
        parent = lm.get_submodule(parent_name)
        a = lora[f"base_model.model.{module}.lora_A.weight"].double()
        b = lora[f"base_model.model.{module}.lora_B.weight"].double()
        setattr(parent, child_name, LoraLinear(getattr(parent, child_name), a, b, scaling))


def reward_forward(m, rm_head, input_ids, attention_mask, pixel_values, grids, video_token_id):
    """Qwen2VLRewardModelBT.forward (trainer.py at the pin), transcribed, up to rm_head on every position: the merged
    video tokens, the language model's last hidden state, and the logits [B, L, output_dim]."""
    lm = m.model.language_model
    inputs_embeds = lm.embed_tokens(input_ids)
    video_embeds = m.model.visual(pixel_values.double(), grid_thw=grids).pooler_output
    video_mask = (input_ids == video_token_id).unsqueeze(-1).expand_as(inputs_embeds)
    inputs_embeds = inputs_embeds.masked_scatter(video_mask, video_embeds.to(inputs_embeds.dtype))
    hidden_states = lm(inputs_embeds=inputs_embeds, attention_mask=attention_mask, position_ids=None)[0]
    return video_embeds, hidden_states, hidden_states @ rm_head.double().T


def special_logits(logits, input_ids, special):
    """The "special" pooling: per row the logits at the reward tokens in sequence order, [B, 3 · output_dim]."""
    batch = input_ids.shape[0]
    special_mask = torch.zeros_like(input_ids, dtype=torch.bool)
    for token in special:
        special_mask = special_mask | (input_ids == token)
    return logits[special_mask, ...].view(batch, 3, -1).view(batch, -1)


def rows():
    """Two right-padded rows: text, <|vision_start|> video tokens <|vision_end|>, text with the three reward tokens."""
    grids = [[4, 4, 4], [2, 4, 6]]
    out = []
    for (t, h, w), text in zip(grids, [[3, 7, 11, 19], [5, 23]]):
        ids = [59, 13, 17] + [VISION_START] + [VIDEO] * (t * (h // 2) * (w // 2)) + [VISION_END]
        ids += text + [SPECIAL[0], 29, 31, SPECIAL[1], 37, SPECIAL[2], 41, 65]
        out.append(ids)
    length = max(len(r) for r in out)
    mask = [[1] * len(r) + [0] * (length - len(r)) for r in out]
    ids = [r + [PAD] * (length - len(r)) for r in out]
    return torch.tensor(ids), torch.tensor(mask), torch.tensor(grids)


def main():
    torch.manual_seed(32)
    config = Qwen2VLConfig(**copy.deepcopy(CONFIG_T4))  # transformers rewrites rope_scaling in place
    config._attn_implementation = "eager"
    config.vision_config._attn_implementation = "eager"
    config.text_config._attn_implementation = "eager"
    model = Qwen2VLForConditionalGeneration(config).eval()
    perturb(model)
    hidden = CONFIG_T4["hidden_size"]
    base = {hub_key(k): v.detach().clone().float().contiguous() for k, v in model.state_dict().items()
            if k != "lm_head.weight"}

    # The trainable non-LoRA tensors VideoAlign saves: rm_head, the embedding resized to the tokenizer, the merger.
    rm_head = torch.randn(1, hidden) / math.sqrt(hidden)
    embed = torch.randn(TOKENIZER_LENGTH, hidden)
    non_lora = {"rm_head.weight": rm_head, "model.embed_tokens.weight": embed}
    for k, v in base.items():
        if k.startswith("visual.merger."):
            non_lora[k] = v + 0.1 * torch.randn_like(v)

    # LoRA on every language-model Linear.
    lora = {}
    targets = []
    for k, v in base.items():
        if k.startswith("model.layers.") and k.endswith("_proj.weight"):
            module = k[:-len(".weight")]
            targets.append(module)
            out_features, in_features = v.shape
            lora[f"base_model.model.{module}.lora_A.weight"] = torch.randn(LORA_R, in_features) / math.sqrt(in_features)
            lora[f"base_model.model.{module}.lora_B.weight"] = 0.3 * torch.randn(out_features, LORA_R) / math.sqrt(LORA_R)
    scaling = LORA_ALPHA / LORA_R

    input_ids, attention_mask, grids = rows()
    patches = int(sum(t * h * w for t, h, w in grids.tolist()))
    pixel_values = torch.randn(patches, 3 * 2 * 2 * 2)

    m = model.double()
    tensors = {"input.input_ids": input_ids.float(), "input.attention_mask": attention_mask.float(),
               "input.pixel_values_videos": pixel_values, "input.video_grid_thw": grids.float()}
    with torch.no_grad():
        tensors["output.video_embeds"] = m.model.visual(pixel_values.double(), grid_thw=grids).pooler_output
        mm_token_type_ids = (input_ids == VIDEO).int() * 2
        position_ids, _ = m.model.get_rope_index(
            input_ids, mm_token_type_ids, video_grid_thw=grids, attention_mask=attention_mask)
        tensors["output.position_ids"] = position_ids.float()

        # The reward model: the resized embedding, the merger override, LoRA on the language model, rm_head.
        apply_reward_weights(m, non_lora, lora, targets, scaling)
        video_embeds, hidden_states, logits = reward_forward(m, rm_head, input_ids, attention_mask, pixel_values,
                                                             grids, VIDEO)
        tensors["output.reward_video_embeds"] = video_embeds
        tensors["output.hidden"] = hidden_states
        batch = input_ids.shape[0]
        tensors["output.logits_special"] = special_logits(logits, input_ids, SPECIAL)
        sequence_lengths = (torch.eq(input_ids, PAD).int().argmax(-1) - 1) % input_ids.shape[-1]
        tensors["output.logits_last"] = logits[torch.arange(batch), sequence_lengths]
        valid = torch.clamp(sequence_lengths, min=0, max=logits.size(1) - 1)
        tensors["output.logits_mean"] = torch.stack([logits[i, :valid[i]].mean(dim=0) for i in range(batch)])
        print("logits (special):", tensors["output.logits_special"].tolist())

    folder = os.path.join(FIXTURES, "videoalign_mini")
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(os.path.join(folder, "checkpoint-2"))
    os.makedirs(os.path.join(folder, "checkpoint-12"))
    os.makedirs(os.path.join(folder, "Qwen2-VL-2B-Instruct"))
    with open(os.path.join(folder, "model_config.json"), "w") as f:
        json.dump(MODEL_CONFIG, f, indent=4)
    with open(os.path.join(folder, "checkpoint-2", "README.md"), "w") as f:
        f.write("An older step without weights: load_model_from_checkpoint takes the highest checkpoint-N.\n")
    step = os.path.join(folder, "checkpoint-12")
    adapter_config = {
        "peft_type": "LORA", "task_type": "CAUSAL_LM", "base_model_name_or_path": "./Qwen2-VL-2B-Instruct",
        "r": LORA_R, "lora_alpha": LORA_ALPHA, "lora_dropout": 0.05, "use_rslora": False, "bias": "none",
        "fan_in_fan_out": False, "modules_to_save": None, "rank_pattern": {}, "alpha_pattern": {},
        "target_modules": sorted(targets), "inference_mode": True}
    with open(os.path.join(step, "adapter_config.json"), "w") as f:
        json.dump(adapter_config, f, indent=2)
    save_file({k: v.contiguous() for k, v in lora.items()}, os.path.join(step, "adapter_model.safetensors"),
              metadata={"format": "pt"})
    torch.save({f"base_model.model.{k}": v.contiguous() for k, v in non_lora.items()},
               os.path.join(step, "non_lora_state_dict.pth"))
    with open(os.path.join(folder, "Qwen2-VL-2B-Instruct", "config.json"), "w") as f:
        json.dump(CONFIG_T4, f, indent=2)
    save_file(base, os.path.join(folder, "Qwen2-VL-2B-Instruct", "model.safetensors"), metadata={"format": "pt"})

    config_t5 = json.loads(Qwen2VLConfig(**copy.deepcopy(CONFIG_T4)).to_json_string(use_diff=False))
    config_2b_t5 = json.loads(Qwen2VLConfig(**copy.deepcopy(QWEN2_VL_2B)).to_json_string())
    meta = {"_transformers_version": transformers.__version__, "config_t4": CONFIG_T4, "config_t5": config_t5,
            "config_2b_t5": config_2b_t5,
            "special_token_ids": SPECIAL, "pad_token_id": PAD, "lora_scaling": scaling}
    path = os.path.join(FIXTURES, "videoalign_model.safetensors")
    save_file({k: v.float().contiguous() for k, v in tensors.items()}, path, metadata={"config": json.dumps(meta)})
    total = os.path.getsize(path)
    for root, _, files in os.walk(folder):
        total += sum(os.path.getsize(os.path.join(root, name)) for name in files)
    print(f"wrote {path} and {folder}: {total} bytes in all; base {sum(v.numel() for v in base.values())} scalars")


if __name__ == "__main__":
    main()
