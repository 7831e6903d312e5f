#!/usr/bin/env python3
"""Goldens for the Swift CLIP and T5 text encoders (Tests/ModelsTests/CLIP, Tests/ModelsTests/T5).

    scripts/tools-env.sh python3 tools/goldens/text_encoders.py

Builds tiny random transformers models (eager attention, float64 forward from float32 weights) and writes three files
into Tests/TestSupport/Fixtures/:

clip_text.safetensors: one CLIPTextModelWithProjection (hidden 32, 2 layers, 4 heads, vocab 1000, 77 positions,
quick_gelu). Its `text_model.*` weights are also what a plain CLIPTextModel holds, so the same tensors serve both.
  param.<key>                 checkpoint keys as they are on disk (`text_model.…`, `text_projection.weight`)
  input.input_ids             [3, 12] int32; row 0 ends with the legacy EOS (999, the largest id) padded with 999 as
                              SD 1.x does; rows 1 and 2 put token 998 (the EOS of the second config) before a larger id,
                              so the two pooling rules pick different positions
  input.attention_mask        [3, 12] int32, right padding (CLIP tokenizers pad on the right; with left padding
                              transformers 5 turns the whole sequence into NaN, so there is no golden for it)
  legacy.*                    config eos_token_id 2: pooled = row's argmax(input_ids)
  eos.*                       config eos_token_id 998: pooled = first position of 998
      last_hidden_state, pooled, hidden_states.<i> (embeddings, then each layer, before the final norm),
      masked.last_hidden_state, masked.pooled (with the attention mask), text_embeds (projection of pooled)
  metadata: config (legacy CLIPTextConfig as JSON), config_eos
t5_encoder.safetensors: T5EncoderModel v1.1 style (d_model 32, d_kv 8, 4 heads, d_ff 64, 2 layers, gated-gelu, 32
buckets, max distance 128).
  param.<key>                 `shared.weight`, `encoder.block.…` (the tied `encoder.embed_tokens.weight` left out,
                              as save_pretrained does)
  input.input_ids/attention_mask  [3, 10]: unpadded, right padded, left padded
  output.last_hidden_state, output.masked.last_hidden_state
  input.long_ids, output.long.last_hidden_state   [1, 160]: distances beyond max_distance
  bucket.relative_position    -300…300 int32
  bucket.bidirectional, bucket.unidirectional         T5Attention._relative_position_bucket(…, 32, 128)
  bucket.bidirectional_64_256, bucket.unidirectional_64_256   same with 64 buckets, max distance 256
  metadata: config (T5Config fields as JSON)
t5_encoder_relu.safetensors: the original T5's non-gated ReLU feed-forward (`DenseReluDense.wi`), same layout.
Seeded: reruns give the same files for the same torch/transformers versions (recorded in the metadata).
"""
import json
import os
import sys

# tools/goldens/tokenizers.py would shadow the `tokenizers` package that transformers imports: drop this folder from
# the module search path before importing transformers.
sys.path = [p for p in sys.path if os.path.abspath(p or os.curdir) != os.path.dirname(os.path.abspath(__file__))]

import torch  # noqa: E402
import transformers  # noqa: E402
from safetensors.torch import save_file  # noqa: E402
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection, T5Config, T5EncoderModel  # noqa: E402
from transformers.models.t5.modeling_t5 import T5Attention  # noqa: E402

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "TestSupport", "Fixtures")
VERSIONS = {"torch": torch.__version__, "transformers": transformers.__version__}


