#!/usr/bin/env python3
"""Reference outputs for the NN layer and LoRA tests (Tests/NNTests/Layer*Tests.swift, LoRATests.swift).

Run from the package root (needs torch, diffusers, safetensors; see tools/requirements.txt):

    scripts/tools-env.sh python tools/goldens/nn_layers.py

It writes Tests/TestSupport/Fixtures/nn_layers.safetensors. Each case builds a PyTorch (or diffusers) module with a
fixed seed and stores, under `<case>.`:
    param.<key>   the module's state_dict exactly as torch saves it (channels-first conv weights included), which the
                  Swift test loads through `Module.load(strict: true)`
    x, ...        inputs; activations of convolutions and group norms are stored channels-last ([N, *S, C]), the
                  layout the Swift layers take
    out, ...      the reference output, computed in float64 from the same float32 parameters and inputs
Seeded: rerunning gives the same file for the same torch/diffusers versions (recorded in the metadata).
"""
import os

import diffusers
import torch
import torch.nn as nn
import torch.nn.functional as F
from diffusers.models.attention_processor import Attention
from diffusers.models.embeddings import apply_rotary_emb, get_1d_rotary_pos_embed
from diffusers.models.transformers.transformer_flux import FluxAttention
from safetensors.torch import save_file

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "TestSupport", "Fixtures", "nn_layers.safetensors")
T = {}


def put(key, t):
    assert key not in T, key
    t = t.detach().contiguous()
    if t.dtype == torch.float64:
        t = t.float()
    if t.dtype == torch.int64:
        t = t.to(torch.int32)
    if t.dtype == torch.bool:
        t = t.to(torch.float32)  # bool crosses as 0/1 float32; the tests compare > 0.5
    T[key] = t.clone()


def cl(t):
    """Channels-first activations [N, C, *S] -> channels-last [N, *S, C]."""
    return t.permute(0, *range(2, t.dim()), 1)


def inputs(*shape, scale=1.0):
    """float32 values (what the engine sees) carried in float64 for the reference computation."""
    return (torch.randn(*shape) * scale).double()


def randomize(module):
    """Affine parameters of norms start at 1/0 in torch; random values make the test able to fail."""
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn_like(p) * 0.5 + (1.0 if p.dim() == 1 else 0.0))
    return module


def case(name, module, *xs, forward=None, channels_last=False, **kw):
    """Stores params and inputs, then the float64 output of `forward(module, *xs)` (default: module(*xs))."""
    for key, value in module.state_dict().items():
        put(f"{name}.param.{key}", value)
    module = module.double().eval()
    for i, x in enumerate(xs):
        put(f"{name}.{'x' if i == 0 else f'x{i}'}", cl(x) if channels_last and x.dim() > 2 else x)
    with torch.no_grad():
        out = forward(module, *xs) if forward else module(*xs, **kw)
    if isinstance(out, tuple):
        for i, o in enumerate(out):
            put(f"{name}.out{i}", o)
    else:
        put(f"{name}.out", cl(out) if channels_last and out.dim() > 2 else out)


torch.manual_seed(0)

# Linear ---------------------------------------------------------------------------------------------------------
case("linear", nn.Linear(5, 4), inputs(2, 3, 5))
case("linear_nobias", nn.Linear(5, 4, bias=False), inputs(3, 5))

# Convolutions (torch channels-first; activations stored channels-last) -------------------------------------------
case("conv1d", nn.Conv1d(4, 6, 3, stride=2, padding=1, dilation=2, groups=2), inputs(2, 4, 9), channels_last=True)
case("conv2d", nn.Conv2d(3, 4, (3, 2), stride=(2, 1), padding=(1, 0)), inputs(2, 3, 6, 5), channels_last=True)
case("conv2d_same", nn.Conv2d(2, 3, 4, padding="same", bias=False), inputs(1, 2, 5, 6), channels_last=True)
case("conv3d", nn.Conv3d(2, 3, (2, 3, 3), stride=(1, 2, 1), padding=(1, 1, 0)), inputs(1, 2, 4, 5, 4),
     channels_last=True)
case("convT1d", nn.ConvTranspose1d(3, 4, 3, stride=3, padding=1, output_padding=2), inputs(2, 3, 5),
     channels_last=True)
case("convT2d", nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2), inputs(1, 4, 3, 3),
     channels_last=True)
