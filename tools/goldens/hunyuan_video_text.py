#!/usr/bin/env python3
"""Goldens for HunyuanVideo's text side: a Llama 3 byte-level BPE tokenizer, transformers' LlamaModel and diffusers'
HunyuanVideoPipeline.encode_prompt (Tests/TokenizersTests/Llama3TokenizerTests.swift,
Tests/ModelsTests/HunyuanVideo/HunyuanVideoTextEncodingTests.swift).

    PATH="$PWD/.venv-tools/bin:$PATH" .venv-tools/bin/python3 tools/goldens/hunyuan_video_text.py

hunyuanvideo-community/HunyuanVideo cannot be downloaded here, so a miniature folder of the same kind is built:

hunyuan_video_text/tokenizer/     tokenizer.json + tokenizer_config.json of a tiny Llama 3 style tokenizer trained with
                                  `tokenizers` (Llama 3's Split regex with digit runs of up to three, byte-level alphabet,
                                  no normalizer, `ignore_merges`, Llama 3's special tokens after the BPE vocabulary and a
                                  <pad> token, <|begin_of_text|> put in front by the post-processor's template), saved
                                  by transformers' PreTrainedTokenizerFast; two whole words are added to the vocabulary
                                  without merges that build them, so that `ignore_merges` changes their ids, and a few
                                  digit merges, so that the digit runs change ids
hunyuan_video_text/text_encoder/  a tiny LlamaModel (3 layers, hidden 32, 4 heads, 2 key/value heads, llama3 rope
                                  scaling with original_max_position_embeddings 16, so that it changes the
                                  frequencies), save_pretrained (transformers 5 config.json, model.safetensors)
hunyuan_video_text/tokenizer_2/   the tiny CLIP tokenizer of tools/goldens/flux_pipeline.py (copied)
hunyuan_video_text/text_encoder_2/  a tiny CLIPTextModel (hidden 16, 2 layers, eos_token_id 2 as CLIP-L's config)
tokenizers/llama3.json            per prompt (a part of tokenizer_ids.py's CLIP and T5 sets, CJK, emoji, numbers,
                                  whitespace, special tokens inside text, long prompts): the ids of transformers'
                                  tokenizer (asserted equal to the `tokenizers` library's)
hunyuan_video_text.safetensors    float64 forwards from the float32 weights, eager attention:
  input.input_ids/attention_mask [2, 10]  right padded
  output.hidden_states.N         `hidden_states[N]` for N = 0...3 (`output_hidden_states=True`) with the mask
  output.default_rope.last_hidden_state   the same weights with the default rotary embedding
  pipe.input_ids/attention_mask  the tokenizer call of `_get_llama_prompt_embeds` (template, max_length
                                 max_sequence_length + crop_start, padding max_length, truncation)
  pipe.prompt_embeds, pipe.prompt_attention_mask, pipe.pooled_prompt_embeds   `encode_prompt` of pipe_prompts with
                                 DEFAULT_PROMPT_TEMPLATE's template, the tiny tokenizer's crop_start and
                                 max_sequence_length 32 (a prompt is cut, a prompt is padded)
  metadata: config (transformers 5 config.json), config_v4 (the transformers 4 layout: `rope_theta` at the top level,
  `rope_scaling`), template, crop_start, max_sequence_length, pipe_prompts, library versions
Only transformers 5 is installed: config_v4 is derived by hand (rope_parameters -> rope_theta + rope_scaling).
Seeded and single-threaded: reruns give the same tensors and ids for the same library versions.
"""
import functools
import importlib.metadata
import inspect
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
from diffusers.pipelines.hunyuan_video.pipeline_hunyuan_video import (  # noqa: E402
    DEFAULT_PROMPT_TEMPLATE, HunyuanVideoPipeline)
from safetensors.torch import save_file  # noqa: E402
from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers  # noqa: E402
from transformers import (AutoTokenizer, CLIPTextConfig, CLIPTextModel, CLIPTokenizer, LlamaConfig,  # noqa: E402
                          LlamaModel, PreTrainedTokenizerFast)
from transformers.convert_slow_tokenizer import TikTokenConverter  # noqa: E402

ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
FIXTURES = os.path.join(ROOT, "Tests", "TestSupport", "Fixtures")
FOLDER = os.path.join(FIXTURES, "hunyuan_video_text")
VERSIONS = {name: importlib.metadata.version(name) for name in ["torch", "transformers", "tokenizers", "diffusers"]}

