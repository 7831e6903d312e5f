#!/usr/bin/env python3
"""A miniature FLUX checkpoint folder and a 4-step pipeline golden (Tests/ModelsTests/Flux/FluxPipelineTests.swift).

    scripts/tools-env.sh python3 tools/goldens/flux_pipeline.py

Builds every component of diffusers' FluxPipeline on tiny random configs and writes them with `save_pretrained`
into Tests/TestSupport/Fixtures/flux_mini/ — the same layout as a real `data/flux` folder (transformer/, vae/,
text_encoder/, tokenizer/, text_encoder_2/, tokenizer_2/, scheduler/, model_index.json) — so the Swift test loads it
through the code path users' checkpoints take. The CLIP tokenizer is a small byte-level BPE learnt here (the real
vocabulary is 1.6 MB); the T5 tokenizer reuses the unigram model trained by tools/goldens/tokenizer_ids.py.

Then it runs FluxPipeline (4 steps, guidance 3.5, 16×16 px, two prompts) from fixed packed initial latents and writes
Tests/TestSupport/Fixtures/flux_pipeline.safetensors with
  prompt ids (clip_ids, t5_ids), text embeddings (prompt_embeds, pooled_prompt_embeds), initial latents,
  final latents (packed, before the VAE) and the decoded images [B, 3, H, W] in [0, 1].
Computation in float64 for a tight reference; weights saved as float32.
"""
import collections
import json
import os
import shutil

import torch
from diffusers import AutoencoderKL, FlowMatchEulerDiscreteScheduler, FluxPipeline, FluxTransformer2DModel
from safetensors.torch import save_file
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer, T5Config, T5EncoderModel, T5Tokenizer

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
FIXTURES = os.path.join(ROOT, "Tests", "TestSupport", "Fixtures")
FOLDER = os.path.join(FIXTURES, "flux_mini")
PROMPTS = ["a red fox in the snow", "Two blue cubes, on a table!"]
torch.manual_seed(0)


