#!/usr/bin/env python3
"""Reference outputs for the engine's op tests (Tests/EngineTests/Ops*Tests.swift, GradientCheckTests.swift).

Run from the package root (needs torch, numpy, safetensors; see tools/requirements.txt):

    scripts/tools-env.sh python tools/goldens/engine_ops.py

It writes Tests/TestSupport/Fixtures/engine_ops.safetensors. Keys are `<family>.<op>.<role>`: the inputs the Swift
test feeds to the engine and PyTorch's output for them, so a test never needs to know how the numbers were made.
Inputs are small and seeded: rerunning gives the same file (for the same torch version, recorded in the metadata).

Layout: the engine is channels-last (MLX); PyTorch is channels-first. Every convolution tensor is stored already in
the engine's layout, moved here with `cl()`:
    activations  torch [N, C, *S]              -> engine [N, *S, C]
    conv weight  torch [C_out, C_in/g, *K]     -> engine [C_out, *K, C_in/g]
    convT weight torch [C_in, C_out/g, *K]     -> engine [C_out, *K, C_in/g]   (per group: swap the channel roles)
MLX flips the kernel inside its transposed convolution itself, so the transposed weight is only permuted, not flipped.
"""
import math
import os

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

torch.manual_seed(0)
OUT = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "TestSupport", "Fixtures", "engine_ops.safetensors")
T = {}


def put(key, t):
    assert key not in T, key
    t = t.detach().contiguous()
    if t.dtype == torch.float64:
        t = t.float()
    if t.dtype in (torch.int64, torch.bool):
        # int64 and bool cross as int32 / float32: narrower loader surface, and the tests cast anyway.
        t = t.to(torch.int32 if t.dtype == torch.int64 else torch.float32)
    T[key] = t.clone()


def rn(*shape):
    """Standard normal inputs, computed in float64 so references are exact to float32 rounding."""
    return torch.randn(*shape, dtype=torch.float64)


def ru(lo, hi, *shape):
    return torch.rand(*shape, dtype=torch.float64) * (hi - lo) + lo


def cl(t):
    """Channels-first -> channels-last: [N, C, *S] -> [N, *S, C] (also conv weights [O, I, *K] -> [O, *K, I])."""
    return t.permute(0, *range(2, t.dim()), 1)


def f32(t):
    """Inputs as float32 values: the engine sees float32, so the float64 reference must start from the same values."""
    return t.float().double()


# ---------------------------------------------------------------------------------------------------------------
# Arithmetic: broadcasting binary ops, element-wise functions, matmul, where/clip, comparisons.
a = f32(rn(2, 3, 4))
b = f32(rn(3, 1))
put("arith.a", a)
put("arith.b", b)
put("arith.add", a + b)
put("arith.sub", a - b)
put("arith.mul", a * b)
bd = f32(ru(0.5, 2.0, 3, 1) * torch.where(torch.rand(3, 1) < 0.5, -1.0, 1.0).double())
put("arith.bdiv", bd)
put("arith.div", a / bd)
put("arith.maximum", torch.maximum(a, b))
put("arith.minimum", torch.minimum(a, b))
put("arith.logaddexp", torch.logaddexp(a, b))
put("arith.atan2", torch.atan2(a, b))
put("arith.remainder", torch.remainder(a * 3, bd))  # Python-style: sign of the divisor
put("arith.floor_divide", torch.floor_divide(a * 3, bd))
put("arith.scalar", (a * 0.5 + 2.0) / 4.0 - 1.0)
put("arith.rsub", 1.0 - a)
put("arith.rdiv", 2.0 / bd)
base = f32(ru(0.5, 2.0, 2, 3, 4))
put("arith.pow.base", base)
put("arith.pow", torch.pow(base, a))
put("arith.pow_scalar", torch.pow(base, 2.5))
put("arith.clip", torch.clamp(a, -0.5, 0.7))
put("arith.where", torch.where(a > b, a, b * 2))
for name, fn in [("eq", torch.eq), ("ne", torch.ne), ("lt", torch.lt), ("le", torch.le), ("gt", torch.gt), ("ge", torch.ge)]:
    # Rounded inputs so that equality actually happens.
    put(f"arith.cmp.{name}", fn(torch.round(a), torch.round(b)))

