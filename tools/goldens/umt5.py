#!/usr/bin/env python3
"""Goldens for Wan-2.1's text side: the UMT5 tokenizer (SentencePiece unigram with byte fallback), transformers'
UMT5EncoderModel, and diffusers' WanPipeline prompt handling (Tests/TokenizersTests/UMT5TokenizerTests.swift,
Tests/ModelsTests/T5/UMT5EncoderModelTests.swift, Tests/ModelsTests/Wan/WanTextEncodingTests.swift).

    .venv-tools/bin/python3 tools/goldens/umt5.py     (or scripts/tools-env.sh python3 tools/goldens/umt5.py)

google/umt5-xxl cannot be downloaded here, so a tiny model of the same kind is trained: SentencePiece unigram,
byte_fallback=True (the 256 `<0xXX>` pieces after <pad>, </s>, <unk>), the corpus and the short custom normalization
table of tools/goldens/tokenizer_ids.py (the nmt_nfkc table itself is covered by the T5 goldens and would make the
tokenizer.json export 300 KB). Written under Tests/TestSupport/Fixtures/:

tokenizers/umt5/spiece/      spiece.model + tokenizer_config.json: the transformers 4 layout (no tokenizer.json)
tokenizers/umt5/json/        tokenizer.json + tokenizer_config.json, as transformers 5's T5Tokenizer.save_pretrained
                             writes them (no spiece.model)
tokenizers/umt5.json         for a varied prompt set (tokenizer_ids.py's T5 prompts plus prompts longer than 512
                             tokens), per prompt: the ids of
                               sentencepiece        `encode` + </s>: unknown characters become their UTF-8 bytes
                               transformers_spiece  AutoTokenizer on the spiece/ folder
                               transformers_json    AutoTokenizer on the json/ folder
                               byte_fallback_json   the `tokenizers` library on json/tokenizer.json with
                                                    model.byte_fallback set to true
                             `cleaning`: diffusers' `prompt_clean` (ftfy, HTML unescape, whitespace) of the prompts
                             (mojibake left out) and the ids of the cleaned text; `wan_batch`: a few prompts cleaned
                             and tokenized as WanPipeline does (padded/truncated to 512, with the attention mask).
umt5_encoder.safetensors     a tiny UMT5EncoderModel (3 layers, each with its own relative_attention_bias; d_model 16,
                             vocab = the tokenizer's 700 ids), eager attention, float64 forward from float32 weights:
  param.<key>                `shared.weight`, `encoder.block.N.…` (the tied `encoder.embed_tokens.weight` left out)
  input.input_ids/attention_mask [3, 10]: unpadded, right padded, left padded
  output.last_hidden_state, output.masked.last_hidden_state
  input.long_ids, output.long.last_hidden_state  [1, 160]: distances beyond max_distance 128
  wan.input_ids, wan.attention_mask [4, 32]  WanPipeline's tokenizer call on wan.prompts (metadata), max length 32
  wan.prompt_embeds [4, 32, 16]  `WanPipeline._get_t5_prompt_embeds(prompts, max_sequence_length=32)`: the states cut
                             to each prompt's length and padded back with zeros
  wan.negative_prompt_embeds [4, 32, 16]  `WanPipeline.encode_prompt`'s negative side for one negative prompt
                             (metadata wan_negative_prompt) given for the 4 prompts
  wan.empty_negative_prompt_embeds [1, 32, 16]  the same without a negative prompt (diffusers then encodes "")
  metadata: config (UMT5Config JSON), wan_prompts (JSON list), wan_negative_prompt, library versions
Seeded and single-threaded: reruns give the same files for the same library versions.
"""
import importlib.metadata
import json
import os
import shutil
import sys
import tempfile
import types

HERE = os.path.dirname(os.path.abspath(__file__))
# tokenizer_ids.py holds the corpus, the rule table and the prompt sets shared with the T5 goldens.
import tokenizer_ids as shared  # noqa: E402

