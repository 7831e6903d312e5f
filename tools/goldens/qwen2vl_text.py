#!/usr/bin/env python3
"""Goldens for Qwen-Image's text side: the Qwen2 byte-level BPE tokenizer, the language model of transformers'
Qwen2_5_VLForConditionalGeneration, and diffusers' QwenImagePipeline._get_qwen_prompt_embeds
(Tests/TokenizersTests/Qwen2TokenizerTests.swift, Tests/ModelsTests/Qwen2VL/*.swift).

    PATH="$PWD/.venv-tools/bin:$PATH" .venv-tools/bin/python3 tools/goldens/qwen2vl_text.py

Qwen/Qwen-Image cannot be downloaded here, so a tiny tokenizer of the same kind is trained with the `tokenizers`
library (Qwen2's normalizer NFC, its Split pre-tokenizer regex, byte-level alphabet, no end-of-word suffix) on the
corpus of tools/goldens/tokenizer_ids.py plus CJK, emoji and digits, with Qwen2.5-VL's added tokens after the BPE
vocabulary. Written under Tests/TestSupport/Fixtures/:

tokenizers/qwen2/legacy/   vocab.json + merges.txt + tokenizer_config.json (added_tokens_decoder): the transformers 4
                           layout Qwen/Qwen-Image's tokenizer/ folder has
tokenizers/qwen2/json/     tokenizer.json + tokenizer_config.json as transformers 5's Qwen2Tokenizer.save_pretrained
                           writes them from the legacy folder
tokenizers/qwen2.json      per prompt (tokenizer_ids.py's CLIP and T5 prompt sets, CJK, emoji, numbers, special
                           tokens inside text, long prompts): the ids from both folders (asserted equal) and from the
                           `tokenizers` library on json/tokenizer.json; `qwen_image_batch`: the template-wrapped batch
                           QwenImagePipeline tokenizes (padding=True, truncation to 1024 + 34), long prompts included
qwen2vl_text.safetensors   a tiny Qwen2_5_VLForConditionalGeneration (text: 2 layers, hidden 32, 4 heads, 2 kv heads,
                           mrope_section [1, 1, 2]; a 1-block vision tower only so that the checkpoint is complete),
                           eager attention, float64 forward from float32 weights:
  param.<key>              the language model's keys as save_pretrained writes them (`model.embed_tokens.weight`,
                           `model.layers.N.*`, `model.norm.weight`: transformers 5 saves the transformers 4 names, its
                           module tree's `model.language_model.*` only in memory); the vision tower and lm_head are
                           left out (another test covers the tower)
  input.input_ids/attention_mask [3, 12]  unpadded, right padded (as the tokenizer pads), shorter still
  output.hidden_states_last   `hidden_states[-1]` (= last_hidden_state, asserted) without the mask
  output.masked.hidden_states_last   with the attention mask
  input.position_ids [3, 3, 12]   distinct temporal/height/width rows (as a vision span would give)
  output.mrope.last_hidden_state  the text model on those position ids
  pipe.input_ids/attention_mask, pipe.prompt_embeds, pipe.prompt_embeds_mask   `_get_qwen_prompt_embeds` of
                           pipe.prompts (metadata) on this model and tokenizer
  pipe.max60.prompt_embeds(_mask), pipe.max50.prompt_embeds   `encode_prompt` with max_sequence_length 60 (a row is
                           shorter: the mask is returned) and 50 (every row fills it: the mask is None)
  metadata: config (transformers 5 config.json), config_v4 (the same in the transformers 4 layout, see below),
  template, drop_idx, pipe_prompts, library versions
Only transformers 5 is installed: the transformers 4 config (`rope_scaling` with `type` "mrope", `rope_theta` and the
text fields at the top level) is derived from the 5.x one by the renames of transformers' Qwen2_5_VLConfig
conversion (rope_parameters -> rope_scaling + rope_theta, text_config flattened), not written by transformers 4.
Seeded and single-threaded: reruns give the same tensors, ids and metadata for the same library versions (the
safetensors header may list them in another order).
"""
import importlib.metadata
import json
import os
import shutil
import sys
import tempfile
import types

