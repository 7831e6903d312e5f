#!/usr/bin/env python3
"""A miniature Wan-2.1 checkpoint folder and a DanceGRPO-layout embedding cache for the Wan training tests
(Tests/TrainingTests/WanTaskTests.swift, Tests/CommandLineTests).

    scripts/tools-env.sh python3 tools/goldens/wan_mini.py

Writes into Tests/TestSupport/Fixtures/wan_mini/, with diffusers' own `save_pretrained`, the parts of a
`Wan-AI/Wan2.1-T2V-1.3B-Diffusers` folder that training loads — transformer/ (WanTransformer3DModel: 2 layers, 2 heads
× 12, text_dim 16, in/out channels 4), vae/ (AutoencoderKLWan: base_dim 4, z_dim 4, temporal compression 4, spatial
8), scheduler/ (UniPCMultistepScheduler with Wan's flow settings) and model_index.json — and
wan_mini_embeddings/: the layout of DanceGRPO's preprocess_wan_2_1_embeddings.py, one `torch.save`d bfloat16 tensor
per prompt in prompt_embed/<i>.pt and negative_prompt_embeds/<i>.pt ([8, 16], zero past each prompt's length as
WanPipeline.encode_prompt pads them) and videos2caption.json. Seeded; the weights are perturbed so that every tensor
matters.
"""
import json
import os
import shutil
import sys

sys.path = [p for p in sys.path if os.path.abspath(p or os.curdir) != os.path.dirname(os.path.abspath(__file__))]

import torch  # noqa: E402
from diffusers import AutoencoderKLWan, UniPCMultistepScheduler, WanPipeline, WanTransformer3DModel  # noqa: E402
from safetensors.torch import save_file  # noqa: E402
from transformers import AutoTokenizer, UMT5Config, UMT5EncoderModel  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
FIXTURES = os.path.join(ROOT, "Tests", "TestSupport", "Fixtures")
FOLDER = os.path.join(FIXTURES, "wan_mini")
CACHE = os.path.join(FIXTURES, "wan_mini_embeddings")
PROMPTS = ["a red fox running in the snow", "two blue cubes on a table", "a sailing boat at sunset"]
TEXT_TOKENS, TEXT_DIM = 8, 16


def perturb(model, scale):
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("gamma") or ("norm" in name and name.endswith("weight")):
                p.copy_(1 + 0.1 * torch.randn_like(p))
            else:
                p.add_(scale * torch.randn_like(p))