sys.path = [p for p in sys.path if os.path.abspath(p or os.curdir) != HERE]

import ftfy.badness  # noqa: E402
import sentencepiece as spm  # noqa: E402
import torch  # noqa: E402
from diffusers.pipelines.wan.pipeline_wan import WanPipeline, prompt_clean  # noqa: E402
from safetensors.torch import save_file  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402
from transformers import AutoTokenizer, UMT5Config, UMT5EncoderModel  # noqa: E402

ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
FIXTURES = os.path.join(ROOT, "Tests", "TestSupport", "Fixtures")
OUT = os.path.join(FIXTURES, "tokenizers")
VERSIONS = {
    name: importlib.metadata.version(name)
    for name in ["torch", "transformers", "tokenizers", "sentencepiece", "diffusers", "ftfy"]
}
EXTRA_IDS = 100

LONG_WORDS = " ".join(["a red fox jumps over the lazy dog in the snowy forest at night"] * 60)
UMT5_PROMPTS = [
    ("umt5", "\u4e00\u53ea\u732b\u5728\u96ea\u5730\u91cc\u5954\u8dd1\uff0c\u7535\u5f71\u611f"),
    ("umt5", "\u0416\u0416 \u0416 \u043a\u043e\u0442 \U0001f431\U0001f436 \u00e9\u00e8 caf\u00e9 \u00a9 2024"),
    ("umt5", "<0x41> typed byte piece and \u00ff\u0100"),
    ("umt5", "\U0001f600" * 30),
    ("long", LONG_WORDS),
    ("long", "\u732b" * 600),
]
WAN_PROMPTS = [
    "A cat walks on the grass, realistic style.",
    "  fish &amp;amp; chips &lt;3 \u201cquoted\u201d\tand\nnew\u3000lines  ",
    "\ufb01sh \uff21\uff22\uff23 \u2764\ufe0f \u4e00\u53ea\u732b \U0001f431",
    "",
    LONG_WORDS,
]

NEGATIVE_PROMPT = "blurry,  low quality &amp; static"


def prompts():
    base = shared.t5_prompts() + UMT5_PROMPTS
    # ftfy's mojibake repair is not reproduced (TextFixer.swift): the cleaning goldens leave such text out.
    return base, [text for category, text in base if category != "mojibake" and not ftfy.badness.is_bad(text)]


def train_tokenizer(scratch):
    cwd = os.getcwd()
    os.chdir(scratch)
    try:
        with open("corpus.txt", "w", encoding="utf-8") as f:
            f.write("\n".join(shared.t5_corpus()) + "\n")
        with open("rules.tsv", "w") as f:
            for source, target in shared.CUSTOM_RULES:
                f.write("%X\t%s\n" % (source, " ".join("%X" % c for c in target)))
        return shared.train(os.path.join(scratch, "model"), 600, normalization_rule_tsv="rules.tsv",
                            byte_fallback=True)
    finally:
        os.chdir(cwd)


def write_tokenizers(model_path):
    spiece_folder = os.path.join(OUT, "umt5", "spiece")
    json_folder = os.path.join(OUT, "umt5", "json")
    for folder in (spiece_folder, json_folder):
        shutil.rmtree(folder, ignore_errors=True)
        os.makedirs(folder)
    shutil.copyfile(model_path, os.path.join(spiece_folder, "spiece.model"))
    # What transformers 4 wrote next to spiece.model for google/umt5-xxl (sentinels, special tokens, no length).
    with open(os.path.join(spiece_folder, "tokenizer_config.json"), "w") as f:
        json.dump({"tokenizer_class": "T5Tokenizer", "extra_ids": EXTRA_IDS, "eos_token": "</s>",
                   "unk_token": "<unk>", "pad_token": "<pad>", "model_max_length": 1000000000000000019884624838656},
                  f, indent=2)
    from_spiece = AutoTokenizer.from_pretrained(spiece_folder)
    with tempfile.TemporaryDirectory() as saved:
        from_spiece.save_pretrained(saved)
        assert not os.path.exists(os.path.join(saved, "spiece.model"))
        for name in ("tokenizer.json", "tokenizer_config.json"):
            shutil.copyfile(os.path.join(saved, name), os.path.join(json_folder, name))
    from_json = AutoTokenizer.from_pretrained(json_folder)
    with open(os.path.join(json_folder, "tokenizer.json"), encoding="utf-8") as f:
        data = json.load(f)
    assert data["model"]["byte_fallback"] is False  # transformers' T5 conversion drops it
    data["model"]["byte_fallback"] = True
    byte_fallback = Tokenizer.from_str(json.dumps(data))
    return from_spiece, from_json, byte_fallback