HERE = os.path.dirname(os.path.abspath(__file__))
import tokenizer_ids as shared  # noqa: E402

sys.path = [p for p in sys.path if os.path.abspath(p or os.curdir) != HERE]

import torch  # noqa: E402
from diffusers.pipelines.qwenimage.pipeline_qwenimage import QwenImagePipeline  # noqa: E402
from safetensors.torch import save_file  # noqa: E402
from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers  # noqa: E402
from transformers import AutoTokenizer, Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration  # noqa: E402
from transformers.models.qwen2.tokenization_qwen2 import PRETOKENIZE_REGEX  # noqa: E402

ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
FIXTURES = os.path.join(ROOT, "Tests", "TestSupport", "Fixtures")
OUT = os.path.join(FIXTURES, "tokenizers")
VERSIONS = {name: importlib.metadata.version(name) for name in ["torch", "transformers", "tokenizers", "diffusers"]}

# Qwen2.5-VL's added tokens in id order (151643...): special ones, then two ordinary added tokens.
SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>", "<|object_ref_end|>",
           "<|box_start|>", "<|box_end|>", "<|quad_start|>", "<|quad_end|>", "<|vision_start|>", "<|vision_end|>",
           "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>"]
ORDINARY = ["<tool_call>", "</tool_call>"]

CJK_CORPUS = [
    "\u4e00\u53ea\u732b\u5728\u96ea\u5730\u91cc\u5954\u8dd1\uff0c\u7535\u5f71\u611f\u3002",
    "\u4e00\u4e2a\u7a7f\u7740\u7ea2\u8272\u8863\u670d\u7684\u5973\u5b69\u7ad9\u5728\u6865\u4e0a",
    "\u6771\u4eac\u306e\u591c\u666f\u3001\u30cd\u30aa\u30f3\u304c\u5149\u308b\u8857",
    "\ud55c\uad6d\uc5b4 \ubb38\uc7a5\uc744 \ud1a0\ud070\ud654\ud569\ub2c8\ub2e4",
    "\U0001f431\U0001f436 \u2764\ufe0f \U0001f680 emoji and 2024 numbers 3.14159 1,000,000",
    "Describe the image by detailing the color, shape, size, texture, quantity, text, spatial relationships",
]

LONG = " ".join(["a red fox jumps over the lazy dog in the snowy forest at night"] * 90)
QWEN_PROMPTS = [
    ("cjk", "\u4e00\u53ea\u732b\u5728\u96ea\u5730\u91cc\u5954\u8dd1\uff0c\u7535\u5f71\u611f"),
    ("cjk", "\u6771\u4eac\u306e\u591c\u666f \ud55c\uad6d\uc5b4 \u0416\u0416 caf\u00e9"),
    ("emoji", "\U0001f600\U0001f431\U0001f436 \u2764\ufe0f\U0001f680 \U0001f468\u200d\U0001f469\u200d\U0001f467"),
    ("numbers", "12345 and 3.14159, 1,000,000 \u0661\u0662\u0663 \u2460\u2461 \u00bd 2024-01-01"),
    ("whitespace", "  leading\tand\r\ntrailing \n\n  spaces   \u3000 "),
    ("whitespace", "line one\nline two\r\n\r\nline three"),
    ("contractions", "I'M sure you'll SEE it's THEY'VE done'd"),
    ("nfc", "cafe\u0301 A\u030a e\u0301\u0301 \u1100\u1161\u11a8"),
    ("special", "<|im_start|>user\nhi<|im_end|> <|vision_start|><|image_pad|><|vision_end|> <tool_call>x</tool_call>"),
    ("special", "<|im_start|<|endoftext|>> <|unknown|> <|IM_START|>"),
    ("long", LONG),
    ("long", "\u732b" * 700),
]

PIPE_PROMPTS = [
    "A cat walks on the grass, realistic style.",
    "\u4e00\u53ea\u732b\u5728\u96ea\u5730\u91cc\u5954\u8dd1 \U0001f431 2024",
    "",
]


def corpus():
    return shared.t5_corpus() + CJK_CORPUS * 3