def main():
    torch.manual_seed(0)
    shutil.rmtree(FOLDER, ignore_errors=True)
    shutil.rmtree(CACHE, ignore_errors=True)
    transformer = WanTransformer3DModel(
        patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12, in_channels=4, out_channels=4,
        text_dim=TEXT_DIM, freq_dim=16, ffn_dim=32, num_layers=2, cross_attn_norm=True, qk_norm="rms_norm_across_heads",
        eps=1e-6, image_dim=None, added_kv_proj_dim=None, rope_max_seq_len=64)
    perturb(transformer, 0.05)
    transformer.save_pretrained(os.path.join(FOLDER, "transformer"), safe_serialization=True)
    vae = AutoencoderKLWan(
        base_dim=4, z_dim=4, dim_mult=[1, 2, 2, 2], num_res_blocks=1, attn_scales=[],
        temperal_downsample=[False, True, True], dropout=0.0, latents_mean=[-0.75, 0.1, 0.96, -0.29],
        latents_std=[2.8, 1.45, 0.6, 1.9])
    perturb(vae, 0.02)
    vae.save_pretrained(os.path.join(FOLDER, "vae"), safe_serialization=True)
    scheduler = UniPCMultistepScheduler(
        prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=3.0, num_train_timesteps=1000,
        solver_order=2, solver_type="bh2", lower_order_final=True)
    scheduler.save_pretrained(os.path.join(FOLDER, "scheduler"))
    tokenizer = AutoTokenizer.from_pretrained(os.path.join(FIXTURES, "tokenizers", "umt5", "json"))
    tokenizer.save_pretrained(os.path.join(FOLDER, "tokenizer"))
    torch.manual_seed(5)
    text_encoder = UMT5EncoderModel(UMT5Config(
        vocab_size=len(tokenizer), d_model=TEXT_DIM, d_kv=4, d_ff=32, num_layers=2, num_heads=4,
        relative_attention_num_buckets=32, relative_attention_max_distance=128, feed_forward_proj="gated-gelu",
        dropout_rate=0.0, tie_word_embeddings=False)).eval()
    perturb(text_encoder, 0.05)
    text_encoder.save_pretrained(os.path.join(FOLDER, "text_encoder"), safe_serialization=True)
    pipeline = WanPipeline(tokenizer=tokenizer, text_encoder=text_encoder, transformer=transformer, vae=vae,
                           scheduler=scheduler)
    with torch.no_grad():
        positive, negative = pipeline.encode_prompt(PROMPTS, negative_prompt="", max_sequence_length=16,
                                                    device=torch.device("cpu"), dtype=torch.float32)
    save_file({"prompt_embeds": positive.contiguous(), "negative_prompt_embeds": negative.contiguous()},
              os.path.join(FIXTURES, "wan_mini_preprocess.safetensors"), metadata={"prompts": json.dumps(PROMPTS)})

    # The whole pipeline from fixed initial latents: 2 prompts, 5 frames of 32×32, 4 UniPC steps, guidance 5 against
    # the empty negative prompt, text at 16 tokens; final latents and the decoded video.
    latents = torch.randn(2, 4, 2, 4, 4, generator=torch.Generator().manual_seed(7))
    with torch.no_grad():
        final = pipeline(prompt=PROMPTS[:2], negative_prompt="", height=32, width=32, num_frames=5,
                         num_inference_steps=4, guidance_scale=5.0, latents=latents.clone(), max_sequence_length=16,
                         output_type="latent").frames
        video = pipeline(prompt=PROMPTS[:2], negative_prompt="", height=32, width=32, num_frames=5,
                         num_inference_steps=4, guidance_scale=5.0, latents=latents.clone(), max_sequence_length=16,
                         output_type="np").frames
    # "latents": the key `dancegrpo sample --initial-noise` reads, so the file itself is the CLI test's noise.
    save_file({"latents": latents, "final_latents": final.contiguous(),
               "video": torch.from_numpy(video).float().contiguous()},
              os.path.join(FIXTURES, "wan_mini_pipeline.safetensors"),
              metadata={"prompts": json.dumps(PROMPTS[:2]), "guidance": "5.0", "steps": "4", "frames": "5",
                        "height": "32", "width": "32", "max_sequence_length": "16"})
    with open(os.path.join(FOLDER, "model_index.json"), "w") as f:
        json.dump({"_class_name": "WanPipeline", "transformer": ["diffusers", "WanTransformer3DModel"],
                   "vae": ["diffusers", "AutoencoderKLWan"], "scheduler": ["diffusers", "UniPCMultistepScheduler"],
                   "text_encoder": ["transformers", "UMT5EncoderModel"], "tokenizer": ["transformers", "T5TokenizerFast"]},
                  f, indent=2)

    for sub in ("prompt_embed", "negative_prompt_embeds"):
        os.makedirs(os.path.join(CACHE, sub))
    entries = []
    negative = torch.zeros(TEXT_TOKENS, TEXT_DIM)
    negative[:1] = torch.randn(1, TEXT_DIM)  # "" encodes to its end token only
    for i, prompt in enumerate(PROMPTS):
        length = 3 + i
        embeds = torch.zeros(TEXT_TOKENS, TEXT_DIM)
        embeds[:length] = torch.randn(length, TEXT_DIM)
        name = f"{i}.pt"
        torch.save(embeds.to(torch.bfloat16), os.path.join(CACHE, "prompt_embed", name))
        torch.save(negative.to(torch.bfloat16), os.path.join(CACHE, "negative_prompt_embeds", name))
        entries.append({"prompt_embed_path": name, "negative_prompt_embeds_path": name, "caption": prompt})
    with open(os.path.join(CACHE, "videos2caption.json"), "w") as f:
        json.dump(entries, f, indent=2)
    print(f"wrote {FOLDER} and {CACHE}")


if __name__ == "__main__":
    main()