def write_ids(model_path, from_spiece, from_json, byte_fallback):
    sp = spm.SentencePieceProcessor(model_file=model_path)
    all_prompts, clean_texts = prompts()
    entries = [{
        "category": category,
        "text": text,
        "sentencepiece": sp.encode(text) + [sp.eos_id()],
        "transformers_spiece": from_spiece(text)["input_ids"],
        "transformers_json": from_json(text)["input_ids"],
        "byte_fallback_json": byte_fallback.encode(text).ids,
    } for category, text in all_prompts]
    assert all(e["transformers_spiece"] == e["transformers_json"] for e in entries)
    cleaned = [prompt_clean(text) for text in clean_texts]
    batch_texts = [prompt_clean(text) for text in WAN_PROMPTS]
    batch = from_json(batch_texts, padding="max_length", max_length=512, truncation=True, add_special_tokens=True,
                      return_attention_mask=True)
    document = {
        "versions": VERSIONS,
        "pieces": sp.get_piece_size(),
        "transformers_vocab_size": len(from_json),
        "prompts": entries,
        "cleaning": {
            "prompts": clean_texts,
            "cleaned": cleaned,
            "ids": [from_json(text)["input_ids"] for text in cleaned],
        },
        "wan_batch": {
            "prompts": WAN_PROMPTS,
            "max_length": 512,
            "ids": batch["input_ids"],
            "attention_mask": batch["attention_mask"],
        },
    }
    with open(os.path.join(OUT, "umt5.json"), "w") as f:
        json.dump(document, f, separators=(",", ":"))
    with_bytes = sum(e["sentencepiece"] != e["transformers_json"] for e in entries)
    changed = sum(a != b for a, b in zip(clean_texts, cleaned))
    print(f"umt5.json: {len(entries)} prompts ({with_bytes} where byte fallback changes the ids), "
          f"{len(cleaned)} cleaned prompts ({changed} changed by the cleaning)")


def perturb(model):
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "layer_norm" in name:
                p.copy_(1 + 0.1 * torch.randn_like(p))
            elif "relative_attention_bias" in name:
                p.copy_(torch.randn_like(p))
            else:
                p.add_(0.05 * torch.randn_like(p))


def f32(t):
    t = t.detach().contiguous()
    return t.float() if t.is_floating_point() else t.to(torch.int32)