def train_tokenizer():
    tokenizer = Tokenizer(models.BPE())
    tokenizer.normalizer = normalizers.NFC()
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(PRETOKENIZE_REGEX), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=700, min_frequency=2, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tokenizer.train_from_iterator(corpus(), trainer=trainer)
    data = json.loads(tokenizer.to_str())
    vocab = data["model"]["vocab"]
    merges = [" ".join(m) if isinstance(m, list) else m for m in data["model"]["merges"]]
    return vocab, merges


def write_legacy(vocab, merges, folder):
    """The transformers 4 files of a Qwen2 tokenizer: vocab.json, merges.txt, tokenizer_config.json."""
    os.makedirs(folder)
    with open(os.path.join(folder, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=False)
    with open(os.path.join(folder, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n" + "\n".join(merges) + "\n")
    decoder = {}
    for index, token in enumerate(SPECIAL + ORDINARY):
        decoder[str(len(vocab) + index)] = {"content": token, "lstrip": False, "normalized": False,
                                            "rstrip": False, "single_word": False, "special": token in SPECIAL}
    config = {"add_prefix_space": False, "added_tokens_decoder": decoder, "bos_token": None,
              "clean_up_tokenization_spaces": False, "eos_token": "<|im_end|>", "errors": "replace",
              "model_max_length": 131072, "pad_token": "<|endoftext|>", "split_special_tokens": False,
              "tokenizer_class": "Qwen2Tokenizer", "unk_token": None}
    with open(os.path.join(folder, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f, indent=2, ensure_ascii=False)


def write_tokenizers():
    vocab, merges = train_tokenizer()
    legacy = os.path.join(OUT, "qwen2", "legacy")
    json_folder = os.path.join(OUT, "qwen2", "json")
    shutil.rmtree(os.path.join(OUT, "qwen2"), ignore_errors=True)
    write_legacy(vocab, merges, legacy)
    from_legacy = AutoTokenizer.from_pretrained(legacy)
    with tempfile.TemporaryDirectory() as saved:
        from_legacy.save_pretrained(saved)
        os.makedirs(json_folder)
        for name in ("tokenizer.json", "tokenizer_config.json"):
            shutil.copyfile(os.path.join(saved, name), os.path.join(json_folder, name))
    from_json = AutoTokenizer.from_pretrained(json_folder)
    library = Tokenizer.from_file(os.path.join(json_folder, "tokenizer.json"))
    assert from_json.padding_side == "right", from_json.padding_side
    return vocab, from_legacy, from_json, library


def template_batch(tokenizer, prompts):
    """The tokenizer call of QwenImagePipeline._get_qwen_prompt_embeds."""
    txt = [TEMPLATE.format(p) for p in prompts]
    return tokenizer(txt, max_length=MAX_LENGTH + DROP_IDX, padding=True, truncation=True)


# Set in main() from a QwenImagePipeline instance.
TEMPLATE, DROP_IDX, MAX_LENGTH = None, None, None


def write_ids(vocab, from_legacy, from_json, library):
    prompts = [("clip", t) for _, t in shared.clip_prompts()[:150]] + shared.t5_prompts() + QWEN_PROMPTS
    entries = []
    for category, text in prompts:
        ids = from_json(text)["input_ids"]
        assert from_legacy(text)["input_ids"] == ids, text
        assert library.encode(text).ids == ids, text
        entries.append({"category": category, "text": text, "ids": ids})
    batch_prompts = PIPE_PROMPTS + [LONG, "\u732b" * 1500]
    batch = template_batch(from_json, batch_prompts)
    assert batch == template_batch(from_legacy, batch_prompts)
    assert len(batch["input_ids"][-1]) == MAX_LENGTH + DROP_IDX
    document = {
        "versions": VERSIONS,
        "bpe_vocabulary_size": len(vocab),
        "added_tokens": SPECIAL + ORDINARY,
        "prompts": entries,
        "qwen_image_batch": {"template": TEMPLATE, "max_length": MAX_LENGTH + DROP_IDX,
                             "prompts": batch_prompts, "ids": batch["input_ids"],
                             "attention_mask": batch["attention_mask"]},
    }
    with open(os.path.join(OUT, "qwen2.json"), "w") as f:
        json.dump(document, f, separators=(",", ":"))
    print(f"qwen2.json: {len(entries)} prompts, {os.path.getsize(os.path.join(OUT, 'qwen2.json')) / 1e3:.0f} kB")


def perturb(model):
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name:
                p.copy_(1 + 0.1 * torch.randn_like(p))
            elif name.endswith("bias"):
                p.copy_(0.1 * torch.randn_like(p))
            else:
                p.add_(0.05 * torch.randn_like(p))


def f32(t):
    t = t.detach().contiguous()
    return t.float() if t.is_floating_point() else t.to(torch.int32)


def v4_config(config5):
    """The transformers 4 layout of a Qwen2.5-VL config.json (what Qwen/Qwen-Image's text_encoder/ has): the text
    fields at the top level, `rope_theta` beside them and `rope_scaling` {"type": "mrope", "mrope_section"}."""
    text = dict(config5["text_config"])
    rope = text.pop("rope_parameters")
    text.pop("model_type")
    text.pop("layer_types", None)
    out = {k: v for k, v in config5.items() if k != "text_config"}
    out.update(text)
    out["rope_theta"] = rope["rope_theta"]
    out["rope_scaling"] = {"type": "mrope", "mrope_section": rope["mrope_section"]}
    out["model_type"] = "qwen2_5_vl"
    return out


def write_model(vocab_size, tokenizer):
    torch.manual_seed(5)
    config = Qwen2_5_VLConfig(
        text_config=dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                         intermediate_size=64, vocab_size=vocab_size, rms_norm_eps=1e-6,
                         rope_parameters={"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [1, 1, 2]},
                         bos_token_id=None, eos_token_id=None, pad_token_id=None),
        vision_config=dict(depth=1, hidden_size=16, out_hidden_size=32, num_heads=2, intermediate_size=32,
                           fullatt_block_indexes=[0]),
        attn_implementation="eager")
    model = Qwen2_5_VLForConditionalGeneration(config).eval()
    perturb(model)
    with tempfile.TemporaryDirectory() as saved:
        model.save_pretrained(saved)
        with open(os.path.join(saved, "config.json")) as f:
            config5 = json.load(f)
        # noqa: E402 (imported here: only this function reads a saved checkpoint)
        from safetensors import safe_open
        with safe_open(os.path.join(saved, "model.safetensors"), "pt") as f:
            # save_pretrained writes the transformers 4 key layout (`model.layers.*`, `visual.*`, `lm_head.weight`),
            # reversing the `model.language_model.*` names of the module tree.
            state = {k: f.get_tensor(k) for k in f.keys() if k.startswith("model.")}
    live = {k.replace("model.language_model.", "model.", 1): v for k, v in model.state_dict().items()
            if k.startswith("model.language_model.")}
    assert state.keys() == live.keys() and all(torch.equal(state[k], live[k]) for k in state), sorted(state)
    config5.pop("transformers_version", None)

    ids = torch.tensor([
        [3, 17, 33, 42, 100, 7, 9, 11, 13, 250, 400, 5],
        [4, 8, 15, 16, 23, 42, vocab_size - 1, 300, 77, 0, 0, 0],
        [6, 9, 12, 500, 0, 0, 0, 0, 0, 0, 0, 0],
    ])
    mask = torch.tensor([[1] * 12, [1] * 9 + [0] * 3, [1] * 4 + [0] * 8])
    positions = torch.stack([
        torch.arange(12).expand(3, 12),
        torch.tensor([0, 1, 2, 3, 3, 3, 4, 4, 5, 6, 7, 8]).expand(3, 12),
        torch.tensor([0, 1, 2, 3, 4, 5, 3, 4, 5, 9, 10, 11]).expand(3, 12),
    ]) + torch.tensor([0, 1, 2]).view(1, 3, 1)
    model = model.double()
    with torch.no_grad():
        plain = model(input_ids=ids, output_hidden_states=True)
        masked = model(input_ids=ids, attention_mask=mask, output_hidden_states=True)
        inner = model.model(input_ids=ids, attention_mask=mask)
        assert torch.equal(masked.hidden_states[-1], inner.last_hidden_state)
        mrope = model.model.language_model(input_ids=ids, position_ids=positions).last_hidden_state
        text_only = model.model.language_model(input_ids=ids, position_ids=torch.arange(12).expand(3, 3, 12))
        assert torch.allclose(text_only.last_hidden_state, plain.hidden_states[-1])
        host = types.SimpleNamespace(
            tokenizer=tokenizer, text_encoder=model, _execution_device=torch.device("cpu"),
            prompt_template_encode=TEMPLATE, prompt_template_encode_start_idx=DROP_IDX,
            tokenizer_max_length=MAX_LENGTH)
        host._extract_masked_hidden = lambda h, m: QwenImagePipeline._extract_masked_hidden(host, h, m)
        embeds, embeds_mask = QwenImagePipeline._get_qwen_prompt_embeds(
            host, PIPE_PROMPTS, device=torch.device("cpu"), dtype=torch.float64)
        # encode_prompt's max_sequence_length cut, and its mask dropped (None) when it is all ones.
        host._get_qwen_prompt_embeds = lambda prompt, device=None, dtype=None: \
            QwenImagePipeline._get_qwen_prompt_embeds(host, prompt, device=device, dtype=dtype)
        cut60, cut60_mask = QwenImagePipeline.encode_prompt(host, PIPE_PROMPTS, max_sequence_length=60)
        cut50, cut50_mask = QwenImagePipeline.encode_prompt(host, PIPE_PROMPTS, max_sequence_length=50)
        assert cut60_mask is not None and cut50_mask is None, (cut60_mask, cut50_mask)
    pipe_inputs = tokenizer([TEMPLATE.format(p) for p in PIPE_PROMPTS], padding=True,
                            return_tensors="pt")
    assert embeds_mask.sum(dim=1).min() < embeds.shape[1]
    tensors = {f"param.{k}": f32(v) for k, v in state.items()}
    tensors.update({
        "input.input_ids": f32(ids),
        "input.attention_mask": f32(mask),
        "output.hidden_states_last": f32(plain.hidden_states[-1]),
        "output.masked.hidden_states_last": f32(masked.hidden_states[-1]),
        "input.position_ids": f32(positions),
        "output.mrope.last_hidden_state": f32(mrope),
        "pipe.input_ids": f32(pipe_inputs.input_ids),
        "pipe.attention_mask": f32(pipe_inputs.attention_mask),
        "pipe.prompt_embeds": f32(embeds),
        "pipe.prompt_embeds_mask": f32(embeds_mask),
        "pipe.max60.prompt_embeds": f32(cut60),
        "pipe.max60.prompt_embeds_mask": f32(cut60_mask),
        "pipe.max50.prompt_embeds": f32(cut50),
    })
    path = os.path.join(FIXTURES, "qwen2vl_text.safetensors")
    save_file(tensors, path, metadata={
        "config": json.dumps(config5), "config_v4": json.dumps(v4_config(config5)),
        "template": TEMPLATE, "drop_idx": str(DROP_IDX), "pipe_prompts": json.dumps(PIPE_PROMPTS),
        **VERSIONS})
    print("wrote", path, f"{os.path.getsize(path) / 1e3:.0f} kB", "keys", len(state), "pipe", tuple(embeds.shape))


def main():
    global TEMPLATE, DROP_IDX, MAX_LENGTH
    torch.set_num_threads(1)
    # The template, drop index and length are attributes QwenImagePipeline.__init__ sets; no component is needed.
    pipe = QwenImagePipeline(scheduler=None, vae=None, text_encoder=None, tokenizer=None, transformer=None)
    TEMPLATE = pipe.prompt_template_encode
    DROP_IDX = pipe.prompt_template_encode_start_idx
    MAX_LENGTH = pipe.tokenizer_max_length
    assert (DROP_IDX, MAX_LENGTH) == (34, 1024)
    vocab, from_legacy, from_json, library = write_tokenizers()
    write_ids(vocab, from_legacy, from_json, library)
    write_model(len(from_json), from_json)
    total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(os.path.join(OUT, "qwen2")) for f in fs)
    print(f"tokenizers/qwen2: {total / 1e3:.0f} kB")


if __name__ == "__main__":
    main()