case("convT3d", nn.ConvTranspose3d(2, 3, (2, 3, 2), stride=(2, 1, 2), padding=(0, 1, 1)), inputs(1, 2, 3, 3, 3),
     channels_last=True)

# Normalisation ---------------------------------------------------------------------------------------------------
case("layernorm", randomize(nn.LayerNorm(6, eps=1e-6)), inputs(2, 3, 6, scale=3))
case("layernorm_plain", nn.LayerNorm(6, elementwise_affine=False), inputs(2, 3, 6, scale=3))
case("rmsnorm", randomize(nn.RMSNorm(6, eps=1e-6)), inputs(2, 3, 6, scale=3))
case("groupnorm", randomize(nn.GroupNorm(3, 6)), inputs(2, 6, 4, 5, scale=2) + 1, channels_last=True)
case("groupnorm3d", randomize(nn.GroupNorm(2, 4, eps=1e-6)), inputs(1, 4, 3, 2, 3), channels_last=True)

# Embedding -------------------------------------------------------------------------------------------------------
case("embedding", nn.Embedding(10, 4), torch.tensor([[1, 0, 9], [3, 3, 7]]))

# Activations (one input, one output per function) ----------------------------------------------------------------
act_x = inputs(4, 6, scale=3)
put("act.x", act_x)
put("act.gelu", F.gelu(act_x))
put("act.gelu_tanh", F.gelu(act_x, approximate="tanh"))
put("act.quick_gelu", act_x * torch.sigmoid(1.702 * act_x))
put("act.silu", F.silu(act_x))
put("act.relu", F.relu(act_x))
put("act.tanh", torch.tanh(act_x))
put("act.sigmoid", torch.sigmoid(act_x))
put("act.leaky_relu", F.leaky_relu(act_x, 0.2))


# MLP and Sequential ----------------------------------------------------------------------------------------------
class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(6, 12)
        self.fc2 = nn.Linear(12, 5)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x), approximate="tanh"))


case("mlp", MLP(), inputs(2, 3, 6))
case("sequential", nn.Sequential(nn.Linear(4, 8), nn.SiLU(), nn.Dropout(0.0), nn.Linear(8, 3)), inputs(2, 4))


# Attention -------------------------------------------------------------------------------------------------------
def reference_attention(attn, x, context=None, mask=None, rope=None):
    """diffusers' Attention processor, written out so masks, GQA and rotary can be added (float64)."""
    b = x.shape[0]
    src = x if context is None else context
    d = attn.to_q.out_features // attn.heads
    q = attn.to_q(x).view(b, -1, attn.heads, d)
    k = attn.to_k(src).view(b, src.shape[1], -1, d)
    v = attn.to_v(src).view(b, src.shape[1], -1, d)
    if attn.norm_q is not None:
        q, k = attn.norm_q(q), attn.norm_k(k)
    q, k, v = (t.transpose(1, 2) for t in (q, k, v))
    if rope is not None:
        q, k = rope(q), rope(k)
    groups = attn.heads // k.shape[1]
    k, v = k.repeat_interleave(groups, dim=1), v.repeat_interleave(groups, dim=1)
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    return attn.to_out[0](out.transpose(1, 2).reshape(b, -1, attn.heads * d))


def rope_tables(length, dim, interleaved, offset=0):
    cos, sin = get_1d_rotary_pos_embed(dim, torch.arange(length, dtype=torch.float64) + offset, use_real=True,
                                       repeat_interleave_real=interleaved, freqs_dtype=torch.float64)
    return cos.double(), sin.double()


attn = Attention(query_dim=8, heads=2, dim_head=4, bias=True, qk_norm="rms_norm", eps=1e-6)
randomize(attn.norm_q), randomize(attn.norm_k)
x = inputs(2, 5, 8)
case("attn_self", attn, x)
assert torch.allclose(reference_attention(attn, x), attn(x), atol=1e-10)  # the written-out reference is diffusers'

# Cross-attention with LayerNorm qk-norm and a key-padding mask (sample 0 keeps 4 of 6 keys, sample 1 keeps all).
attn = Attention(query_dim=8, cross_attention_dim=6, heads=2, dim_head=4, qk_norm="layer_norm", out_bias=False)
keep = torch.tensor([[1, 1, 0, 1, 1, 0], [1, 1, 1, 1, 1, 1]], dtype=torch.bool)
case("attn_cross", attn, inputs(2, 3, 8), inputs(2, 6, 6),
     forward=lambda m, x, c: reference_attention(m, x, c, mask=keep[:, None, None, :]))