def write_encoder(tokenizer):
    torch.manual_seed(3)
    config = UMT5Config(vocab_size=len(tokenizer), d_model=16, d_kv=4, d_ff=32, num_layers=3, num_heads=4,
                        relative_attention_num_buckets=32, relative_attention_max_distance=128,
                        feed_forward_proj="gated-gelu", dropout_rate=0.0, tie_word_embeddings=False,
                        attn_implementation="eager")
    model = UMT5EncoderModel(config).eval()
    perturb(model)
    state = {k: v for k, v in model.state_dict().items() if k != "encoder.embed_tokens.weight"}
    biases = [k for k in state if k.endswith("relative_attention_bias.weight")]
    assert len(biases) == 3, biases
    assert torch.equal(model.encoder.embed_tokens.weight, model.shared.weight)
    ids = torch.tensor([
        [5, 17, 33, 42, 1, 7, 9, 11, 13, 1],
        [4, 8, 15, 16, 23, 42, 650, 1, 0, 0],
        [0, 0, 0, 0, 3, 6, 9, 699, 12, 1],
    ])
    mask = torch.tensor([[1] * 10, [1] * 8 + [0] * 2, [0] * 4 + [1] * 6])
    long_ids = torch.randint(0, len(tokenizer), (1, 160), generator=torch.Generator().manual_seed(4))
    model = model.double()
    with torch.no_grad():
        out = model(input_ids=ids).last_hidden_state
        masked = model(input_ids=ids, attention_mask=mask).last_hidden_state
        long = model(input_ids=long_ids).last_hidden_state
        # WanPipeline's own method on a stand-in for the pipeline object: it only reads these attributes.
        host = types.SimpleNamespace(tokenizer=tokenizer, text_encoder=model, _execution_device=torch.device("cpu"))
        wan_prompts = WAN_PROMPTS[:3] + [WAN_PROMPTS[4]]
        embeds = WanPipeline._get_t5_prompt_embeds(host, wan_prompts, max_sequence_length=32,
                                                   device=torch.device("cpu"), dtype=torch.float64)
        host._get_t5_prompt_embeds = lambda **kwargs: WanPipeline._get_t5_prompt_embeds(host, **kwargs)
        positive, negative = WanPipeline.encode_prompt(
            host, wan_prompts, negative_prompt=NEGATIVE_PROMPT, max_sequence_length=32, device=torch.device("cpu"),
            dtype=torch.float64)
        assert torch.equal(positive, embeds)
        _, empty_negative = WanPipeline.encode_prompt(
            host, wan_prompts[:1], negative_prompt=None, max_sequence_length=32, device=torch.device("cpu"),
            dtype=torch.float64)
    wan_inputs = tokenizer([prompt_clean(p) for p in wan_prompts], padding="max_length", max_length=32,
                           truncation=True, return_attention_mask=True, return_tensors="pt")
    lengths = wan_inputs.attention_mask.sum(dim=1)
    assert lengths[-1] == 32 and lengths[0] < 32
    assert torch.all(embeds[0, lengths[0]:] == 0) and embeds[0, :lengths[0]].abs().max() > 0

    tensors = {f"param.{k}": f32(v) for k, v in state.items()}
    tensors.update({
        "input.input_ids": f32(ids),
        "input.attention_mask": f32(mask),
        "output.last_hidden_state": f32(out),
        "output.masked.last_hidden_state": f32(masked),
        "input.long_ids": f32(long_ids),
        "output.long.last_hidden_state": f32(long),
        "wan.input_ids": f32(wan_inputs.input_ids),
        "wan.attention_mask": f32(wan_inputs.attention_mask),
        "wan.prompt_embeds": f32(embeds),
        "wan.negative_prompt_embeds": f32(negative),
        "wan.empty_negative_prompt_embeds": f32(empty_negative),
    })
    path = os.path.join(FIXTURES, "umt5_encoder.safetensors")
    config_json = {k: v for k, v in json.loads(config.to_json_string()).items() if k != "transformers_version"}
    save_file(tensors, path, metadata={"config": json.dumps(config_json), "wan_prompts": json.dumps(wan_prompts),
                                       "wan_negative_prompt": NEGATIVE_PROMPT, **VERSIONS})
    print("wrote", path, f"{os.path.getsize(path) / 1e3:.0f} kB")


def main():
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as scratch:
        model_path = train_tokenizer(scratch)
        from_spiece, from_json, byte_fallback = write_tokenizers(model_path)
        write_ids(model_path, from_spiece, from_json, byte_fallback)
    write_encoder(from_json)
    total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(os.path.join(OUT, "umt5")) for f in fs)
    print(f"tokenizers/umt5: {total / 1e3:.0f} kB, umt5.json {os.path.getsize(os.path.join(OUT, 'umt5.json')) / 1e3:.0f} kB")


if __name__ == "__main__":
    main()
