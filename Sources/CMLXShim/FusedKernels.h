// Element-wise and row-wise kernels as single MLX primitives with CPU kernels of our own.
//
// Why: MLX's CPU back end evaluates tanh through libm's scalar tanhf (its gradient through coshf) and exp through a
// scalar polynomial whose fma is a libm call, one element at a time on the one stream thread; in a small FLUX GRPO
// iteration tanh was a quarter of all CPU time and the attention softmax the next largest element-wise cost. Here
// GELU (tanh and erf forms), quick GELU, SiLU and the last-axis softmax are one node each, whose kernels are branch-free loops the compiler
// vectorises; their gradients are one more such node (the activations) or three MLX ops on the saved output (softmax).
// Only float32 on the CPU device takes these paths; anything else composes the same formulas from MLX ops.
#pragma once
#include "mlx/mlx.h"

namespace dg::fused {
namespace mx = mlx::core;

// 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), PyTorch's GELU(approximate="tanh").
mx::array geluTanh(const mx::array& x);

// x·σ(x) (SiLU, swish).
mx::array silu(const mx::array& x);

// 0.5·x·(1 + erf(x/√2)), the exact GELU (PyTorch's default).
mx::array geluErf(const mx::array& x);

// x·σ(1.702·x), CLIP's quick GELU.
mx::array quickGelu(const mx::array& x);

// Softmax over the last axis.
mx::array softmaxLastAxis(const mx::array& x);

// softmax(q·kᵀ·scale + mask)·v for q [B, H, Lq, D], k and v [B, H, Lk, D]: MLX's own kernel, except on the fused
// path (float32 on the CPU, as many key/value heads as query heads, no mask or an additive float mask), where it is
// composed from two matmuls and `softmaxLastAxis` (which is what MLX's CPU fallback does, with its scalar softmax).
mx::array scaledDotProductAttention(const mx::array& q, const mx::array& k, const mx::array& v, float scale,
                                    const std::string& maskMode, const std::optional<mx::array>& mask);

// Rotary embedding from cos/sin tables ([L, D] or [B, L, D], each angle already repeated for its pair) of
// x [B, L, H, D]: x·cos + rotate(x)·sin, pairs adjacent (`interleaved`) or the two halves. One node forward and one
// backward on the fused path; composed from MLX ops (tables broadcast over heads) otherwise.
mx::array rotaryTables(const mx::array& x, const mx::array& cos, const mx::array& sin, bool interleaved);

// Attention over tensors laid out as projections produce them, q [B, Lq, H, D], k and v [B, Lk, Hkv, D], output
// [B, Lq, H, D]: no head transposes. On the fused path (float32 on the CPU, Hkv = H, no mask or an additive float
// mask broadcastable to [B, H, Lq, Lk]) one node whose kernel reads each head through BLAS leading dimensions, and
// one node for the gradients (from the saved probabilities); otherwise `scaledDotProductAttention` on transposes.
mx::array sequenceMajorAttention(const mx::array& q, const mx::array& k, const mx::array& v, float scale,
                                 const std::string& maskMode, const std::optional<mx::array>& mask);

// LayerNorm (`centred`: x − mean) or RMSNorm (not centred; `bias` must then be empty) over the last axis, with an
// optional elementwise weight and bias: MLX's `fast::layer_norm` / `fast::rms_norm`, except on the fused path (float32
// on the CPU), where the normalisation is one node forward and one backward and the affine part two MLX ops.
mx::array layerNorm(const mx::array& x, const std::optional<mx::array>& weight, const std::optional<mx::array>& bias,
                    float eps, bool centred);

// Whether `x` takes the fused kernel (float32 on the CPU device).
bool takesFusedPath(const mx::array& x);
}  // namespace dg::fused