def bytes_to_unicode():
    """GPT-2/CLIP's reversible byte → printable character table."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    chars = printable[:]
    extra = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + extra)
            extra += 1
    return dict(zip(printable, map(chr, chars)))


def learn_clip_bpe(corpus, merges_wanted=60):
    """A small CLIP-style BPE: every byte symbol (with and without the end-of-word mark) plus learnt merges."""
    table = bytes_to_unicode()
    symbols = list(table.values())
    vocab = symbols + [s + "</w>" for s in symbols]
    words = collections.Counter()
    for line in corpus:
        for word in line.lower().split():
            chars = [table[b] for b in word.encode("utf-8")]
            words[tuple(chars[:-1] + [chars[-1] + "</w>"])] += 1
    merges = []
    for _ in range(merges_wanted):
        pairs = collections.Counter()
        for word, n in words.items():
            for a, b in zip(word, word[1:]):
                pairs[(a, b)] += n
        if not pairs:
            break
        best = max(sorted(pairs), key=lambda p: pairs[p])
        merges.append(best)
        vocab.append(best[0] + best[1])
        merged = collections.Counter()
        for word, n in words.items():
            out, i = [], 0
            while i < len(word):
                if i + 1 < len(word) and (word[i], word[i + 1]) == best:
                    out.append(word[i] + word[i + 1])
                    i += 2
                else:
                    out.append(word[i])
                    i += 1
            merged[tuple(out)] += n
        words = merged
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    return {token: i for i, token in enumerate(vocab)}, merges


def perturb(module):
    with torch.no_grad():
        for p in module.parameters():
            p.add_(torch.randn_like(p) * (0.1 if p.dim() == 1 else 0.02))
    return module


def main():
    shutil.rmtree(FOLDER, ignore_errors=True)
    os.makedirs(FOLDER)

    # Tokenizers.
    corpus = PROMPTS + ["a photo of a cat", "the red and the blue", "three green circles on the left of a square",
                        "snow on the table", "two foxes and a cube"]
    vocab, merges = learn_clip_bpe(corpus)
    scratch = os.path.join(FOLDER, "_clip_files")
    os.makedirs(scratch)
    with open(os.path.join(scratch, "vocab.json"), "w") as f:
        json.dump(vocab, f, ensure_ascii=False)
    with open(os.path.join(scratch, "merges.txt"), "w") as f:
        f.write("#version: 0.2\n" + "\n".join(f"{a} {b}" for a, b in merges) + "\n")
    tokenizer = CLIPTokenizer(vocab=vocab, merges=[(a, b) for a, b in merges])
    tokenizer.model_max_length = 77
    tokenizer.save_pretrained(os.path.join(FOLDER, "tokenizer"))
    # Real FLUX/SD folders carry vocab.json and merges.txt (what the Swift loader reads); transformers 5 writes only
    # tokenizer.json, so the files go in as well.
    for name in ("vocab.json", "merges.txt"):
        shutil.move(os.path.join(scratch, name), os.path.join(FOLDER, "tokenizer", name))
    shutil.rmtree(scratch)

    os.makedirs(os.path.join(FOLDER, "tokenizer_2"))
    shutil.copyfile(os.path.join(FIXTURES, "tokenizers", "t5", "spiece.model"), os.path.join(FOLDER, "tokenizer_2", "spiece.model"))
    tokenizer_2 = T5Tokenizer.from_pretrained(os.path.join(FOLDER, "tokenizer_2"), extra_ids=0)
    tokenizer_2.model_max_length = 512
    tokenizer_2.save_pretrained(os.path.join(FOLDER, "tokenizer_2"))

    # Models.
    text_encoder = perturb(CLIPTextModel(CLIPTextConfig(
        vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        max_position_embeddings=77, hidden_act="quick_gelu", projection_dim=32,
        bos_token_id=vocab["<|startoftext|>"], eos_token_id=vocab["<|endoftext|>"], pad_token_id=vocab["<|endoftext|>"])))
    text_encoder_2 = perturb(T5EncoderModel(T5Config(
        vocab_size=len(tokenizer_2), d_model=32, d_kv=8, d_ff=64, num_layers=2, num_heads=4,
        relative_attention_num_buckets=8, relative_attention_max_distance=32, feed_forward_proj="gated-gelu",
        dropout_rate=0.0, is_encoder_decoder=False)))
    transformer = perturb(FluxTransformer2DModel(
        patch_size=1, in_channels=16, num_layers=1, num_single_layers=1, attention_head_dim=8, num_attention_heads=2,
        joint_attention_dim=32, pooled_projection_dim=32, guidance_embeds=True, axes_dims_rope=[2, 2, 4]))
    vae = perturb(AutoencoderKL(
        in_channels=3, out_channels=3, down_block_types=["DownEncoderBlock2D"] * 2, up_block_types=["UpDecoderBlock2D"] * 2,
        block_out_channels=[8, 16], layers_per_block=1, latent_channels=4, norm_num_groups=4, sample_size=16,
        scaling_factor=0.3611, shift_factor=0.1159, use_quant_conv=False, use_post_quant_conv=False))
    scheduler = FlowMatchEulerDiscreteScheduler(shift=3.0, use_dynamic_shifting=False)

    pipe = FluxPipeline(scheduler=scheduler, vae=vae, text_encoder=text_encoder, tokenizer=tokenizer,
                        text_encoder_2=text_encoder_2, tokenizer_2=tokenizer_2, transformer=transformer)
    pipe.save_pretrained(FOLDER, safe_serialization=True)
    # spiece.model is what the Swift loader reads; the 350 KB tokenizer.json copy of it stays out of the fixture.
    os.remove(os.path.join(FOLDER, "tokenizer_2", "tokenizer.json"))

    # The reference run, in float64.
    pipe.to(torch.float64)
    height = width = 16
    latent = 2 * (height // (pipe.vae_scale_factor * 2))
    packed_tokens = (latent // 2) * (latent // 2)
    initial = torch.randn(len(PROMPTS), packed_tokens, 16, dtype=torch.float64).float().double()
    max_sequence_length = 12
    clip_ids = tokenizer(PROMPTS, padding="max_length", max_length=77, truncation=True, return_tensors="pt").input_ids
    t5_ids = tokenizer_2(PROMPTS, padding="max_length", max_length=max_sequence_length, truncation=True, return_tensors="pt").input_ids
    with torch.no_grad():
        prompt_embeds, pooled, _ = pipe.encode_prompt(PROMPTS, None, max_sequence_length=max_sequence_length)
        result = pipe(prompt=PROMPTS, height=height, width=width, num_inference_steps=4, guidance_scale=3.5,
                      latents=initial.clone(), max_sequence_length=max_sequence_length, output_type="latent")
        final_latents = result.images
        images = pipe(prompt=PROMPTS, height=height, width=width, num_inference_steps=4, guidance_scale=3.5,
                      latents=initial.clone(), max_sequence_length=max_sequence_length, output_type="pt").images

    golden = {
        "clip_ids": clip_ids.to(torch.int32), "t5_ids": t5_ids.to(torch.int32),
        "prompt_embeds": prompt_embeds, "pooled_prompt_embeds": pooled,
        "initial_latents": initial, "final_latents": final_latents, "images": images,
    }
    golden = {k: (v.float() if v.is_floating_point() else v).contiguous() for k, v in golden.items()}
    save_file(golden, os.path.join(FIXTURES, "flux_pipeline.safetensors"),
              metadata={"run": json.dumps({"prompts": PROMPTS, "steps": 4, "guidance": 3.5, "size": 16,
                                           "max_sequence_length": max_sequence_length})})
    print("wrote", FOLDER, "and flux_pipeline.safetensors")


if __name__ == "__main__":
    main()
