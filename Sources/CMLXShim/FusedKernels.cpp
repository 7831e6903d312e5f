#include "FusedKernels.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "mlx/backend/cpu/encoder.h"
#include "mlx/primitives.h"

// The BLAS that libmlx's matrix products use (OpenBLAS here, linked ahead of libmlx; see Package.swift), called
// directly so that attention can read heads out of [B, L, H, D] tensors through leading dimensions instead of copies.
extern "C" void cblas_sgemm(int order, int transA, int transB, int m, int n, int k, float alpha, const float* a, int lda,
                            const float* b, int ldb, float beta, float* c, int ldc);

namespace dg::fused {
namespace {

constexpr int kRowMajor = 101, kNoTrans = 111, kTrans = 112;

// The package is compiled for baseline x86-64 (SSE2) so that it runs on any x86-64 machine, but the element-wise loops
// below vectorise two to four times wider with AVX2 or AVX-512. The hot ones are therefore also compiled for those
// (function multiversioning: the dynamic loader picks, once, the widest clone the CPU supports). Linux only: it rests
// on ifunc, which macOS lacks; other machines keep the single baseline build.
#if defined(__x86_64__) && defined(__linux__) && defined(__clang__)
#define DG_WIDEST_VECTORS __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define DG_WIDEST_VECTORS
#endif

constexpr float kSqrt2OverPi = 0.7978845608028654f;
constexpr float kCubic = 0.044715f;

// e^x for x in [-87, 88], branch-free so loops over it vectorise: x = n·ln2 + r with |r| ≤ ln2/2, e^r from a degree-6
// polynomial (Cephes' expf coefficients, relative error ≈ 1 ulp), 2^n written into the exponent bits.
inline float expBranchFree(float x) {
  x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
  const float t = x * 1.44269504088896341f;
  const int32_t n = static_cast<int32_t>(t + (t >= 0.0f ? 0.5f : -0.5f));
  const float nf = static_cast<float>(n);
  const float r = (x - nf * 0.693359375f) - nf * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float er = p * r * r + r + 1.0f;
  const int32_t bits = (n + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return er * scale;
}

// e^x that is exactly 0 below −87 (where e^x underflows anyway), so masked (−∞) scores get no weight.
inline float expOrZero(float x) {
  const float e = expBranchFree(x);
  return x < -87.0f ? 0.0f : e;
}

// tanh(u) = (e^{2u} − 1)/(e^{2u} + 1); |u| ≥ 9 already rounds to ±1 in float32. Absolute error ≈ 1e-7.
inline float tanhBranchFree(float u) {
  u = u < -9.0f ? -9.0f : (u > 9.0f ? 9.0f : u);
  const float e = expBranchFree(2.0f * u);
  return (e - 1.0f) / (e + 1.0f);
}

// erf(x), branch-free: Abramowitz & Stegun 7.1.26 on |x| (absolute error ≤ 1.5e-7), the sign put back.
inline float erfBranchFree(float x) {
  const float a = std::fabs(x);
  const float t = 1.0f / (1.0f + 0.3275911f * a);
  float p = 1.061405429f;
  p = p * t - 1.453152027f;
  p = p * t + 1.421413741f;
  p = p * t - 0.284496736f;
  p = p * t + 0.254829592f;
  return std::copysign(1.0f - p * t * expBranchFree(-a * a), x);
}

// The pointwise activations: value and derivative of each, inlined into the loops below.
struct GeluTanhMath {
  static constexpr const char* name = "GeluTanh";
  static float value(float v) {
    const float t = tanhBranchFree(kSqrt2OverPi * (v + kCubic * v * v * v));
    return 0.5f * v * (1.0f + t);
  }
  // ½(1 + t) + ½x(1 − t²)·√(2/π)(1 + 3·0.044715·x²)
  static float derivative(float v) {
    const float t = tanhBranchFree(kSqrt2OverPi * (v + kCubic * v * v * v));
    const float du = kSqrt2OverPi * (1.0f + 3.0f * kCubic * v * v);
    return 0.5f * (1.0f + t) + 0.5f * v * (1.0f - t * t) * du;
  }
  static mx::array composed(const mx::array& x) {
    auto inner = mx::multiply(mx::array(kSqrt2OverPi, x.dtype()),
                              mx::add(x, mx::multiply(mx::array(kCubic, x.dtype()), mx::multiply(x, mx::multiply(x, x)))));
    return mx::multiply(mx::multiply(mx::array(0.5f, x.dtype()), x), mx::add(mx::array(1.0f, x.dtype()), mx::tanh(inner)));
  }
};

constexpr float kInverseSqrt2 = 0.7071067811865476f, kInverseSqrt2Pi = 0.3989422804014327f;

// The exact GELU, x·Φ(x) with Φ(x) = ½(1 + erf(x/√2)); MLX's CPU erf is scalar.
struct GeluErfMath {
  static constexpr const char* name = "GeluErf";
  static float value(float v) { return 0.5f * v * (1.0f + erfBranchFree(v * kInverseSqrt2)); }
  // Φ(x) + x·φ(x), φ(x) = e^{−x²/2}/√(2π)
  static float derivative(float v) {
    return 0.5f * (1.0f + erfBranchFree(v * kInverseSqrt2)) + v * kInverseSqrt2Pi * expBranchFree(-0.5f * v * v);
  }
  static mx::array composed(const mx::array& x) {
    auto phi = mx::add(mx::array(1.0f, x.dtype()), mx::erf(mx::multiply(x, mx::array(kInverseSqrt2, x.dtype()))));
    return mx::multiply(mx::multiply(x, phi), mx::array(0.5f, x.dtype()));
  }
};

// CLIP's quick GELU, x·σ(1.702x).
struct QuickGeluMath {
  static constexpr const char* name = "QuickGelu";
  static constexpr float kSlope = 1.702f;
  static float sigmoid(float v) { return 1.0f / (1.0f + expBranchFree(-kSlope * v)); }
  static float value(float v) { return v * sigmoid(v); }
  // σ(1.702x)·(1 + 1.702x(1 − σ(1.702x)))
  static float derivative(float v) {
    const float s = sigmoid(v);
    return s * (1.0f + kSlope * v * (1.0f - s));
  }
  static mx::array composed(const mx::array& x) {
    return mx::multiply(x, mx::sigmoid(mx::multiply(x, mx::array(kSlope, x.dtype()))));
  }
};

struct SiluMath {
  static constexpr const char* name = "Silu";
  // σ(x) = 1/(1 + e^{−x}); e^{−x} is clamped at e^{88}, where σ(x) < 1e-38 anyway.
  static float sigmoid(float v) { return 1.0f / (1.0f + expBranchFree(-v)); }
  static float value(float v) { return v * sigmoid(v); }
  // σ(x)·(1 + x(1 − σ(x)))
  static float derivative(float v) {
    const float s = sigmoid(v);
    return s * (1.0f + v * (1.0f - s));
  }
  static mx::array composed(const mx::array& x) { return mx::multiply(x, mx::sigmoid(x)); }
};

// The loops, inlined into each multiversioned entry point below so that they are compiled for its instruction set.
template <typename Math>
__attribute__((always_inline)) inline void valueLoop(const float* x, float* out, size_t n) {
  for (size_t i = 0; i < n; ++i) out[i] = Math::value(x[i]);
}

template <typename Math>
__attribute__((always_inline)) inline void gradientLoop(const float* x, const float* g, float* out, size_t n) {
  for (size_t i = 0; i < n; ++i) out[i] = g[i] * Math::derivative(x[i]);
}

// Multiversioned functions cannot be templates: one pair of entry points per activation.
DG_WIDEST_VECTORS void geluTanhValues(const float* x, float* out, size_t n) { valueLoop<GeluTanhMath>(x, out, n); }
DG_WIDEST_VECTORS void geluTanhGradients(const float* x, const float* g, float* out, size_t n) {
  gradientLoop<GeluTanhMath>(x, g, out, n);
}
DG_WIDEST_VECTORS void siluValues(const float* x, float* out, size_t n) { valueLoop<SiluMath>(x, out, n); }
DG_WIDEST_VECTORS void siluGradients(const float* x, const float* g, float* out, size_t n) {
  gradientLoop<SiluMath>(x, g, out, n);
}

DG_WIDEST_VECTORS void geluErfValues(const float* x, float* out, size_t n) { valueLoop<GeluErfMath>(x, out, n); }
DG_WIDEST_VECTORS void geluErfGradients(const float* x, const float* g, float* out, size_t n) {
  gradientLoop<GeluErfMath>(x, g, out, n);
}
DG_WIDEST_VECTORS void quickGeluValues(const float* x, float* out, size_t n) { valueLoop<QuickGeluMath>(x, out, n); }
DG_WIDEST_VECTORS void quickGeluGradients(const float* x, const float* g, float* out, size_t n) {
  gradientLoop<QuickGeluMath>(x, g, out, n);
}

template <typename Math>
void valueKernel(const float* x, float* out, size_t n);
template <>
void valueKernel<GeluErfMath>(const float* x, float* out, size_t n) { geluErfValues(x, out, n); }
template <>
void valueKernel<QuickGeluMath>(const float* x, float* out, size_t n) { quickGeluValues(x, out, n); }
template <>
void valueKernel<GeluTanhMath>(const float* x, float* out, size_t n) { geluTanhValues(x, out, n); }
template <>
void valueKernel<SiluMath>(const float* x, float* out, size_t n) { siluValues(x, out, n); }

template <typename Math>
void gradientKernel(const float* x, const float* g, float* out, size_t n);
template <>
void gradientKernel<GeluErfMath>(const float* x, const float* g, float* out, size_t n) {
  geluErfGradients(x, g, out, n);
}
template <>
void gradientKernel<QuickGeluMath>(const float* x, const float* g, float* out, size_t n) {
  quickGeluGradients(x, g, out, n);
}
template <>
void gradientKernel<GeluTanhMath>(const float* x, const float* g, float* out, size_t n) {
  geluTanhGradients(x, g, out, n);
}
template <>
void gradientKernel<SiluMath>(const float* x, const float* g, float* out, size_t n) { siluGradients(x, g, out, n); }

// Each row of `columns` values: subtract its maximum, exponentiate, divide by the sum. Maximum and sum keep eight
// partial results so that the loops vectorise without reassociating float arithmetic behind the compiler's back.
DG_WIDEST_VECTORS void softmaxRowsKernel(const float* __restrict x, float* __restrict out, size_t rows,
                                         size_t columns) {
  for (size_t r = 0; r < rows; ++r) {
    const float* in = x + r * columns;
    float* o = out + r * columns;
    float partialMax[8];
    for (int k = 0; k < 8; ++k) partialMax[k] = -INFINITY;
    size_t j = 0;
    for (; j + 8 <= columns; j += 8)
      for (int k = 0; k < 8; ++k) partialMax[k] = in[j + k] > partialMax[k] ? in[j + k] : partialMax[k];
    float m = -INFINITY;
    for (int k = 0; k < 8; ++k) m = partialMax[k] > m ? partialMax[k] : m;
    for (; j < columns; ++j) m = in[j] > m ? in[j] : m;
    for (size_t i = 0; i < columns; ++i) o[i] = expOrZero(in[i] - m);
    float partialSum[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    j = 0;
    for (; j + 8 <= columns; j += 8)
      for (int k = 0; k < 8; ++k) partialSum[k] += o[j + k];
    float sum = 0;
    for (int k = 0; k < 8; ++k) sum += partialSum[k];
    for (; j < columns; ++j) sum += o[j];
    const float inverse = 1.0f / sum;
    for (size_t i = 0; i < columns; ++i) o[i] *= inverse;
  }
}

// Sum of a row of n floats with eight partial sums, so that the loop vectorises without the compiler reassociating.
__attribute__((always_inline)) inline float rowSum(const float* x, size_t n) {
  float partial[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  size_t j = 0;
  for (; j + 8 <= n; j += 8)
    for (int k = 0; k < 8; ++k) partial[k] += x[j + k];
  float sum = 0;
  for (int k = 0; k < 8; ++k) sum += partial[k];
  for (; j < n; ++j) sum += x[j];
  return sum;
}

// Σ (x − c)² over a row of n floats, with the same eight partial sums.
__attribute__((always_inline)) inline float rowSquaredDeviation(const float* x, float c, size_t n) {
  float partial[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  size_t j = 0;
  for (; j + 8 <= n; j += 8)
    for (int k = 0; k < 8; ++k) partial[k] += (x[j + k] - c) * (x[j + k] - c);
  float sum = 0;
  for (int k = 0; k < 8; ++k) sum += partial[k];
  for (; j < n; ++j) sum += (x[j] - c) * (x[j] - c);
  return sum;
}

// A row's centre (its mean for LayerNorm, 0 for RMSNorm) and 1/√(E[(x − centre)²] + eps), as MLX's composed
// layer_norm and rms_norm compute them (two passes: the mean first, then the squared deviations from it).
struct RowScale {
  float centre, inverse;
};
__attribute__((always_inline)) inline RowScale rowScale(const float* in, size_t columns, bool centred, float eps) {
  const float n = static_cast<float>(columns);
  const float centre = centred ? rowSum(in, columns) / n : 0.0f;
  return {centre, 1.0f / std::sqrt(rowSquaredDeviation(in, centre, columns) / n + eps)};
}

// x̂ = (x − centre)·inverse per row of `columns` values: the parameter-free part of LayerNorm (centred) and RMSNorm.
DG_WIDEST_VECTORS void normalizedRowsKernel(const float* __restrict x, float* __restrict out, size_t rows,
                                            size_t columns, bool centred, float eps) {
  for (size_t r = 0; r < rows; ++r) {
    const float* in = x + r * columns;
    float* o = out + r * columns;
    const RowScale s = rowScale(in, columns, centred, eps);
    for (size_t i = 0; i < columns; ++i) o[i] = (in[i] - s.centre) * s.inverse;
  }
}

// The cotangent of x given g for x̂ above, per row (n columns, means over the row):
//   centred:   inverse · (g − mean(g) − x̂ · mean(g ⊙ x̂))
//   uncentred: inverse · (g − x̂ · mean(g ⊙ x̂))
// The row statistics are recomputed from x rather than saved: one more pass over the row, no extra outputs.
DG_WIDEST_VECTORS void normalizedRowsGradientKernel(const float* __restrict x, const float* __restrict g,
                                                    float* __restrict out, size_t rows, size_t columns, bool centred,
                                                    float eps) {
  const float n = static_cast<float>(columns);
  for (size_t r = 0; r < rows; ++r) {
    const float* in = x + r * columns;
    const float* gr = g + r * columns;
    float* o = out + r * columns;
    const RowScale s = rowScale(in, columns, centred, eps);
    // o holds x̂ ⊙ g for a moment, for its sum.
    for (size_t i = 0; i < columns; ++i) o[i] = (in[i] - s.centre) * s.inverse * gr[i];
    const float meanGX = rowSum(o, columns) / n;
    const float meanG = centred ? rowSum(gr, columns) / n : 0.0f;
    for (size_t i = 0; i < columns; ++i) {
      const float xhat = (in[i] - s.centre) * s.inverse;
      o[i] = s.inverse * (gr[i] - meanG - xhat * meanGX);
    }
  }
}

// Rotary embedding of x [B, L, H, D] with tables [Bt, L, D] (Bt = 1: shared by the batch, or B), every head of a
// position with the same table row: y = x·cos + rotate(x)·sin with rotate (x0, x1) → (−x1, x0) per pair (adjacent features when `Interleaved`, else
// the two halves). `Transposed` applies the transpose of that linear map (the gradient): g·cos − rotate(g·sin).
template <bool Interleaved, bool Transposed>
void rotaryRowsKernel(const float* x, const float* cosTable, const float* sinTable, float* out, size_t batches,
                      size_t length, size_t heads, size_t batchTables, size_t d) {
  const size_t half = d / 2;
  for (size_t b = 0; b < batches; ++b)
    for (size_t l = 0; l < length; ++l) {
      const size_t tableOffset = ((batchTables == 1 ? 0 : b) * length + l) * d;
      const float* c = cosTable + tableOffset;
      const float* s = sinTable + tableOffset;
      for (size_t h = 0; h < heads; ++h) {
        const size_t offset = ((b * length + l) * heads + h) * d;
        const float* in = x + offset;
        float* o = out + offset;
        for (size_t i = 0; i < half; ++i) {
          const size_t first = Interleaved ? 2 * i : i, second = Interleaved ? 2 * i + 1 : i + half;
          const float x0 = in[first], x1 = in[second];
          if (Transposed) {
            o[first] = x0 * c[first] + x1 * s[second];
            o[second] = x1 * c[second] - x0 * s[first];
          } else {
            o[first] = x0 * c[first] - x1 * s[first];
            o[second] = x1 * c[second] + x0 * s[second];
          }
        }
      }
    }
}

// Sizes of attention over [B, L, H, D] tensors: one head's rows are D floats apart by H·D.
struct AttentionShape {
  int batches, queries, keys, heads, d;
  int rowStride() const { return heads * d; }
  size_t queryOffset(int b, int h) const { return (static_cast<size_t>(b) * queries * heads + h) * d; }
  size_t keyOffset(int b, int h) const { return (static_cast<size_t>(b) * keys * heads + h) * d; }
  size_t probabilityOffset(int b, int h) const { return (static_cast<size_t>(b) * heads + h) * queries * keys; }
};

// O = softmax(scale·Q Kᵀ + M) V per (batch, head); the probabilities are kept for the backward pass.
void attentionForwardKernel(AttentionShape s, const float* q, const float* k, const float* v, const float* mask, float scale,
                            float* out, float* probabilities) {
  // Scores go to a scratch buffer: the softmax loops vectorise only when input and output do not overlap.
  std::vector<float> scores(static_cast<size_t>(s.queries) * s.keys);
  for (int b = 0; b < s.batches; ++b)
    for (int h = 0; h < s.heads; ++h) {
      float* p = probabilities + s.probabilityOffset(b, h);
      cblas_sgemm(kRowMajor, kNoTrans, kTrans, s.queries, s.keys, s.d, scale, q + s.queryOffset(b, h), s.rowStride(),
                  k + s.keyOffset(b, h), s.rowStride(), 0.0f, scores.data(), s.keys);
      if (mask) {
        const float* m = mask + s.probabilityOffset(b, h);
        for (size_t i = 0; i < scores.size(); ++i) scores[i] += m[i];
      }
      softmaxRowsKernel(scores.data(), p, s.queries, s.keys);
      cblas_sgemm(kRowMajor, kNoTrans, kNoTrans, s.queries, s.d, s.keys, 1.0f, p, s.keys, v + s.keyOffset(b, h),
                  s.rowStride(), 0.0f, out + s.queryOffset(b, h), s.rowStride());
    }
}

// Given P and dO: dV = Pᵀ dO, dP = dO Vᵀ, dS = P ⊙ (dP − rowsum(dP ⊙ P)), dQ = scale·dS K, dK = scale·dSᵀ Q.
void attentionBackwardKernel(AttentionShape s, const float* q, const float* k, const float* v, const float* probabilities,
                             const float* outGradient, float scale, float* dq, float* dk, float* dv) {
  std::vector<float> scores(static_cast<size_t>(s.queries) * s.keys);
  for (int b = 0; b < s.batches; ++b)
    for (int h = 0; h < s.heads; ++h) {
      const float* p = probabilities + s.probabilityOffset(b, h);
      const float* g = outGradient + s.queryOffset(b, h);
      const size_t qo = s.queryOffset(b, h), ko = s.keyOffset(b, h);
      cblas_sgemm(kRowMajor, kTrans, kNoTrans, s.keys, s.d, s.queries, 1.0f, p, s.keys, g, s.rowStride(), 0.0f, dv + ko,
                  s.rowStride());
      float* ds = scores.data();
      cblas_sgemm(kRowMajor, kNoTrans, kTrans, s.queries, s.keys, s.d, 1.0f, g, s.rowStride(), v + ko, s.rowStride(),
                  0.0f, ds, s.keys);
      for (int i = 0; i < s.queries; ++i) {
        float* row = ds + static_cast<size_t>(i) * s.keys;
        const float* pRow = p + static_cast<size_t>(i) * s.keys;
        float dot = 0;
        for (int j = 0; j < s.keys; ++j) dot += row[j] * pRow[j];
        for (int j = 0; j < s.keys; ++j) row[j] = pRow[j] * (row[j] - dot);
      }
      cblas_sgemm(kRowMajor, kNoTrans, kNoTrans, s.queries, s.d, s.keys, scale, ds, s.keys, k + ko, s.rowStride(), 0.0f,
                  dq + qo, s.rowStride());
      cblas_sgemm(kRowMajor, kTrans, kNoTrans, s.keys, s.d, s.queries, scale, ds, s.keys, q + qo, s.rowStride(), 0.0f,
                  dk + ko, s.rowStride());
    }
}

mx::array rowContiguousFloat(const mx::array& a) {
  return mx::contiguous(mx::astype(a, mx::float32));
}

// Allocates the outputs and queues `makeKernel(outputPointers)` on the stream's CPU encoder, after the work that
// produces the inputs (their buffers exist already; their values are written by earlier tasks on the same stream).
template <typename MakeKernel>
void dispatchOutputs(mx::Stream stream, const std::vector<mx::array>& inputs, std::vector<mx::array>& outputs,
                     MakeKernel makeKernel) {
  for (const auto& in : inputs) {
    if (!in.flags().row_contiguous || in.data_size() != in.size()) {
      throw std::runtime_error("fused kernel: input is not row-contiguous");
    }
  }
  std::vector<float*> pointers;
  for (auto& out : outputs) {
    out.set_data(mx::allocator::malloc(out.nbytes()));
    pointers.push_back(out.data<float>());
  }
  auto& encoder = mx::cpu::get_command_encoder(stream);
  for (const auto& in : inputs) encoder.set_input_array(in);
  for (auto& out : outputs) encoder.set_output_array(out);
  encoder.dispatch(makeKernel(pointers));
}

template <typename MakeKernel>
void dispatch(mx::Stream stream, const std::vector<mx::array>& inputs, mx::array& out, MakeKernel makeKernel) {
  std::vector<mx::array> outputs{out};  // shares `out`'s data
  dispatchOutputs(stream, inputs, outputs, [&](const std::vector<float*>& pointers) { return makeKernel(pointers[0]); });
}

// What the fused primitives share: they run on the CPU only, keep their first input's shape, and carry no
// parameters, so any two of one kind are equivalent.
class CpuShapePreserving : public mx::UnaryPrimitive {
 public:
  explicit CpuShapePreserving(mx::Stream stream) : mx::UnaryPrimitive(stream) {}

  void eval_gpu(const std::vector<mx::array>&, mx::array&) override {
    throw std::runtime_error(std::string(name()) + " runs on the CPU only");
  }
  bool is_equivalent(const mx::Primitive&) const override { return true; }
  std::vector<mx::Shape> output_shapes(const std::vector<mx::array>& inputs) override { return {inputs[0].shape()}; }
};

template <typename Math>
mx::array pointwise(const mx::array& x);

// g · f'(x) for the activation `Math`.
template <typename Math>
class PointwiseGradient : public CpuShapePreserving {
 public:
  explicit PointwiseGradient(mx::Stream stream) : CpuShapePreserving(stream) {}

  void eval_cpu(const std::vector<mx::array>& inputs, mx::array& out) override {
    const float* x = inputs[0].data<float>();
    const float* g = inputs[1].data<float>();
    size_t n = out.size();
    dispatch(stream(), inputs, out, [x, g, n](float* o) { return [x, g, o, n]() { gradientKernel<Math>(x, g, o, n); }; });
  }
  const char* name() const override { return "PointwiseGradient"; }
};

// f(x) for the activation `Math`, one node forward and one backward.
template <typename Math>
class Pointwise : public CpuShapePreserving {
 public:
  explicit Pointwise(mx::Stream stream) : CpuShapePreserving(stream) {}

  void eval_cpu(const std::vector<mx::array>& inputs, mx::array& out) override {
    const float* x = inputs[0].data<float>();
    size_t n = out.size();
    dispatch(stream(), inputs, out, [x, n](float* o) { return [x, o, n]() { valueKernel<Math>(x, o, n); }; });
  }
  std::vector<mx::array> vjp(const std::vector<mx::array>& primals, const std::vector<mx::array>& cotangents,
                             const std::vector<int>&, const std::vector<mx::array>&) override {
    return {gradient(primals[0], cotangents[0])};
  }
  std::vector<mx::array> jvp(const std::vector<mx::array>& primals, const std::vector<mx::array>& tangents,
                             const std::vector<int>&) override {
    return {gradient(primals[0], tangents[0])};
  }
  std::pair<std::vector<mx::array>, std::vector<int>> vmap(const std::vector<mx::array>& inputs,
                                                           const std::vector<int>& axes) override {
    return {{pointwise<Math>(inputs[0])}, axes};
  }
  const char* name() const override { return Math::name; }

 private:
  mx::array gradient(const mx::array& x, const mx::array& g) {
    auto gradient = rowContiguousFloat(mx::broadcast_to(g, x.shape()));
    return mx::array(x.shape(), mx::float32, std::make_shared<PointwiseGradient<Math>>(stream()), {x, gradient});
  }
};

template <typename Math>
mx::array pointwise(const mx::array& x) {
  if (!takesFusedPath(x)) return Math::composed(x);
  auto input = rowContiguousFloat(x);
  auto stream = mx::default_stream(mx::Device::cpu);
  return mx::array(input.shape(), mx::float32, std::make_shared<Pointwise<Math>>(stream), {input});
}

class SoftmaxLastAxis : public CpuShapePreserving {
 public:
  explicit SoftmaxLastAxis(mx::Stream stream) : CpuShapePreserving(stream) {}

  void eval_cpu(const std::vector<mx::array>& inputs, mx::array& out) override {
    const float* x = inputs[0].data<float>();
    const size_t columns = inputs[0].ndim() == 0 ? 1 : inputs[0].shape(-1);
    const size_t rows = columns == 0 ? 0 : out.size() / columns;
    dispatch(stream(), inputs, out,
             [x, rows, columns](float* o) { return [x, o, rows, columns]() { softmaxRowsKernel(x, o, rows, columns); }; });
  }
  // y = softmax(x): the cotangent of x is y ⊙ (g − Σ_last g ⊙ y); the tangent has the same form.
  std::vector<mx::array> vjp(const std::vector<mx::array>&, const std::vector<mx::array>& cotangents,
                             const std::vector<int>&, const std::vector<mx::array>& outputs) override {
    return {throughSoftmax(outputs[0], cotangents[0])};
  }
  std::vector<mx::array> jvp(const std::vector<mx::array>& primals, const std::vector<mx::array>& tangents,
                             const std::vector<int>&) override {
    return {throughSoftmax(softmaxLastAxis(primals[0]), tangents[0])};
  }
  const char* name() const override { return "SoftmaxLastAxis"; }

 private:
  static mx::array throughSoftmax(const mx::array& y, const mx::array& g) {
    auto gy = mx::multiply(g, y);
    return mx::subtract(gy, mx::multiply(y, mx::sum(gy, -1, true)));
  }
};

// Rotary embedding from tables for x [B, L, H, D] (heads after the sequence, as projections produce them), tables
// [L, D] or [B, L, D]; its gradient is the same kernel with the map transposed. The tables are constants: they get no
// gradient.
class RotaryTables : public CpuShapePreserving {
 public:
  RotaryTables(mx::Stream stream, bool interleaved, bool transposed)
      : CpuShapePreserving(stream), interleaved_(interleaved), transposed_(transposed) {}

  void eval_cpu(const std::vector<mx::array>& inputs, mx::array& out) override {
    const float* x = inputs[0].data<float>();
    const float* c = inputs[1].data<float>();
    const float* s = inputs[2].data<float>();
    const size_t batches = inputs[0].shape(0), length = inputs[0].shape(1), heads = inputs[0].shape(2),
                 d = inputs[0].shape(3), batchTables = inputs[1].ndim() == 3 ? inputs[1].shape(0) : 1;
    auto* kernel = interleaved_ ? (transposed_ ? rotaryRowsKernel<true, true> : rotaryRowsKernel<true, false>)
                                : (transposed_ ? rotaryRowsKernel<false, true> : rotaryRowsKernel<false, false>);
    dispatch(stream(), inputs, out, [=](float* o) {
      return [=]() { kernel(x, c, s, o, batches, length, heads, batchTables, d); };
    });
  }
  std::vector<mx::array> vjp(const std::vector<mx::array>& primals, const std::vector<mx::array>& cotangents,
                             const std::vector<int>& argnums, const std::vector<mx::array>&) override {
    std::vector<mx::array> gradients;
    for (int argument : argnums) {
      if (argument != 0) throw std::runtime_error("rotary embedding: the cos/sin tables have no gradient");
      auto g = rowContiguousFloat(mx::broadcast_to(cotangents[0], primals[0].shape()));
      gradients.push_back(mx::array(g.shape(), mx::float32,
                                    std::make_shared<RotaryTables>(stream(), interleaved_, !transposed_),
                                    {g, primals[1], primals[2]}));
    }
    return gradients;
  }
  bool is_equivalent(const mx::Primitive& other) const override {
    const auto& o = static_cast<const RotaryTables&>(other);
    return o.interleaved_ == interleaved_ && o.transposed_ == transposed_;
  }
  const char* name() const override { return "RotaryTables"; }

 private:
  bool interleaved_, transposed_;
};

AttentionShape attentionShape(const mx::array& q, const mx::array& k) {
  return {q.shape(0), q.shape(1), k.shape(1), q.shape(2), q.shape(3)};
}

// The CPU-only primitives below have no GPU kernel.
class CpuOnly : public mx::Primitive {
 public:
  explicit CpuOnly(mx::Stream stream) : mx::Primitive(stream) {}
  void eval_gpu(const std::vector<mx::array>&, std::vector<mx::array>&) override {
    throw std::runtime_error(std::string(name()) + " runs on the CPU only");
  }
};

// dQ, dK, dV of `SequenceMajorAttention` from its inputs, its probabilities and the output's cotangent.
class SequenceMajorAttentionGradient : public CpuOnly {
 public:
  SequenceMajorAttentionGradient(mx::Stream stream, float scale) : CpuOnly(stream), scale_(scale) {}

  void eval_cpu(const std::vector<mx::array>& inputs, std::vector<mx::array>& outputs) override {
    const float *q = inputs[0].data<float>(), *k = inputs[1].data<float>(), *v = inputs[2].data<float>(),
                *p = inputs[3].data<float>(), *g = inputs[4].data<float>();
    const auto shape = attentionShape(inputs[0], inputs[1]);
    const float scale = scale_;
    dispatchOutputs(stream(), inputs, outputs, [=](const std::vector<float*>& o) {
      float *dq = o[0], *dk = o[1], *dv = o[2];
      return [=]() { attentionBackwardKernel(shape, q, k, v, p, g, scale, dq, dk, dv); };
    });
  }
  std::vector<mx::Shape> output_shapes(const std::vector<mx::array>& inputs) override {
    return {inputs[0].shape(), inputs[1].shape(), inputs[2].shape()};
  }
  bool is_equivalent(const mx::Primitive& other) const override {
    return static_cast<const SequenceMajorAttentionGradient&>(other).scale_ == scale_;
  }
  const char* name() const override { return "SequenceMajorAttentionGradient"; }

 private:
  float scale_;
};

// softmax(scale·Q Kᵀ + M) V for Q [B, Lq, H, D], K and V [B, Lk, H, D], M (optional, additive) [B, H, Lq, Lk]:
// outputs O [B, Lq, H, D] and the probabilities [B, H, Lq, Lk], which only its gradient reads.
class SequenceMajorAttention : public CpuOnly {
 public:
  SequenceMajorAttention(mx::Stream stream, float scale) : CpuOnly(stream), scale_(scale) {}

  void eval_cpu(const std::vector<mx::array>& inputs, std::vector<mx::array>& outputs) override {
    const float *q = inputs[0].data<float>(), *k = inputs[1].data<float>(), *v = inputs[2].data<float>();
    const float* mask = inputs.size() > 3 ? inputs[3].data<float>() : nullptr;
    const auto shape = attentionShape(inputs[0], inputs[1]);
    const float scale = scale_;
    dispatchOutputs(stream(), inputs, outputs, [=](const std::vector<float*>& o) {
      float *out = o[0], *probabilities = o[1];
      return [=]() { attentionForwardKernel(shape, q, k, v, mask, scale, out, probabilities); };
    });
  }
  std::vector<mx::array> vjp(const std::vector<mx::array>& primals, const std::vector<mx::array>& cotangents,
                             const std::vector<int>& argnums, const std::vector<mx::array>& outputs) override {
    // cotangents[1] (the probabilities') is zero: nothing outside the backward pass reads them.
    auto g = rowContiguousFloat(mx::broadcast_to(cotangents[0], primals[0].shape()));
    auto gradients = mx::array::make_arrays(
        {primals[0].shape(), primals[1].shape(), primals[2].shape()}, {mx::float32, mx::float32, mx::float32},
        std::make_shared<SequenceMajorAttentionGradient>(stream(), scale_),
        {primals[0], primals[1], primals[2], outputs[1], g});
    std::vector<mx::array> selected;
    for (int argument : argnums) {
      if (argument > 2) throw std::runtime_error("attention: the additive mask has no gradient");
      selected.push_back(gradients[argument]);
    }
    return selected;
  }
  std::vector<mx::Shape> output_shapes(const std::vector<mx::array>& inputs) override {
    return {inputs[0].shape(), {inputs[0].shape(0), inputs[0].shape(2), inputs[0].shape(1), inputs[1].shape(1)}};
  }
  bool is_equivalent(const mx::Primitive& other) const override {
    return static_cast<const SequenceMajorAttention&>(other).scale_ == scale_;
  }
  const char* name() const override { return "SequenceMajorAttention"; }

 private:
  float scale_;
};

// x̂ = (x − centre) / √(E[(x − centre)²] + eps) over the last axis (centre = the row mean when `centred`, else 0):
// the parameter-free core of LayerNorm and RMSNorm, one node forward and one backward. MLX's CPU back end has no
// kernel for either norm and composes them from about eight ops forward and twenty backward.
class NormalizedRowsGradient : public CpuShapePreserving {
 public:
  NormalizedRowsGradient(mx::Stream stream, bool centred, float eps)
      : CpuShapePreserving(stream), centred_(centred), eps_(eps) {}

  void eval_cpu(const std::vector<mx::array>& inputs, mx::array& out) override {
    const float* x = inputs[0].data<float>();
    const float* g = inputs[1].data<float>();
    const size_t columns = inputs[0].shape(-1), rows = out.size() / columns;
    const bool centred = centred_;
    const float eps = eps_;
    dispatch(stream(), inputs, out, [=](float* o) {
      return [=]() { normalizedRowsGradientKernel(x, g, o, rows, columns, centred, eps); };
    });
  }
  bool is_equivalent(const mx::Primitive& other) const override {
    const auto& o = static_cast<const NormalizedRowsGradient&>(other);
    return o.centred_ == centred_ && o.eps_ == eps_;
  }
  const char* name() const override { return "NormalizedRowsGradient"; }

 private:
  bool centred_;
  float eps_;
};

class NormalizedRows : public CpuShapePreserving {
 public:
  NormalizedRows(mx::Stream stream, bool centred, float eps) : CpuShapePreserving(stream), centred_(centred), eps_(eps) {}

  void eval_cpu(const std::vector<mx::array>& inputs, mx::array& out) override {
    const float* x = inputs[0].data<float>();
    const size_t columns = inputs[0].shape(-1), rows = out.size() / columns;
    const bool centred = centred_;
    const float eps = eps_;
    dispatch(stream(), inputs, out,
             [=](float* o) { return [=]() { normalizedRowsKernel(x, o, rows, columns, centred, eps); }; });
  }
  std::vector<mx::array> vjp(const std::vector<mx::array>& primals, const std::vector<mx::array>& cotangents,
                             const std::vector<int>&, const std::vector<mx::array>&) override {
    auto g = rowContiguousFloat(mx::broadcast_to(cotangents[0], primals[0].shape()));
    return {mx::array(primals[0].shape(), mx::float32,
                      std::make_shared<NormalizedRowsGradient>(stream(), centred_, eps_), {primals[0], g})};
  }
  bool is_equivalent(const mx::Primitive& other) const override {
    const auto& o = static_cast<const NormalizedRows&>(other);
    return o.centred_ == centred_ && o.eps_ == eps_;
  }
  const char* name() const override { return "NormalizedRows"; }

 private:
  bool centred_;
  float eps_;
};

}  // namespace

bool takesFusedPath(const mx::array& x) {
  return x.dtype() == mx::float32 && mx::default_device() == mx::Device::cpu;
}

mx::array geluTanh(const mx::array& x) { return pointwise<GeluTanhMath>(x); }

mx::array layerNorm(const mx::array& x, const std::optional<mx::array>& weight, const std::optional<mx::array>& bias,
                    float eps, bool centred) {
  const bool fused = takesFusedPath(x) && x.ndim() > 0 && x.shape(-1) > 0 &&
                     (!weight || weight->dtype() == mx::float32) && (!bias || bias->dtype() == mx::float32);
  if (!fused) return centred ? mx::fast::layer_norm(x, weight, bias, eps) : mx::fast::rms_norm(x, weight, eps);
  auto input = rowContiguousFloat(x);
  auto stream = mx::default_stream(mx::Device::cpu);
  auto y = mx::array(input.shape(), mx::float32, std::make_shared<NormalizedRows>(stream, centred, eps), {input});
  if (weight) y = mx::multiply(y, *weight);
  if (bias) y = mx::add(y, *bias);
  return y;
}
mx::array silu(const mx::array& x) { return pointwise<SiluMath>(x); }
mx::array geluErf(const mx::array& x) { return pointwise<GeluErfMath>(x); }
mx::array quickGelu(const mx::array& x) { return pointwise<QuickGeluMath>(x); }

mx::array softmaxLastAxis(const mx::array& x) {
  if (!takesFusedPath(x) || x.ndim() == 0) return mx::softmax(x, -1, true);
  auto input = rowContiguousFloat(x);
  auto stream = mx::default_stream(mx::Device::cpu);
  return mx::array(input.shape(), mx::float32, std::make_shared<SoftmaxLastAxis>(stream), {input});
}

mx::array scaledDotProductAttention(const mx::array& q, const mx::array& k, const mx::array& v, float scale,
                                    const std::string& maskMode, const std::optional<mx::array>& mask) {
  const bool additiveMask = maskMode == "array" && mask && mask->dtype() == mx::float32;
  const bool fused = takesFusedPath(q) && k.dtype() == mx::float32 && v.dtype() == mx::float32 && q.ndim() == 4 &&
                     k.ndim() == 4 && q.shape(1) == k.shape(1) && (maskMode.empty() || additiveMask);
  if (!fused) return mx::fast::scaled_dot_product_attention(q, k, v, scale, maskMode, mask);
  auto scores = mx::matmul(mx::multiply(q, mx::array(scale, mx::float32)), mx::swapaxes(k, -1, -2));
  if (additiveMask) scores = mx::add(scores, *mask);
  return mx::matmul(softmaxLastAxis(scores), v);
}

mx::array rotaryTables(const mx::array& x, const mx::array& cos, const mx::array& sin, bool interleaved) {
  if (x.ndim() != 4 || (cos.ndim() != 2 && cos.ndim() != 3) || cos.shape() != sin.shape() || cos.shape(-1) != x.shape(3) ||
      cos.shape(-2) != x.shape(1) || (cos.ndim() == 3 && cos.shape(0) != 1 && cos.shape(0) != x.shape(0)) ||
      x.shape(3) % 2 != 0) {
    throw std::invalid_argument("rotary embedding: tables do not fit [B, L, H, D] queries/keys (expected [L, D] or [B, L, D])");
  }
  if (takesFusedPath(x) && cos.dtype() == mx::float32 && sin.dtype() == mx::float32) {
    auto input = rowContiguousFloat(x);
    auto stream = mx::default_stream(mx::Device::cpu);
    return mx::array(input.shape(), mx::float32, std::make_shared<RotaryTables>(stream, interleaved, false),
                     {input, mx::contiguous(mx::stop_gradient(cos)), mx::contiguous(mx::stop_gradient(sin))});
  }
  // Composed: the tables broadcast over the head axis.
  auto tableShape = [&](const mx::array& t) {
    return t.ndim() == 2 ? mx::reshape(t, {1, t.shape(0), 1, t.shape(1)}) : mx::expand_dims(t, 2);
  };
  auto xf = mx::astype(x, mx::float32);
  const int d = x.shape(3);
  mx::array rotated = xf;
  if (interleaved) {
    auto pairs = mx::split(mx::reshape(xf, {x.shape(0), x.shape(1), x.shape(2), d / 2, 2}), 2, -1);
    rotated = mx::reshape(mx::concatenate({mx::negative(pairs[1]), pairs[0]}, -1), x.shape());
  } else {
    auto halves = mx::split(xf, 2, -1);
    rotated = mx::concatenate({mx::negative(halves[1]), halves[0]}, -1);
  }
  auto y = mx::add(mx::multiply(xf, tableShape(mx::astype(cos, mx::float32))),
                   mx::multiply(rotated, tableShape(mx::astype(sin, mx::float32))));
  return mx::astype(y, x.dtype());
}

mx::array sequenceMajorAttention(const mx::array& q, const mx::array& k, const mx::array& v, float scale,
                                 const std::string& maskMode, const std::optional<mx::array>& mask) {
  if (q.ndim() != 4 || k.ndim() != 4 || v.ndim() != 4) {
    throw std::invalid_argument("attention: expected [B, L, H, D] queries, keys and values");
  }
  const bool additiveMask = maskMode == "array" && mask && mask->dtype() == mx::float32;
  const bool fused = takesFusedPath(q) && k.dtype() == mx::float32 && v.dtype() == mx::float32 &&
                     k.shape(2) == q.shape(2) && v.shape(2) == q.shape(2) && k.shape(0) == q.shape(0) &&
                     v.shape(0) == q.shape(0) && k.shape(3) == q.shape(3) && v.shape(3) == q.shape(3) &&
                     v.shape(1) == k.shape(1) && (maskMode.empty() || additiveMask);
  if (!fused) {
    auto out = scaledDotProductAttention(mx::swapaxes(q, 1, 2), mx::swapaxes(k, 1, 2), mx::swapaxes(v, 1, 2), scale,
                                         maskMode, mask);
    return mx::swapaxes(out, 1, 2);
  }
  std::vector<mx::array> inputs{mx::contiguous(q), mx::contiguous(k), mx::contiguous(v)};
  const int b = q.shape(0), lq = q.shape(1), h = q.shape(2), lk = k.shape(1);
  if (additiveMask) inputs.push_back(mx::contiguous(mx::broadcast_to(mx::stop_gradient(*mask), {b, h, lq, lk})));
  auto stream = mx::default_stream(mx::Device::cpu);
  auto outputs = mx::array::make_arrays({q.shape(), {b, h, lq, lk}}, {mx::float32, mx::float32},
                                        std::make_shared<SequenceMajorAttention>(stream, scale), inputs);
  return outputs[0];
}

}  // namespace dg::fused
