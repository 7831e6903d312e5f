#include "FusedKernels.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <stdexcept>

#include "mlx/backend/cpu/encoder.h"
#include "mlx/primitives.h"

namespace dg::fused {
namespace {

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

template <typename Math>
void valueKernel(const float* x, float* out, size_t n) {
  for (size_t i = 0; i < n; ++i) out[i] = Math::value(x[i]);
}

template <typename Math>
void gradientKernel(const float* x, const float* g, float* out, size_t n) {
  for (size_t i = 0; i < n; ++i) out[i] = g[i] * Math::derivative(x[i]);
}

// Each row of `columns` values: subtract its maximum, exponentiate, divide by the sum. Maximum and sum keep eight
// partial results so that the loops vectorise without reassociating float arithmetic behind the compiler's back.
void softmaxRowsKernel(const float* x, float* out, size_t rows, size_t columns) {
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

mx::array rowContiguousFloat(const mx::array& a) {
  return mx::contiguous(mx::astype(a, mx::float32));
}

// Allocates `out` and queues `makeKernel(outputPointer)` on the stream's CPU encoder, after the work that produces
// the inputs (their buffers exist already; their values are written by earlier tasks on the same stream).
template <typename MakeKernel>
void dispatch(mx::Stream stream, const std::vector<mx::array>& inputs, mx::array& out, MakeKernel makeKernel) {
  for (const auto& in : inputs) {
    if (!in.flags().row_contiguous || in.data_size() != in.size()) {
      throw std::runtime_error("fused kernel: input is not row-contiguous");
    }
  }
  out.set_data(mx::allocator::malloc(out.nbytes()));
  auto& encoder = mx::cpu::get_command_encoder(stream);
  for (const auto& in : inputs) encoder.set_input_array(in);
  encoder.set_output_array(out);
  encoder.dispatch(makeKernel(out.data<float>()));
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

}  // namespace

bool takesFusedPath(const mx::array& x) {
  return x.dtype() == mx::float32 && mx::default_device() == mx::Device::cpu;
}

mx::array geluTanh(const mx::array& x) { return pointwise<GeluTanhMath>(x); }
mx::array silu(const mx::array& x) { return pointwise<SiluMath>(x); }

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

}  // namespace dg::fused