# Element-wise unary functions, each on inputs inside its domain.
x = f32(rn(2, 3, 4) * 1.5)
pos = f32(ru(0.1, 3.0, 2, 3, 4))
unit = f32(ru(-0.95, 0.95, 2, 3, 4))
halfoff = f32(torch.round(x * 4) / 4 + 0.1)  # never exactly .5, where rounding conventions differ
put("unary.x", x)
put("unary.pos", pos)
put("unary.unit", unit)
put("unary.halfoff", halfoff)
for name, fn, src in [
    ("neg", torch.neg, "x"), ("abs", torch.abs, "x"), ("sign", torch.sign, "x"), ("exp", torch.exp, "x"),
    ("expm1", torch.expm1, "x"), ("log", torch.log, "pos"), ("log1p", torch.log1p, "pos"), ("log2", torch.log2, "pos"),
    ("log10", torch.log10, "pos"), ("sqrt", torch.sqrt, "pos"), ("rsqrt", torch.rsqrt, "pos"),
    ("square", torch.square, "x"), ("reciprocal", torch.reciprocal, "pos"), ("sin", torch.sin, "x"),
    ("cos", torch.cos, "x"), ("tan", torch.tan, "unit"), ("tanh", torch.tanh, "x"), ("asin", torch.asin, "unit"),
    ("acos", torch.acos, "unit"), ("atan", torch.atan, "x"), ("sinh", torch.sinh, "x"), ("cosh", torch.cosh, "x"),
    ("erf", torch.erf, "x"), ("erfinv", torch.erfinv, "unit"), ("floor", torch.floor, "halfoff"),
    ("ceil", torch.ceil, "halfoff"), ("round", torch.round, "halfoff"),
]:
    put(f"unary.{name}", fn({"x": x, "pos": pos, "unit": unit, "halfoff": halfoff}[src]))

# Matrix products: plain, batched with a broadcast batch axis, vector-matrix, and addmm.
ma, mb = f32(rn(3, 4)), f32(rn(4, 5))
put("matmul.a", ma)
put("matmul.b", mb)
put("matmul.out", ma @ mb)
ba, bb = f32(rn(2, 1, 3, 4)), f32(rn(3, 4, 2))
put("matmul.batched.a", ba)
put("matmul.batched.b", bb)
put("matmul.batched.out", torch.matmul(ba, bb))
v = f32(rn(4))
put("matmul.vec", v)
put("matmul.vec.out", v @ mb)
mc = f32(rn(5))
put("addmm.c", mc)
put("addmm.out", 0.5 * mc + 2.0 * (ma @ mb))

# Casts: float32 -> bfloat16 / float16 round to nearest even in both libraries, so the bits must agree exactly.
cx = torch.cat([f32(rn(60) * 10), torch.tensor([0.0, -0.0, 1.0, 3.140625, 65504.0, 1e-6, 1.00390625, 1.01171875],
                                                 dtype=torch.float64)])
put("cast.x", cx)
put("cast.bf16", cx.float().to(torch.bfloat16))
put("cast.f16", cx.float().to(torch.float16))
put("cast.bf16_softmax.x", f32(rn(2, 8)).to(torch.bfloat16))
put("cast.bf16_softmax.out", torch.softmax(T["cast.bf16_softmax.x"].float(), -1).to(torch.bfloat16))