put("attn_cross.keep", keep)

# Grouped-query attention (2 query heads share 1 key/value head) with a causal mask.
attn = Attention(query_dim=8, heads=2, kv_heads=1, dim_head=4)
causal = torch.ones(4, 4, dtype=torch.bool).tril()
case("attn_gqa", attn, inputs(1, 4, 8), forward=lambda m, x: reference_attention(m, x, mask=causal))

# Boolean [Lq, Lk] and additive [B, Lq, Lk] masks on the same module.
attn = Attention(query_dim=8, heads=2, dim_head=4, bias=True)
allowed = torch.rand(4, 5) > 0.3
allowed[:, 0] = True  # every query keeps a key
additive = torch.randn(2, 4, 5).double()
additive[0, 1, 2] = -1e9
case("attn_masks", attn, inputs(2, 4, 8), inputs(2, 5, 8),
     forward=lambda m, x, c: (reference_attention(m, x, c, mask=allowed),
                              reference_attention(m, x, c, mask=additive[:, None])))
put("attn_masks.allowed", allowed)
put("attn_masks.additive", additive)

# Rotary embedding on queries and keys: diffusers' tables, both feature pairings, positions 3..8.
for layout, interleaved, unbind in (("interleaved", True, -1), ("halves", False, -2)):
    attn = Attention(query_dim=8, heads=2, dim_head=4, qk_norm="rms_norm", eps=1e-6)
    cos, sin = rope_tables(6, 4, interleaved, offset=3)
    rope = lambda t, cos=cos, sin=sin, unbind=unbind: apply_rotary_emb(t, (cos, sin), use_real_unbind_dim=unbind)
    case(f"attn_rope_{layout}", attn, inputs(2, 6, 8), forward=lambda m, x, rope=rope: reference_attention(m, x, rope=rope))
    put(f"attn_rope_{layout}.cos", cos)
    put(f"attn_rope_{layout}.sin", sin)

# FLUX joint attention (double-stream: context and image tokens together) with rotary over both.
attn = FluxAttention(query_dim=8, heads=2, dim_head=4, added_kv_proj_dim=6, eps=1e-6)
for norm in (attn.norm_q, attn.norm_k, attn.norm_added_q, attn.norm_added_k):
    randomize(norm)
cos, sin = rope_tables(3 + 5, 4, True)
case("attn_joint", attn, inputs(2, 5, 8), inputs(2, 3, 6),
     forward=lambda m, x, c: m(x, encoder_hidden_states=c, image_rotary_emb=(cos, sin)))
put("attn_joint.cos", cos)
put("attn_joint.sin", sin)

# FLUX single-stream attention: no output projection (pre_only).
attn = FluxAttention(query_dim=8, heads=2, dim_head=4, pre_only=True, eps=1e-6)
cos, sin = rope_tables(5, 4, True)
case("attn_preonly", attn, inputs(2, 5, 8), forward=lambda m, x: m(x, image_rotary_emb=(cos, sin)))
put("attn_preonly.cos", cos)
put("attn_preonly.sin", sin)


# LoRA ------------------------------------------------------------------------------------------------------------
class LoRALinear(nn.Module):
    """PEFT's LoRA Linear written out: base(x) + (alpha / r) · lora_B(lora_A(x)), with PEFT's key names."""

    def __init__(self, fan_in, fan_out, rank, alpha):
        super().__init__()
        self.base = nn.Linear(fan_in, fan_out)
        self.lora_A = nn.Linear(fan_in, rank, bias=False)
        self.lora_B = nn.Linear(rank, fan_out, bias=False)
        nn.init.normal_(self.lora_B.weight)  # PEFT starts B at zero; a trained adapter is not
        self.scale = alpha / rank

    def state_dict(self):
        sd = super().state_dict()
        return {k.removeprefix("base."): v for k, v in sd.items()}

    def forward(self, x):
        return self.base(x) + self.scale * self.lora_B(self.lora_A(x))


case("lora", LoRALinear(6, 5, rank=3, alpha=6.0), inputs(2, 4, 6))

# One metadata entry: safetensors writes several in hash order, which would make reruns differ byte-wise.
metadata = {"generator": f"tools/goldens/nn_layers.py, torch {torch.__version__}, diffusers {diffusers.__version__}"}
save_file(T, OUT, metadata=metadata)
print(f"wrote {len(T)} tensors, {os.path.getsize(OUT)} bytes to {os.path.relpath(OUT)}")