# Llama 3's pre-tokenizer pattern, as transformers' tiktoken conversion writes it into tokenizer.json.
PATTERN = inspect.signature(TikTokenConverter.__init__).parameters["pattern"].default
assert r"\p{N}{1,3}" in PATTERN
# Llama 3's first special tokens (128000...), then a pad token as llava-llama-3's tokenizer adds one.
SPECIAL = ["<|begin_of_text|>", "<|end_of_text|>", "<|reserved_special_token_0|>", "<|reserved_special_token_1|>",
           "<|reserved_special_token_2|>", "<|reserved_special_token_3|>", "<|start_header_id|>", "<|end_header_id|>",
           "<|reserved_special_token_4|>", "<|eot_id|>", "<pad>"]
# In the vocabulary without a merge that builds them: only `ignore_merges` gives them whole.
WHOLE_WORDS = ["\u0120hunyuanvideo", "\u0120qwerty"]
# Merges of digits, last in rank: "123" is one token only when the pre-tokenizer keeps three digits together.
DIGIT_MERGES = [("1", "2"), ("12", "3"), ("4", "5"), ("45", "6"), ("0", "0")]

CJK_CORPUS = [
    "\u4e00\u53ea\u732b\u5728\u96ea\u5730\u91cc\u5954\u8dd1\uff0c\u7535\u5f71\u611f\u3002",
    "\u4e00\u4e2a\u7a7f\u7740\u7ea2\u8272\u8863\u670d\u7684\u5973\u5b69\u7ad9\u5728\u6865\u4e0a",
    "\u6771\u4eac\u306e\u591c\u666f\u3001\u30cd\u30aa\u30f3\u304c\u5149\u308b\u8857",
    "\U0001f431\U0001f436 \u2764\ufe0f \U0001f680 emoji and 2024 numbers 3.14159 1,000,000 123 456 789",
    DEFAULT_PROMPT_TEMPLATE["template"],
]

LONG = " ".join(["a red fox jumps over the lazy dog in the snowy forest at night"] * 40)
PROMPTS = [
    ("cjk", "\u4e00\u53ea\u732b\u5728\u96ea\u5730\u91cc\u5954\u8dd1\uff0c\u7535\u5f71\u611f"),
    ("cjk", "\u6771\u4eac\u306e\u591c\u666f \ud55c\uad6d\uc5b4 \u0416\u0416 caf\u00e9"),
    ("emoji", "\U0001f600\U0001f431\U0001f436 \u2764\ufe0f\U0001f680 \U0001f468\u200d\U0001f469\u200d\U0001f467"),
    ("numbers", "12345 and 3.14159, 1,000,000 1234567890 \u0661\u0662\u0663\u0664 \u2460\u2461\u2462\u2463 \u00bd"),
    ("numbers", "2024-01-01 09:30 x123y 00007 12 1 1234"),
    ("whitespace", "  leading\tand\r\ntrailing \n\n  spaces   \u3000 "),
    ("whitespace", "line one\nline two\r\n\r\nline three"),
    ("contractions", "I'M sure you'll SEE it's THEY'VE done'd"),
    ("nfc", "cafe\u0301 A\u030a e\u0301\u0301 \u1100\u1161\u11a8"),
    ("ignore_merges", "the hunyuanvideo model, qwerty hunyuanvideo's"),
    ("special", "<|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|> <pad><|begin_of_text|>"),
    ("special", "<|eot_id|<|end_of_text|>> <|unknown|> <|EOT_ID|>"),
    ("template", DEFAULT_PROMPT_TEMPLATE["template"].format("A cat walks on the grass, realistic style.")),
    ("long", LONG),
    ("long", "\u732b" * 300),
]

PIPE_PROMPTS = [
    "A cat walks on the grass, realistic style.",
    "\u4e00\u53ea\u732b\u5728\u96ea\u5730\u91cc\u5954\u8dd1 \U0001f431 2024",
    LONG,
]
MAX_SEQUENCE_LENGTH = 32