# ---------------------------------------------------------------------------------------------------------------
# Reductions.
r = f32(rn(2, 3, 4))
put("reduce.x", r)
put("reduce.sum_all", r.sum())
put("reduce.sum_1", r.sum(1))
put("reduce.sum_02_keep", r.sum((0, 2), keepdim=True))
put("reduce.mean_m1", r.mean(-1))
put("reduce.max_1", r.amax(1))
put("reduce.min_all", r.amin())
put("reduce.prod_2", (r * 0.5 + 1).prod(2))
put("reduce.logsumexp_m1", torch.logsumexp(r, -1))
put("reduce.logsumexp_01", torch.logsumexp(r, (0, 1)))
put("reduce.argmax_1", r.argmax(1))
put("reduce.argmin_m1", r.argmin(-1))
for ddof in (0, 1):
    put(f"reduce.var_m1_ddof{ddof}", r.var(-1, correction=ddof))
    put(f"reduce.std_all_ddof{ddof}", r.std(correction=ddof))
    put(f"reduce.var_02_ddof{ddof}", r.var((0, 2), correction=ddof, keepdim=True))
put("reduce.cumsum_1", r.cumsum(1))
put("reduce.cumsum_m1_reverse", r.flip(-1).cumsum(-1).flip(-1))
put("reduce.cumsum_m1_exclusive", r.cumsum(-1) - r)
put("reduce.sort_m1", r.sort(-1).values)
put("reduce.argsort_1", r.argsort(1))

# ---------------------------------------------------------------------------------------------------------------
# Activations.
s = f32(rn(2, 3, 5) * 2)
put("act.x", s)
put("act.softmax_m1", torch.softmax(s, -1))
put("act.softmax_1", torch.softmax(s, 1))
put("act.softmax_12", torch.softmax(s.reshape(2, 15), -1).reshape(2, 3, 5))
put("act.log_softmax", torch.log_softmax(s, -1))
put("act.sigmoid", torch.sigmoid(s))
put("act.silu", F.silu(s))
put("act.gelu", F.gelu(s))
put("act.gelu_tanh", F.gelu(s, approximate="tanh"))
put("act.quick_gelu", s * torch.sigmoid(1.702 * s))
put("act.relu", F.relu(s))
put("act.leaky_relu", F.leaky_relu(s, 0.2))

# ---------------------------------------------------------------------------------------------------------------
# Shape ops.
sh = f32(rn(2, 3, 4))
put("shape.x", sh)
put("shape.reshape", sh.reshape(4, 6))
put("shape.transpose_201", sh.permute(2, 0, 1))
put("shape.transpose_rev", sh.permute(2, 1, 0))
put("shape.swap_02", sh.transpose(0, 2))
put("shape.moveaxis_0_2", torch.movedim(sh, 0, 2))
put("shape.flatten_12", sh.flatten(1, 2))
put("shape.expand_02", sh[None, :, None])  # new axes at output positions 0 and 2
put("shape.slice_strided", sh[0:2, 0:3:2, 1:4:2])
for i, piece in enumerate(torch.tensor_split(sh, [1, 3], dim=2)):
    put(f"shape.split_at.{i}", piece)
for i, piece in enumerate(torch.chunk(sh, 3, dim=1)):
    put(f"shape.split_parts.{i}", piece)
y = f32(rn(2, 1, 4))
put("shape.y", y)
put("shape.broadcast", y.expand(3, 2, 3, 4))
put("shape.squeeze_1", y.squeeze(1))
put("shape.concat_1", torch.cat([sh, y], 1))
put("shape.stack_m1", torch.stack([sh, sh * 2], -1))
put("shape.pad", F.pad(sh, (2, 0, 1, 1), value=0.5))  # axis 1: (1, 1), axis 2: (2, 0)
put("shape.repeat_interleave_1", sh.repeat_interleave(2, 1))
put("shape.tile", sh.repeat(1, 2, 3))
put("shape.tile_prepend", sh.repeat(2, 1, 1, 1))
up = f32(rn(1, 3, 2, 3))  # channels-first [N, C, H, W]
put("shape.upsample.x", cl(up))
put("shape.upsample.out", cl(F.interpolate(up, scale_factor=2, mode="nearest")))