def perturb(model):
    """Norm weights 1 + 0.1·randn, everything else shifted by randn·0.05 (embeddings and biases get a larger push),
    so that every tensor changes the output."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "layer_norm" in name or "final_layer_norm" in name:
                p.copy_(1 + 0.1 * torch.randn_like(p))
            elif "relative_attention_bias" in name:
                p.copy_(torch.randn_like(p))
            elif p.dim() == 1:
                p.copy_(0.1 * torch.randn_like(p))
            else:
                p.add_(0.05 * torch.randn_like(p))


def f32(t):
    t = t.detach().contiguous()
    return t.float() if t.is_floating_point() else t.to(torch.int32)


def clip():
    base = dict(vocab_size=1000, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                max_position_embeddings=77, hidden_act="quick_gelu", layer_norm_eps=1e-5, projection_dim=24,
                bos_token_id=997, pad_token_id=1)
    legacy = dict(base, eos_token_id=2)
    eos = dict(base, eos_token_id=998)
    torch.manual_seed(0)
    model = CLIPTextModelWithProjection(CLIPTextConfig(**legacy, attn_implementation="eager")).eval()
    perturb(model)
    state = {k: v for k, v in model.state_dict().items() if not k.endswith("position_ids")}
    # transformers 5 keeps `text_model.` for the projection model and drops it for CLIPTextModel (it converts when
    # loading); the files on the Hub have it in both cases.
    assert all(k.startswith("text_model.") or k == "text_projection.weight" for k in state), list(state)

    ids = torch.tensor([
        [997, 5, 17, 333, 42, 999, 999, 999, 999, 999, 999, 999],   # SD 1.x style: padded with the EOS (= max id)
        [997, 12, 998, 999, 0, 0, 0, 0, 0, 0, 0, 0],                # 999 after the EOS 998: the rules disagree
        [997, 7, 8, 9, 10, 11, 12, 998, 500, 998, 1, 1],            # 998 twice: the first counts
    ])
    mask = torch.tensor([
        [1] * 6 + [0] * 6,
        [1] * 4 + [0] * 8,
        [1] * 10 + [0] * 2,
    ])
    tensors = {f"param.{k}": f32(v) for k, v in state.items()}
    tensors["input.input_ids"] = f32(ids)
    tensors["input.attention_mask"] = f32(mask)
    for prefix, config in (("legacy", legacy), ("eos", eos)):
        text = CLIPTextModel(CLIPTextConfig(**config, attn_implementation="eager")).eval()
        text.load_state_dict({k[len("text_model."):]: v for k, v in state.items() if k.startswith("text_model.")})
        text, projection = text.double(), torch.nn.Linear(32, 24, bias=False).double()
        with torch.no_grad():
            projection.weight.copy_(model.text_projection.weight.double())
            out = text(input_ids=ids, output_hidden_states=True)
            masked = text(input_ids=ids, attention_mask=mask)
            with_projection = CLIPTextModelWithProjection(CLIPTextConfig(**config, attn_implementation="eager"))
            with_projection.load_state_dict(model.state_dict())
            embeds = with_projection.double().eval()(input_ids=ids).text_embeds
        tensors[f"{prefix}.last_hidden_state"] = f32(out.last_hidden_state)
        tensors[f"{prefix}.pooled"] = f32(out.pooler_output)
        for i, h in enumerate(out.hidden_states):
            tensors[f"{prefix}.hidden_states.{i}"] = f32(h)
        tensors[f"{prefix}.masked.last_hidden_state"] = f32(masked.last_hidden_state)
        tensors[f"{prefix}.masked.pooled"] = f32(masked.pooler_output)
        tensors[f"{prefix}.text_embeds"] = f32(embeds)
        assert torch.allclose(embeds, projection(out.pooler_output))
    assert not torch.allclose(tensors["legacy.pooled"], tensors["eos.pooled"])
    path = os.path.join(FIXTURES, "clip_text.safetensors")
    save_file(tensors, path, metadata={"config": json.dumps(legacy), "config_eos": json.dumps(eos), **VERSIONS})
    print("wrote", path, sum(t.numel() for t in tensors.values()), "values")


def t5(name, feed_forward_proj, d_ff, extra):
    config = dict(vocab_size=200, d_model=32, d_kv=8, d_ff=d_ff, num_layers=2, num_heads=4,
                  relative_attention_num_buckets=32, relative_attention_max_distance=128, layer_norm_epsilon=1e-6,
                  feed_forward_proj=feed_forward_proj, dropout_rate=0.0)
    torch.manual_seed(1)
    model = T5EncoderModel(T5Config(**config, attn_implementation="eager")).eval()
    perturb(model)
    state = {k: v for k, v in model.state_dict().items() if k != "encoder.embed_tokens.weight"}
    ids = torch.tensor([
        [5, 17, 33, 42, 1, 7, 9, 11, 13, 1],
        [4, 8, 15, 16, 23, 42, 1, 0, 0, 0],
        [0, 0, 0, 0, 3, 6, 9, 12, 1, 150],
    ])
    mask = torch.tensor([
        [1] * 10,
        [1] * 7 + [0] * 3,
        [0] * 4 + [1] * 6,
    ])
    model = model.double()
    with torch.no_grad():
        out = model(input_ids=ids).last_hidden_state
        masked = model(input_ids=ids, attention_mask=mask).last_hidden_state
    tensors = {f"param.{k}": f32(v) for k, v in state.items()}
    tensors["input.input_ids"] = f32(ids)
    tensors["input.attention_mask"] = f32(mask)
    tensors["output.last_hidden_state"] = f32(out)
    tensors["output.masked.last_hidden_state"] = f32(masked)
    if extra:
        long_ids = torch.randint(0, 200, (1, 160), generator=torch.Generator().manual_seed(2))
        with torch.no_grad():
            tensors["output.long.last_hidden_state"] = f32(model(input_ids=long_ids).last_hidden_state)
        tensors["input.long_ids"] = f32(long_ids)
        relative = torch.arange(-300, 301)
        tensors["bucket.relative_position"] = f32(relative)
        bucket = T5Attention._relative_position_bucket
        tensors["bucket.bidirectional"] = f32(bucket(relative, True, 32, 128))
        tensors["bucket.unidirectional"] = f32(bucket(relative, False, 32, 128))
        tensors["bucket.bidirectional_64_256"] = f32(bucket(relative, True, 64, 256))
        tensors["bucket.unidirectional_64_256"] = f32(bucket(relative, False, 64, 256))
    path = os.path.join(FIXTURES, name)
    save_file(tensors, path, metadata={"config": json.dumps(config), **VERSIONS})
    print("wrote", path, sum(t.numel() for t in tensors.values()), "values")


if __name__ == "__main__":
    clip()
    t5("t5_encoder.safetensors", "gated-gelu", 64, extra=True)
    t5("t5_encoder_relu.safetensors", "relu", 48, extra=False)