def train_tokenizer():
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(PATTERN), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=450, min_frequency=2, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tokenizer.train_from_iterator(shared.t5_corpus()[:3000] + CJK_CORPUS * 3, trainer=trainer)
    data = json.loads(tokenizer.to_str())
    vocab = data["model"]["vocab"]
    for left, right in DIGIT_MERGES:
        assert left + right not in vocab, left + right
        vocab[left + right] = len(vocab)
        data["model"]["merges"].append([left, right])
    for word in WHOLE_WORDS:
        assert word not in vocab
        vocab[word] = len(vocab)
    data["model"]["ignore_merges"] = True
    bos = len(vocab)
    data["added_tokens"] = [{"id": len(vocab) + i, "content": token, "single_word": False, "lstrip": False,
                             "rstrip": False, "normalized": False, "special": True}
                            for i, token in enumerate(SPECIAL)]
    # Llama 3's post-processor: <|begin_of_text|> before each sequence.
    bos_item = {"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}}
    data["post_processor"] = {"type": "Sequence", "processors": [
        {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
        {"type": "TemplateProcessing",
         "single": [bos_item, {"Sequence": {"id": "A", "type_id": 0}}],
         "pair": [bos_item, {"Sequence": {"id": "A", "type_id": 0}},
                  {"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
         "special_tokens": {"<|begin_of_text|>": {"id": "<|begin_of_text|>", "ids": [bos],
                                                 "tokens": ["<|begin_of_text|>"]}}},
    ]}
    return Tokenizer.from_str(json.dumps(data)), data


def write_tokenizer():
    library, data = train_tokenizer()
    folder = os.path.join(FOLDER, "tokenizer")
    fast = PreTrainedTokenizerFast(tokenizer_object=library, bos_token="<|begin_of_text|>", eos_token="<|eot_id|>",
                                   pad_token="<pad>", padding_side="right", model_max_length=131072)
    with tempfile.TemporaryDirectory() as saved:
        fast.save_pretrained(saved)
        os.makedirs(folder)
        for name in ("tokenizer.json", "tokenizer_config.json"):
            shutil.copyfile(os.path.join(saved, name), os.path.join(folder, name))
    tokenizer = AutoTokenizer.from_pretrained(folder)
    assert tokenizer.padding_side == "right", tokenizer.padding_side
    # Without ignore_merges the whole words come out in pieces: the ids of the prompts below depend on it.
    data["model"]["ignore_merges"] = False
    merged = Tokenizer.from_str(json.dumps(data))
    text = dict((c, t) for c, t in PROMPTS)["ignore_merges"]
    assert merged.encode(text).ids != library.encode(text).ids
    digits = library.encode("123456").tokens
    assert digits == ["<|begin_of_text|>", "123", "456"], digits
    return tokenizer, library


def write_ids(tokenizer, library):
    prompts = ([("clip", t) for _, t in shared.clip_prompts()[:60]] + shared.t5_prompts()[:40] + PROMPTS)
    entries = []
    for category, text in prompts:
        ids = tokenizer(text)["input_ids"]
        assert library.encode(text).ids == ids, text
        entries.append({"category": category, "text": text, "ids": ids})
    document = {"versions": VERSIONS, "bpe_vocabulary_size": library.get_vocab_size(with_added_tokens=False),
                "added_tokens": SPECIAL, "prompts": entries}
    path = os.path.join(FIXTURES, "tokenizers", "llama3.json")
    with open(path, "w") as f:
        json.dump(document, f, separators=(",", ":"))
    print(f"llama3.json: {len(entries)} prompts, {os.path.getsize(path) / 1e3:.0f} kB")


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


ROPE = {"rope_type": "llama3", "rope_theta": 10000.0, "factor": 4.0, "low_freq_factor": 1.0,
        "high_freq_factor": 4.0, "original_max_position_embeddings": 16}


def llama_config(vocab_size, rope):
    return LlamaConfig(vocab_size=vocab_size, hidden_size=32, intermediate_size=48, num_hidden_layers=3,
                       num_attention_heads=4, num_key_value_heads=2, rms_norm_eps=1e-5, rope_parameters=rope,
                       bos_token_id=None, eos_token_id=None, pad_token_id=None, attn_implementation="eager")


def v4_config(config5):
    out = dict(config5)
    rope = dict(out.pop("rope_parameters"))
    out["rope_theta"] = rope.pop("rope_theta")
    out["rope_scaling"] = rope
    return out


def write_encoders(tokenizer):
    torch.manual_seed(7)
    llama = LlamaModel(llama_config(len(tokenizer), ROPE)).eval()
    perturb(llama)
    llama.save_pretrained(os.path.join(FOLDER, "text_encoder"))
    with open(os.path.join(FOLDER, "text_encoder", "config.json")) as f:
        config5 = json.load(f)
    assert config5["rope_parameters"]["rope_type"] == "llama3", config5

    clip_tokenizer_folder = os.path.join(FOLDER, "tokenizer_2")
    shutil.copytree(os.path.join(FIXTURES, "flux_mini", "tokenizer"), clip_tokenizer_folder)
    tokenizer_2 = CLIPTokenizer.from_pretrained(clip_tokenizer_folder)
    clip = CLIPTextModel(CLIPTextConfig(
        vocab_size=len(tokenizer_2), hidden_size=16, intermediate_size=32, num_hidden_layers=2, num_attention_heads=4,
        max_position_embeddings=77, hidden_act="quick_gelu", bos_token_id=tokenizer_2.bos_token_id, eos_token_id=2,
        pad_token_id=tokenizer_2.pad_token_id, attn_implementation="eager")).eval()
    perturb(clip)
    clip.save_pretrained(os.path.join(FOLDER, "text_encoder_2"))
    return llama, clip, tokenizer_2, config5


def main():
    torch.set_num_threads(1)
    shutil.rmtree(FOLDER, ignore_errors=True)
    tokenizer, library = write_tokenizer()
    write_ids(tokenizer, library)
    llama, clip, tokenizer_2, config5 = write_encoders(tokenizer)
    config5.pop("transformers_version", None)

    template = DEFAULT_PROMPT_TEMPLATE["template"]
    crop_start = len(tokenizer(template.split("{}")[0])["input_ids"])
    for prompt in PIPE_PROMPTS:  # the prompt starts a new piece: the prefix's tokens are the templated text's first
        full = tokenizer(template.format(prompt))["input_ids"]
        assert full[:crop_start] == tokenizer(template.split("{}")[0])["input_ids"], prompt

    ids = torch.tensor([[3, 17, 33, 42, 100, 7, 9, 11, 13, 250], [4, 8, 15, 16, 23, 42, len(tokenizer) - 1, 0, 0, 0]])
    mask = torch.tensor([[1] * 10, [1] * 7 + [0] * 3])
    llama = llama.double()
    clip = clip.double()
    default_rope = LlamaModel(llama_config(len(tokenizer), {"rope_type": "default", "rope_theta": 10000.0}))
    default_rope.load_state_dict(llama.state_dict())
    default_rope = default_rope.double().eval()
    with torch.no_grad():
        states = llama(input_ids=ids, attention_mask=mask, output_hidden_states=True).hidden_states
        assert len(states) == 4
        plain = default_rope(input_ids=ids, attention_mask=mask).last_hidden_state
        assert not torch.allclose(plain, states[-1], atol=1e-3)
        host = types.SimpleNamespace(tokenizer=tokenizer, text_encoder=llama, tokenizer_2=tokenizer_2,
                                     text_encoder_2=clip, _execution_device=torch.device("cpu"))
        host._get_llama_prompt_embeds = functools.partial(HunyuanVideoPipeline._get_llama_prompt_embeds, host)
        host._get_clip_prompt_embeds = functools.partial(HunyuanVideoPipeline._get_clip_prompt_embeds, host)
        embeds, pooled, embeds_mask = HunyuanVideoPipeline.encode_prompt(
            host, PIPE_PROMPTS, prompt_template={"template": template, "crop_start": crop_start},
            device=torch.device("cpu"), dtype=torch.float64, max_sequence_length=MAX_SEQUENCE_LENGTH)
    pipe_inputs = tokenizer([template.format(p) for p in PIPE_PROMPTS], max_length=MAX_SEQUENCE_LENGTH + crop_start,
                            padding="max_length", truncation=True, return_tensors="pt")
    assert embeds.shape == (3, MAX_SEQUENCE_LENGTH, 32) and pooled.shape == (3, 16), (embeds.shape, pooled.shape)
    assert embeds_mask[0].sum() < MAX_SEQUENCE_LENGTH and embeds_mask[2].sum() == MAX_SEQUENCE_LENGTH

    tensors = {
        "input.input_ids": f32(ids),
        "input.attention_mask": f32(mask),
        "output.default_rope.last_hidden_state": f32(plain),
        "pipe.input_ids": f32(pipe_inputs.input_ids),
        "pipe.attention_mask": f32(pipe_inputs.attention_mask),
        "pipe.prompt_embeds": f32(embeds),
        "pipe.prompt_attention_mask": f32(embeds_mask),
        "pipe.pooled_prompt_embeds": f32(pooled),
    }
    tensors.update({f"output.hidden_states.{i}": f32(s) for i, s in enumerate(states)})
    path = os.path.join(FIXTURES, "hunyuan_video_text.safetensors")
    save_file(tensors, path, metadata={
        "config": json.dumps(config5), "config_v4": json.dumps(v4_config(config5)), "template": template,
        "crop_start": str(crop_start), "max_sequence_length": str(MAX_SEQUENCE_LENGTH),
        "pipe_prompts": json.dumps(PIPE_PROMPTS), **VERSIONS})
    total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(FOLDER) for f in fs)
    print("wrote", path, f"{os.path.getsize(path) / 1e3:.0f} kB;", f"hunyuan_video_text/ {total / 1e3:.0f} kB;",
          "crop_start", crop_start)


if __name__ == "__main__":
    main()