# Indexing (getter, setter, gather).
ix = f32(rn(3, 4, 5))
put("index.x", ix)
put("index.a", ix[0:2, :, 1])
put("index.b", ix[..., -1])
put("index.c", ix[1, 1:, ::2])
put("index.d", ix[:, None, 2])
put("index.e", ix[-2:, 1:4:2, 3:])
iset = ix.clone()
iset[1, :, 2:4] = torch.arange(8, dtype=torch.float64).reshape(4, 2)
put("index.set_rows", iset)
idx = torch.tensor([[3, 0], [1, 3]])
put("index.take.idx", idx)
put("index.take_1", torch.index_select(ix, 1, idx.flatten()).reshape(3, 2, 2, 5))
put("index.take_flat", ix.flatten()[torch.tensor([0, 59, 17, 17])])
gidx = torch.randint(0, 5, (3, 4, 2))
put("index.gather.idx", gidx)
put("index.gather_m1", torch.gather(ix, -1, gidx))

# ---------------------------------------------------------------------------------------------------------------
# Convolutions, channels-first in torch and moved to channels-last for storage (see the header).
def conv_case(name, x, w, fn, **kw):
    put(f"conv.{name}.x", cl(x))
    put(f"conv.{name}.w", cl(w))
    put(f"conv.{name}.out", cl(fn(x, w, **kw)))


conv_case("1d", f32(rn(2, 4, 9)), f32(rn(6, 2, 3)), F.conv1d, stride=2, padding=1, dilation=2, groups=2)
conv_case("2d", f32(rn(2, 3, 6, 5)), f32(rn(4, 3, 3, 3)), F.conv2d, padding=1)
conv_case("2d_strided", f32(rn(1, 4, 7, 6)), f32(rn(6, 2, 3, 2)), F.conv2d, stride=(2, 1), padding=(1, 0),
          dilation=(1, 2), groups=2)
conv_case("2d_depthwise", f32(rn(1, 4, 5, 5)), f32(rn(4, 1, 3, 3)), F.conv2d, padding=1, groups=4)
conv_case("3d", f32(rn(1, 2, 4, 5, 4)), f32(rn(3, 2, 2, 3, 3)), F.conv3d, stride=(1, 2, 1), padding=(1, 1, 0))
# Asymmetric padding (low != high), as a pad followed by an unpadded convolution in torch.
ax, aw = f32(rn(1, 2, 5, 5)), f32(rn(3, 2, 2, 2))
put("conv.2d_asym.x", cl(ax))
put("conv.2d_asym.w", cl(aw))
put("conv.2d_asym.out", cl(F.conv2d(F.pad(ax, (0, 1, 1, 0)), aw, stride=2)))  # H: (1, 0), W: (0, 1)


def convT_weight(w, groups):
    """torch [C_in, C_out/g, *K] -> engine [C_out, *K, C_in/g]."""
    cin, cog, *k = w.shape
    w = w.reshape(groups, cin // groups, cog, *k)  # [g, C_in/g, C_out/g, *K]
    w = w.permute(0, 2, *range(3, 3 + len(k)), 1)  # [g, C_out/g, *K, C_in/g]
    return w.reshape(groups * cog, *k, cin // groups)


def convT_case(name, x, w, fn, groups=1, **kw):
    put(f"convT.{name}.x", cl(x))
    put(f"convT.{name}.w", convT_weight(w, groups))
    put(f"convT.{name}.out", cl(fn(x, w, groups=groups, **kw)))


convT_case("2d", f32(rn(1, 3, 4, 3)), f32(rn(3, 2, 3, 3)), F.conv_transpose2d, stride=2, padding=1, output_padding=1)
convT_case("2d_dilated", f32(rn(2, 2, 3, 3)), f32(rn(2, 3, 2, 3)), F.conv_transpose2d, stride=(1, 2), padding=(0, 1),
           dilation=(2, 1))
convT_case("2d_groups", f32(rn(1, 4, 3, 3)), f32(rn(4, 3, 3, 3)), F.conv_transpose2d, groups=2, stride=2, padding=1)
convT_case("1d", f32(rn(2, 3, 5)), f32(rn(3, 4, 3)), F.conv_transpose1d, stride=3, padding=1, output_padding=2)
convT_case("3d", f32(rn(1, 2, 3, 2, 3)), f32(rn(2, 3, 2, 2, 3)), F.conv_transpose3d, stride=(2, 1, 2),
           padding=(0, 1, 1), output_padding=(1, 0, 0))

# ---------------------------------------------------------------------------------------------------------------
# Fast ops: normalisation, rotary embedding, attention.
ln = f32(rn(2, 3, 8) * 2 + 1)
put("norm.x", ln)
put("norm.w", f32(rn(8)))
put("norm.b", f32(rn(8)))
put("norm.layer_affine", F.layer_norm(ln, (8,), T["norm.w"].double(), T["norm.b"].double(), eps=1e-5))
put("norm.layer_plain", F.layer_norm(ln, (8,), eps=1e-5))
put("norm.layer_weight_only", F.layer_norm(ln, (8,), T["norm.w"].double(), None, eps=1e-5))
put("norm.rms_weight", ln * torch.rsqrt(ln.pow(2).mean(-1, keepdim=True) + 1e-6) * T["norm.w"].double())
put("norm.rms_plain", ln * torch.rsqrt(ln.pow(2).mean(-1, keepdim=True) + 1e-6))


def rope_ref(x, dims, traditional, base, scale, offset, freqs=None):
    """MLX's rope by hand: positions (offset + i) * scale along axis -2; only the first `dims` features rotate."""
    L = x.shape[-2]
    pos = (torch.arange(L, dtype=torch.float64) + offset) * scale
    inv = 1.0 / freqs if freqs is not None else base ** (-torch.arange(0, dims, 2, dtype=torch.float64) / dims)
    theta = pos[:, None] * inv[None, :]  # [L, dims/2]
    c, s_ = torch.cos(theta), torch.sin(theta)
    rot, rest = x[..., :dims], x[..., dims:]
    if traditional:
        x1, x2 = rot[..., 0::2], rot[..., 1::2]
        out = torch.stack([x1 * c - x2 * s_, x1 * s_ + x2 * c], -1).flatten(-2)
    else:
        x1, x2 = rot[..., : dims // 2], rot[..., dims // 2:]
        out = torch.cat([x1 * c - x2 * s_, x1 * s_ + x2 * c], -1)
    return torch.cat([out, rest], -1)


rx = f32(rn(1, 2, 5, 8))
put("rope.x", rx)
put("rope.trad", rope_ref(rx, 8, True, 10000.0, 1.0, 0))
put("rope.half", rope_ref(rx, 8, False, 10000.0, 1.0, 0))
put("rope.half_partial", rope_ref(rx, 4, False, 500.0, 0.5, 3))
put("rope.trad_partial", rope_ref(rx, 6, True, 10000.0, 2.0, 7))
rfreq = f32(ru(1.0, 50.0, 4))
put("rope.freqs", rfreq)
put("rope.half_freqs", rope_ref(rx, 8, False, None, 1.0, 2, freqs=rfreq))


def sdpa_ref(q, k, v, scale, mask=None):
    """softmax(q kᵀ scale + mask) v, with grouped-query heads expanded the way MLX groups them (head h -> h // rep)."""
    rep = q.shape[1] // k.shape[1]
    k, v = k.repeat_interleave(rep, 1), v.repeat_interleave(rep, 1)
    scores = q @ k.transpose(-1, -2) * scale
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf")) if mask.dtype == torch.bool else scores + mask
    return torch.softmax(scores, -1) @ v


q, k, vv = f32(rn(2, 4, 3, 8)), f32(rn(2, 2, 5, 8)), f32(rn(2, 2, 5, 8))
put("sdpa.q", q)
put("sdpa.k", k)
put("sdpa.v", vv)
scale = 1 / math.sqrt(8)
put("sdpa.none", sdpa_ref(q, k, vv, scale))
# Causal with Lq < Lk: query i sees keys 0 ... i + (Lk - Lq), the bottom-right alignment MLX uses for decoding.
causal = torch.arange(5)[None, :] <= torch.arange(3)[:, None] + 2
put("sdpa.causal", sdpa_ref(q, k, vv, scale, causal))
fmask = f32(rn(1, 1, 3, 5))
put("sdpa.float_mask", fmask)
put("sdpa.float", sdpa_ref(q, k, vv, 0.3, fmask))
bmask = torch.rand(2, 1, 3, 5) < 0.6
bmask[..., 0] = True  # no fully masked row
put("sdpa.bool_mask", bmask)
put("sdpa.bool", sdpa_ref(q, k, vv, scale, bmask))

# ---------------------------------------------------------------------------------------------------------------
# Gradients: torch autograd of `sum(f(inputs) * cot)`, i.e. the vjp with cotangent `cot`.
def grad_case(name, fn, inputs, in_keys, out_keys=None):
    ins = [t.clone().requires_grad_(True) for t in inputs]
    out = fn(*ins)
    cot = f32(rn(*out.shape))
    grads = torch.autograd.grad(out, ins, cot)
    for key, t in zip(in_keys, inputs):
        put(f"grad.{name}.{key}", t)
    put(f"grad.{name}.cot", cot)
    put(f"grad.{name}.out", out)
    for key, g in zip(in_keys, grads):
        put(f"grad.{name}.d{key}", g)


grad_case("matmul", lambda a, b: a @ b, [f32(rn(3, 4)), f32(rn(4, 5))], ["a", "b"])
grad_case("conv2d",
          lambda x, w: cl(F.conv2d(x.permute(0, 3, 1, 2), w.permute(0, 3, 1, 2), stride=1, padding=1)),
          [f32(rn(1, 5, 5, 3)), f32(rn(4, 3, 3, 3) * 0.3)], ["x", "w"])
# The transposed weight arrives in the engine's layout [C_out, kH, kW, C_in]; torch wants [C_in, C_out, kH, kW].
grad_case("conv_transpose2d",
          lambda x, w: cl(F.conv_transpose2d(x.permute(0, 3, 1, 2), w.permute(3, 0, 1, 2), stride=2, padding=1,
                                             output_padding=1)),
          [f32(rn(1, 3, 3, 2)), f32(rn(3, 3, 3, 2) * 0.3)], ["x", "w"])
grad_case("layer_norm", lambda x, w, b: F.layer_norm(x, (8,), w, b, eps=1e-5),
          [f32(rn(2, 3, 8)), f32(rn(8)), f32(rn(8))], ["x", "w", "b"])
grad_case("rms_norm", lambda x, w: x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * w,
          [f32(rn(2, 3, 8)), f32(rn(8))], ["x", "w"])
grad_case("softmax", lambda x: torch.softmax(x, -1), [f32(rn(2, 3, 5))], ["x"])
grad_case("sdpa", lambda q, k, v: sdpa_ref(q, k, v, 0.35, torch.ones(3, 3).tril().bool()),
          [f32(rn(1, 2, 3, 4)), f32(rn(1, 2, 3, 4)), f32(rn(1, 2, 3, 4))], ["q", "k", "v"])
grad_case("gelu", lambda x: F.gelu(x), [f32(rn(2, 3, 4) * 2)], ["x"])
grad_case("gelu_tanh", lambda x: F.gelu(x, approximate="tanh"), [f32(rn(2, 3, 4) * 2)], ["x"])
grad_case("mlp", lambda x, w1, b1, w2, b2: F.gelu(x @ w1 + b1) @ w2 + b2,
          [f32(rn(4, 6)), f32(rn(6, 8) * 0.4), f32(rn(8) * 0.1), f32(rn(8, 3) * 0.4), f32(rn(3) * 0.1)],
          ["x", "w1", "b1", "w2", "b2"])

# ---------------------------------------------------------------------------------------------------------------
os.makedirs(os.path.dirname(OUT), exist_ok=True)
save_file(T, OUT, metadata={"torch_version": torch.__version__, "generator": "tools/goldens/engine_ops.py"})
size = os.path.getsize(OUT)
assert size < 400_000, f"fixture too large: {size} bytes"
print(f"wrote {len(T)} tensors, {size} bytes, torch {torch.__version__} -> {os.path.normpath(OUT)}")
