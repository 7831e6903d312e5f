// Exception-safe wrappers over MLX's C++ API; see CMLXShim.h for why this layer exists.
#include "CMLXShim.h"
#include "FusedKernels.h"

#include <dlfcn.h>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <sstream>

namespace dg {
namespace {
thread_local std::string errorMessage;

void setError(const char* op, const std::exception& e) {
  errorMessage = std::string(op) + ": " + e.what();
}

Array placeholder() { return mx::array(0.0f); }

mx::Shape shapeOf(const int32_t* p, int32_t n) { return mx::Shape(p, p + n); }
std::vector<int> ints(const int32_t* p, int32_t n) { return std::vector<int>(p, p + n); }

mx::Dtype toMx(DTypeCode t) {
  switch (t) {
    case DTypeCode::Bool: return mx::bool_;
    case DTypeCode::UInt8: return mx::uint8;
    case DTypeCode::UInt16: return mx::uint16;
    case DTypeCode::UInt32: return mx::uint32;
    case DTypeCode::UInt64: return mx::uint64;
    case DTypeCode::Int8: return mx::int8;
    case DTypeCode::Int16: return mx::int16;
    case DTypeCode::Int32: return mx::int32;
    case DTypeCode::Int64: return mx::int64;
    case DTypeCode::Float16: return mx::float16;
    case DTypeCode::Float32: return mx::float32;
    case DTypeCode::Float64: return mx::float64;
    case DTypeCode::BFloat16: return mx::bfloat16;
    case DTypeCode::Complex64: return mx::complex64;
  }
  return mx::float32;
}

DTypeCode fromMx(mx::Dtype t) {
  switch (t.val()) {
    case mx::Dtype::Val::bool_: return DTypeCode::Bool;
    case mx::Dtype::Val::uint8: return DTypeCode::UInt8;
    case mx::Dtype::Val::uint16: return DTypeCode::UInt16;
    case mx::Dtype::Val::uint32: return DTypeCode::UInt32;
    case mx::Dtype::Val::uint64: return DTypeCode::UInt64;
    case mx::Dtype::Val::int8: return DTypeCode::Int8;
    case mx::Dtype::Val::int16: return DTypeCode::Int16;
    case mx::Dtype::Val::int32: return DTypeCode::Int32;
    case mx::Dtype::Val::int64: return DTypeCode::Int64;
    case mx::Dtype::Val::float16: return DTypeCode::Float16;
    case mx::Dtype::Val::float32: return DTypeCode::Float32;
    case mx::Dtype::Val::float64: return DTypeCode::Float64;
    case mx::Dtype::Val::bfloat16: return DTypeCode::BFloat16;
    case mx::Dtype::Val::complex64: return DTypeCode::Complex64;
  }
  return DTypeCode::Float32;
}

std::vector<int> axesOrAll(const Array& a, const int32_t* axes, int32_t naxes) {
  if (naxes > 0) return ints(axes, naxes);
  std::vector<int> all(a.ndim());
  for (int i = 0; i < a.ndim(); ++i) all[i] = i;
  return all;
}
}  // namespace

#define DG_TRY(op, ...)                 \
  try {                                 \
    errorMessage.clear();               \
    __VA_ARGS__;                        \
  } catch (const std::exception& e) {   \
    setError(op, e);                    \
  }

const char* lastError() { return errorMessage.empty() ? nullptr : errorMessage.c_str(); }
void clearError() { errorMessage.clear(); }

DTypeCode dtypeOf(const Array& a) { return fromMx(a.dtype()); }
int32_t dtypeSize(DTypeCode t) { return static_cast<int32_t>(toMx(t).size()); }

ArrayVector vectorNew() { return {}; }
void vectorPush(ArrayVector& v, const Array& a) { v.push_back(a); }
size_t vectorSize(const ArrayVector& v) { return v.size(); }
Array vectorAt(const ArrayVector& v, size_t i) { return v.at(i); }

Array fromBytes(const void* data, const int32_t* shape, int32_t ndim, DTypeCode dtype) {
  DG_TRY("array", {
    auto s = shapeOf(shape, ndim);
    auto dt = toMx(dtype);
    size_t count = 1;
    for (auto d : s) count *= static_cast<size_t>(d);
    // MLX owns a copy: the caller's buffer may go away right after this returns.
    size_t bytes = count * dt.size();
    void* copy = std::malloc(bytes > 0 ? bytes : 1);
    if (!copy) throw std::bad_alloc();
    if (bytes > 0) std::memcpy(copy, data, bytes);
    return mx::array(copy, s, dt, [](void* p) { std::free(p); });
  });
  return placeholder();
}

Array scalarFloat(double value, DTypeCode dtype) {
  DG_TRY("scalar", return mx::astype(mx::array(static_cast<float>(value)), toMx(dtype)));
  return placeholder();
}
Array scalarInt(int64_t value, DTypeCode dtype) {
  DG_TRY("scalar", {
    if (dtype == DTypeCode::Int64) return mx::array(value, mx::int64);
    return mx::astype(mx::array(static_cast<int64_t>(value), mx::int64), toMx(dtype));
  });
  return placeholder();
}
Array full(const int32_t* shape, int32_t ndim, const Array& value, DTypeCode dtype) {
  DG_TRY("full", return mx::full(shapeOf(shape, ndim), value, toMx(dtype)));
  return placeholder();
}
Array arange(double start, double stop, double step, DTypeCode dtype) {
  DG_TRY("arange", return mx::arange(start, stop, step, toMx(dtype)));
  return placeholder();
}
Array linspace(double start, double stop, int32_t num, DTypeCode dtype) {
  DG_TRY("linspace", return mx::linspace(start, stop, num, toMx(dtype)));
  return placeholder();
}
Array eye(int32_t n, DTypeCode dtype) {
  DG_TRY("eye", return mx::eye(n, toMx(dtype)));
  return placeholder();
}
Array tri(int32_t n, int32_t m, int32_t k, DTypeCode dtype) {
  DG_TRY("tri", return mx::tri(n, m, k, toMx(dtype)));
  return placeholder();
}

int32_t ndim(const Array& a) { return static_cast<int32_t>(a.ndim()); }
int32_t dim(const Array& a, int32_t axis) { return a.shape(axis); }
size_t size(const Array& a) { return a.size(); }
size_t nbytes(const Array& a) { return a.nbytes(); }
uintptr_t identity(const Array& a) { return a.id(); }

bool copyOut(const Array& a, DTypeCode dtype, void* out, size_t capacity) {
  DG_TRY("copyOut", {
    auto c = mx::contiguous(mx::astype(a, toMx(dtype)), false);
    c.eval();
    if (c.nbytes() > capacity) throw std::invalid_argument("destination buffer too small");
    if (c.nbytes() > 0) std::memcpy(out, c.data<void>(), c.nbytes());
    return true;
  });
  return false;
}

Array unary(UnaryOp op, const Array& a) {
  DG_TRY("unary", {
    switch (op) {
      case UnaryOp::Negative: return mx::negative(a);
      case UnaryOp::Abs: return mx::abs(a);
      case UnaryOp::Sign: return mx::sign(a);
      case UnaryOp::Exp: return mx::exp(a);
      case UnaryOp::Expm1: return mx::expm1(a);
      case UnaryOp::Log: return mx::log(a);
      case UnaryOp::Log1p: return mx::log1p(a);
      case UnaryOp::Log2: return mx::log2(a);
      case UnaryOp::Log10: return mx::log10(a);
      case UnaryOp::Sqrt: return mx::sqrt(a);
      case UnaryOp::Rsqrt: return mx::rsqrt(a);
      case UnaryOp::Square: return mx::square(a);
      case UnaryOp::Reciprocal: return mx::reciprocal(a);
      case UnaryOp::Sin: return mx::sin(a);
      case UnaryOp::Cos: return mx::cos(a);
      case UnaryOp::Tan: return mx::tan(a);
      case UnaryOp::Tanh: return mx::tanh(a);
      case UnaryOp::Arcsin: return mx::arcsin(a);
      case UnaryOp::Arccos: return mx::arccos(a);
      case UnaryOp::Arctan: return mx::arctan(a);
      case UnaryOp::Sinh: return mx::sinh(a);
      case UnaryOp::Cosh: return mx::cosh(a);
      case UnaryOp::Sigmoid: return mx::sigmoid(a);
      case UnaryOp::Erf: return mx::erf(a);
      case UnaryOp::Erfinv: return mx::erfinv(a);
      case UnaryOp::Floor: return mx::floor(a);
      case UnaryOp::Ceil: return mx::ceil(a);
      case UnaryOp::Round: return mx::round(a);
      case UnaryOp::LogicalNot: return mx::logical_not(a);
      case UnaryOp::IsNan: return mx::isnan(a);
      case UnaryOp::IsInf: return mx::isinf(a);
      case UnaryOp::IsFinite: return mx::isfinite(a);
      case UnaryOp::StopGradient: return mx::stop_gradient(a);
      case UnaryOp::Copy: return mx::copy(a);
    }
    throw std::invalid_argument("unknown unary op");
  });
  return placeholder();
}

Array binary(BinaryOp op, const Array& a, const Array& b) {
  DG_TRY("binary", {
    switch (op) {
      case BinaryOp::Add: return mx::add(a, b);
      case BinaryOp::Subtract: return mx::subtract(a, b);
      case BinaryOp::Multiply: return mx::multiply(a, b);
      case BinaryOp::Divide: return mx::divide(a, b);
      case BinaryOp::Power: return mx::power(a, b);
      case BinaryOp::Maximum: return mx::maximum(a, b);
      case BinaryOp::Minimum: return mx::minimum(a, b);
      case BinaryOp::Remainder: return mx::remainder(a, b);
      case BinaryOp::FloorDivide: return mx::floor_divide(a, b);
      case BinaryOp::Arctan2: return mx::arctan2(a, b);
      case BinaryOp::LogAddExp: return mx::logaddexp(a, b);
      case BinaryOp::Equal: return mx::equal(a, b);
      case BinaryOp::NotEqual: return mx::not_equal(a, b);
      case BinaryOp::Less: return mx::less(a, b);
      case BinaryOp::LessEqual: return mx::less_equal(a, b);
      case BinaryOp::Greater: return mx::greater(a, b);
      case BinaryOp::GreaterEqual: return mx::greater_equal(a, b);
      case BinaryOp::LogicalAnd: return mx::logical_and(a, b);
      case BinaryOp::LogicalOr: return mx::logical_or(a, b);
    }
    throw std::invalid_argument("unknown binary op");
  });
  return placeholder();
}

Array where(const Array& condition, const Array& a, const Array& b) {
  DG_TRY("where", return mx::where(condition, a, b));
  return placeholder();
}
Array clip(const Array& a, const Array* lo, const Array* hi) {
  DG_TRY("clip", {
    std::optional<mx::array> l, h;
    if (lo) l = *lo;
    if (hi) h = *hi;
    return mx::clip(a, l, h);
  });
  return placeholder();
}
Array astype(const Array& a, DTypeCode dtype) {
  DG_TRY("astype", return mx::astype(a, toMx(dtype)));
  return placeholder();
}
Array matmul(const Array& a, const Array& b) {
  DG_TRY("matmul", return mx::matmul(a, b));
  return placeholder();
}
Array addmm(const Array& c, const Array& a, const Array& b, float alpha, float beta) {
  DG_TRY("addmm", return mx::addmm(c, a, b, alpha, beta));
  return placeholder();
}

Array reduce(ReduceOp op, const Array& a, const int32_t* axes, int32_t naxes, bool keepdims) {
  DG_TRY("reduce", {
    auto ax = axesOrAll(a, axes, naxes);
    switch (op) {
      case ReduceOp::Sum: return mx::sum(a, ax, keepdims);
      case ReduceOp::Mean: return mx::mean(a, ax, keepdims);
      case ReduceOp::Max: return mx::max(a, ax, keepdims);
      case ReduceOp::Min: return mx::min(a, ax, keepdims);
      case ReduceOp::Prod: return mx::prod(a, ax, keepdims);
      case ReduceOp::LogSumExp: return mx::logsumexp(a, ax, keepdims);
      case ReduceOp::All: return mx::all(a, ax, keepdims);
      case ReduceOp::Any: return mx::any(a, ax, keepdims);
    }
    throw std::invalid_argument("unknown reduction");
  });
  return placeholder();
}
Array argReduce(bool isMax, const Array& a, int32_t axis, bool keepdims) {
  DG_TRY("argmax/argmin", return isMax ? mx::argmax(a, axis, keepdims) : mx::argmin(a, axis, keepdims));
  return placeholder();
}
Array variance(const Array& a, const int32_t* axes, int32_t naxes, bool keepdims, int32_t ddof, bool takeSqrt) {
  DG_TRY("var/std", {
    auto ax = axesOrAll(a, axes, naxes);
    return takeSqrt ? mx::std(a, ax, keepdims, ddof) : mx::var(a, ax, keepdims, ddof);
  });
  return placeholder();
}
Array softmax(const Array& a, const int32_t* axes, int32_t naxes, bool precise) {
  DG_TRY("softmax", return mx::softmax(a, axesOrAll(a, axes, naxes), precise));
  return placeholder();
}

Array geluTanh(const Array& a) {
  DG_TRY("gelu (tanh)", return fused::geluTanh(a));
  return placeholder();
}
Array silu(const Array& a) {
  DG_TRY("silu", return fused::silu(a));
  return placeholder();
}
Array geluErf(const Array& a) {
  DG_TRY("gelu", return fused::geluErf(a));
  return placeholder();
}
Array quickGelu(const Array& a) {
  DG_TRY("quick gelu", return fused::quickGelu(a));
  return placeholder();
}
Array cumsum(const Array& a, int32_t axis, bool reverse, bool inclusive) {
  DG_TRY("cumsum", return mx::cumsum(a, axis, reverse, inclusive));
  return placeholder();
}
Array sort(const Array& a, int32_t axis) {
  DG_TRY("sort", return mx::sort(a, axis));
  return placeholder();
}
Array argsort(const Array& a, int32_t axis) {
  DG_TRY("argsort", return mx::argsort(a, axis));
  return placeholder();
}

Array reshape(const Array& a, const int32_t* shape, int32_t ndim) {
  DG_TRY("reshape", return mx::reshape(a, shapeOf(shape, ndim)));
  return placeholder();
}
Array transpose(const Array& a, const int32_t* axes, int32_t naxes) {
  DG_TRY("transpose", return naxes == 0 ? mx::transpose(a) : mx::transpose(a, ints(axes, naxes)));
  return placeholder();
}
Array expandDims(const Array& a, const int32_t* axes, int32_t naxes) {
  DG_TRY("expandDims", return mx::expand_dims(a, ints(axes, naxes)));
  return placeholder();
}
Array squeeze(const Array& a, const int32_t* axes, int32_t naxes) {
  DG_TRY("squeeze", return naxes == 0 ? mx::squeeze(a) : mx::squeeze(a, ints(axes, naxes)));
  return placeholder();
}
Array broadcastTo(const Array& a, const int32_t* shape, int32_t ndim) {
  DG_TRY("broadcastTo", return mx::broadcast_to(a, shapeOf(shape, ndim)));
  return placeholder();
}
Array slice(const Array& a, const int32_t* start, const int32_t* stop, const int32_t* strides, int32_t ndim) {
  DG_TRY("slice", return mx::slice(a, shapeOf(start, ndim), shapeOf(stop, ndim), shapeOf(strides, ndim)));
  return placeholder();
}
Array sliceUpdate(const Array& src, const Array& update, const int32_t* start, const int32_t* stop,
                  const int32_t* strides, int32_t ndim) {
  DG_TRY("sliceUpdate",
         return mx::slice_update(src, update, shapeOf(start, ndim), shapeOf(stop, ndim), shapeOf(strides, ndim)));
  return placeholder();
}
Array concatenate(const ArrayVector& arrays, int32_t axis) {
  DG_TRY("concatenate", return mx::concatenate(arrays, axis));
  return placeholder();
}
Array stack(const ArrayVector& arrays, int32_t axis) {
  DG_TRY("stack", return mx::stack(arrays, axis));
  return placeholder();
}
ArrayVector split(const Array& a, const int32_t* indices, int32_t nindices, int32_t axis) {
  DG_TRY("split", return mx::split(a, shapeOf(indices, nindices), axis));
  return {};
}
ArrayVector splitEqual(const Array& a, int32_t parts, int32_t axis) {
  DG_TRY("split", return mx::split(a, parts, axis));
  return {};
}
Array take(const Array& a, const Array& indices, int32_t axis) {
  DG_TRY("take", return mx::take(a, indices, axis));
  return placeholder();
}
Array takeAlongAxis(const Array& a, const Array& indices, int32_t axis) {
  DG_TRY("takeAlongAxis", return mx::take_along_axis(a, indices, axis));
  return placeholder();
}
Array pad(const Array& a, const int32_t* low, const int32_t* high, int32_t ndim, const Array& value) {
  DG_TRY("pad", {
    std::vector<int> axes(ndim);
    for (int i = 0; i < ndim; ++i) axes[i] = i;
    return mx::pad(a, axes, shapeOf(low, ndim), shapeOf(high, ndim), value);
  });
  return placeholder();
}
Array repeat(const Array& a, int32_t repeats, int32_t axis) {
  DG_TRY("repeat", return mx::repeat(a, repeats, axis));
  return placeholder();
}
Array tile(const Array& a, const int32_t* reps, int32_t n) {
  DG_TRY("tile", return mx::tile(a, ints(reps, n)));
  return placeholder();
}
Array flatten(const Array& a, int32_t startAxis, int32_t endAxis) {
  DG_TRY("flatten", return mx::flatten(a, startAxis, endAxis));
  return placeholder();
}
Array swapAxes(const Array& a, int32_t a1, int32_t a2) {
  DG_TRY("swapAxes", return mx::swapaxes(a, a1, a2));
  return placeholder();
}
Array moveAxis(const Array& a, int32_t source, int32_t destination) {
  DG_TRY("moveAxis", return mx::moveaxis(a, source, destination));
  return placeholder();
}

Array convGeneral(const Array& input, const Array& weight, const int32_t* stride, const int32_t* padLow,
                  const int32_t* padHigh, const int32_t* dilation, int32_t nspatial, int32_t groups) {
  DG_TRY("conv", {
    std::vector<int> ones(nspatial, 1);
    return mx::conv_general(input, weight, ints(stride, nspatial), ints(padLow, nspatial), ints(padHigh, nspatial),
                            ints(dilation, nspatial), ones, groups, false);
  });
  return placeholder();
}
Array convTranspose(const Array& input, const Array& weight, const int32_t* stride, const int32_t* padding,
                    const int32_t* dilation, const int32_t* outputPadding, int32_t nspatial, int32_t groups) {
  DG_TRY("convTranspose", {
    switch (nspatial) {
      case 1:
        return mx::conv_transpose1d(input, weight, stride[0], padding[0], dilation[0], outputPadding[0], groups);
      case 2:
        return mx::conv_transpose2d(input, weight, {stride[0], stride[1]}, {padding[0], padding[1]},
                                    {dilation[0], dilation[1]}, {outputPadding[0], outputPadding[1]}, groups);
      case 3:
        return mx::conv_transpose3d(input, weight, {stride[0], stride[1], stride[2]},
                                    {padding[0], padding[1], padding[2]}, {dilation[0], dilation[1], dilation[2]},
                                    {outputPadding[0], outputPadding[1], outputPadding[2]}, groups);
    }
    throw std::invalid_argument("transposed convolution supports 1, 2 or 3 spatial dimensions");
  });
  return placeholder();
}

Array rmsNorm(const Array& x, const Array* weight, float eps) {
  DG_TRY("rmsNorm", {
    std::optional<mx::array> w;
    if (weight) w = *weight;
    return dg::fused::layerNorm(x, w, std::nullopt, eps, /*centred=*/false);
  });
  return placeholder();
}
Array layerNorm(const Array& x, const Array* weight, const Array* bias, float eps) {
  DG_TRY("layerNorm", {
    std::optional<mx::array> w, b;
    if (weight) w = *weight;
    if (bias) b = *bias;
    return dg::fused::layerNorm(x, w, b, eps, /*centred=*/true);
  });
  return placeholder();
}
Array rope(const Array& x, int32_t dims, bool traditional, float base, float scale, int32_t offset, const Array* freqs) {
  DG_TRY("rope", {
    std::optional<mx::array> f;
    std::optional<float> b = base;
    if (freqs) {
      f = *freqs;
      b = std::nullopt;
    }
    return mx::fast::rope(x, dims, traditional, b, scale, offset, f);
  });
  return placeholder();
}
Array rotaryTables(const Array& x, const Array& cos, const Array& sin, bool interleaved) {
  DG_TRY("rotary embedding", return fused::rotaryTables(x, cos, sin, interleaved));
  return placeholder();
}
Array sdpa(const Array& q, const Array& k, const Array& v, float scale, const char* maskMode, const Array* mask,
           bool sequenceMajor) {
  DG_TRY("attention", {
    std::optional<mx::array> m;
    if (mask) m = *mask;
    return sequenceMajor ? fused::sequenceMajorAttention(q, k, v, scale, maskMode ? maskMode : "", m)
                         : fused::scaledDotProductAttention(q, k, v, scale, maskMode ? maskMode : "", m);
  });
  return placeholder();
}

Array randomKey(uint64_t seed) {
  DG_TRY("random.key", return mx::random::key(seed));
  return placeholder();
}
ArrayVector randomSplit(const Array& key, int32_t num) {
  DG_TRY("random.split", {
    auto keys = mx::random::split(key, num);
    return mx::split(keys, num, 0);
  });
  return {};
}
Array randomNormal(const int32_t* shape, int32_t ndim, DTypeCode dtype, const Array& key) {
  DG_TRY("random.normal", return mx::random::normal(shapeOf(shape, ndim), toMx(dtype), 0.0f, 1.0f, key));
  return placeholder();
}
Array randomUniform(const int32_t* shape, int32_t ndim, DTypeCode dtype, const Array& key) {
  DG_TRY("random.uniform", return mx::random::uniform(shapeOf(shape, ndim), toMx(dtype), key));
  return placeholder();
}
Array randomBits(const int32_t* shape, int32_t ndim, const Array& key) {
  DG_TRY("random.bits", return mx::random::bits(shapeOf(shape, ndim), 4, key));
  return placeholder();
}
Array randomPermutation(int32_t n, const Array& key) {
  DG_TRY("random.permutation", return mx::random::permutation(n, key));
  return placeholder();
}
Array randomCategorical(const Array& logits, int32_t axis, const Array& key) {
  DG_TRY("random.categorical", return mx::random::categorical(logits, axis, key));
  return placeholder();
}

bool evalAll(const ArrayVector& arrays) {
  DG_TRY("eval", {
    mx::eval(arrays);
    return true;
  });
  return false;
}
size_t activeMemory() { return mx::get_active_memory(); }
size_t peakMemory() { return mx::get_peak_memory(); }
size_t cacheMemory() { return mx::get_cache_memory(); }
void resetPeakMemory() { mx::reset_peak_memory(); }
void clearCache() { mx::clear_cache(); }
size_t setCacheLimit(size_t limit) { return mx::set_cache_limit(limit); }

namespace {
// Adapts a (context, callback) pair to MLX's std::function. A Swift-side failure becomes an exception so that MLX
// unwinds its transform cleanly; the outer DG_TRY turns it back into an error message.
struct Context {
  void* pointer;
  Release release;
  Context(void* p, Release r) : pointer(p), release(r) {}
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;
  ~Context() { release(pointer); }
};

std::function<ArrayVector(const ArrayVector&)> adapt(Callback fn, void* context, Release release) {
  auto owned = std::make_shared<Context>(context, release);
  return [fn, owned](const ArrayVector& inputs) {
    ArrayVector outputs;
    if (!fn(owned->pointer, &inputs, &outputs)) {
      throw std::runtime_error(errorMessage.empty() ? "the Swift function failed" : errorMessage);
    }
    return outputs;
  };
}
}  // namespace

bool vjp(Callback fn, void* context, Release release, const ArrayVector& primals, const ArrayVector& cotangents, ArrayVector& outputs,
         ArrayVector& gradients) {
  DG_TRY("valueAndGrad", {
    auto result = mx::vjp(adapt(fn, context, release), primals, cotangents);
    outputs = std::move(result.first);
    gradients = std::move(result.second);
    return true;
  });
  return false;
}

bool checkpointApply(Callback fn, void* context, Release release, const ArrayVector& inputs, ArrayVector& outputs) {
  DG_TRY("checkpoint", {
    outputs = mx::checkpoint(adapt(fn, context, release))(inputs);
    return true;
  });
  return false;
}

struct Compiled {
  std::function<ArrayVector(const ArrayVector&)> function;
};

Compiled* compileNew(Callback fn, void* context, Release release, bool shapeless) {
  DG_TRY("compile", return new Compiled{mx::compile(adapt(fn, context, release), shapeless)});
  return nullptr;
}
bool compileApply(Compiled* c, const ArrayVector& inputs, ArrayVector& outputs) {
  DG_TRY("compiled function", {
    outputs = c->function(inputs);
    return true;
  });
  return false;
}
void compileFree(Compiled* c) { delete c; }
void setCompileEnabled(bool enabled) {
  if (enabled)
    mx::enable_compile();
  else
    mx::disable_compile();
}

// ---- distributed
struct DistributedGroup {
  mx::distributed::Group group;
};

bool distributedIsAvailable(const char* backend) {
  DG_TRY("distributed.is_available", return mx::distributed::is_available(backend));
  return false;
}

DistributedGroup* distributedInit(const char* backend, bool strict) {
  DG_TRY("distributed.init", return new DistributedGroup{mx::distributed::init(strict, backend)});
  return nullptr;
}

void distributedFree(DistributedGroup* g) { delete g; }
int32_t distributedRank(const DistributedGroup* g) { return g->group.rank(); }
int32_t distributedSize(const DistributedGroup* g) { return g->group.size(); }

DistributedGroup* distributedSplit(const DistributedGroup* g, int32_t color, int32_t key) {
  DG_TRY("distributed.split", return new DistributedGroup{g->group.split(color, key)});
  return nullptr;
}

Array distributedAllSum(const Array& a, const DistributedGroup* g) {
  DG_TRY("distributed.all_sum", return mx::distributed::all_sum(a, g->group));
  return placeholder();
}

Array distributedAllGather(const Array& a, const DistributedGroup* g) {
  DG_TRY("distributed.all_gather", return mx::distributed::all_gather(a, g->group));
  return placeholder();
}

namespace {
mx::array sumScatter(const mx::array& a, const mx::distributed::Group& group, bool native) {
  if (group.size() == 1) return a;
  if (native) return mx::distributed::sum_scatter(a, group);
  // A gather, not a slice: a slice is a view that would keep the whole sum's buffer alive with the share.
  auto summed = mx::distributed::all_sum(a, group);
  int share = a.shape(0) / group.size();
  int start = group.rank() * share;
  return mx::take(summed, mx::arange(start, start + share, mx::int32), 0);
}
}  // namespace

Array distributedSumScatter(const Array& a, const DistributedGroup* g, bool native) {
  DG_TRY("distributed.sum_scatter", {
    if (a.ndim() == 0 || a.shape(0) % g->group.size() != 0) {
      throw std::invalid_argument("axis 0 of " + std::to_string(a.ndim() == 0 ? 0 : a.shape(0)) +
                                  " rows does not split into " + std::to_string(g->group.size()) + " equal shares");
    }
    return sumScatter(a, g->group, native);
  });
  return placeholder();
}

bool distributedHasSumScatter(const DistributedGroup* g) {
  if (g->group.size() == 1) return true;
  try {
    auto probe = mx::distributed::sum_scatter(mx::zeros({g->group.size()}, mx::float32), g->group);
    mx::eval(probe);
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

bool distributedShardGatherSplit(const Array& shard, const DistributedGroup* g, bool native, const int32_t* sizes,
                                 int32_t count, ArrayVector& outputs) {
  DG_TRY("distributed.shard_gather_split", {
    std::optional<mx::distributed::Group> group;
    if (g && g->group.size() > 1) group = g->group;
    std::vector<int> pieces(sizes, sizes + count);
    auto forward = [group, pieces](const std::vector<mx::array>& inputs) {
      auto whole = group ? mx::distributed::all_gather(inputs[0], *group) : inputs[0];
      std::vector<mx::array> result;
      int start = 0;
      for (int size : pieces) {
        result.push_back(mx::slice(whole, {start}, {start + size}));
        start += size;
      }
      return result;
    };
    auto backward = [group, native](const std::vector<mx::array>& primals, const std::vector<mx::array>& cotangents,
                                    const std::vector<mx::array>&) {
      int total = primals[0].shape(0) * (group ? group->size() : 1);
      std::vector<mx::array> parts(cotangents.begin(), cotangents.end());
      int covered = 0;
      for (auto& part : parts) covered += part.shape(0);
      if (covered < total) parts.push_back(mx::zeros({total - covered}, cotangents[0].dtype()));
      auto whole = mx::concatenate(parts, 0);
      return std::vector<mx::array>{group ? sumScatter(whole, *group, native) : whole};
    };
    outputs = mx::custom_vjp(forward, backward)({shard});
    return true;
  });
  return false;
}

namespace {
// Rank `group.rank()`'s pieces of every rank's `a` (the all-to-all's received data): gather [size, ...a], keep piece
// `rank` of `splitAxis` from each, join the size pieces along `concatAxis`.
mx::array allToAllByGather(const mx::array& a, const mx::distributed::Group& group, int splitAxis, int concatAxis) {
  int size = group.size();
  auto gathered = mx::distributed::all_gather(mx::expand_dims(a, 0), group);
  int piece = a.shape(splitAxis) / size;
  mx::Shape start(gathered.ndim(), 0);
  mx::Shape stop = gathered.shape();
  start[splitAxis + 1] = group.rank() * piece;
  stop[splitAxis + 1] = (group.rank() + 1) * piece;
  auto mine = mx::slice(gathered, start, stop);  // [size, ..., piece, ...]
  auto moved = mx::moveaxis(mine, 0, concatAxis);  // [..., size, d_concat, ...] once axis 0 is gone
  auto shape = a.shape();
  shape[splitAxis] = piece;
  shape[concatAxis] *= size;
  return mx::reshape(moved, shape);
}

}  // namespace

Array distributedAllToAll(const Array& a, const DistributedGroup* g, int32_t splitAxis, int32_t concatAxis) {
  DG_TRY("distributed.all_to_all", {
    int n = a.ndim(), size = g->group.size();
    if (splitAxis < 0 || splitAxis >= n || concatAxis < 0 || concatAxis >= n) {
      throw std::invalid_argument("axes " + std::to_string(splitAxis) + ", " + std::to_string(concatAxis) +
                                  " are outside a tensor of " + std::to_string(n) + " axes");
    }
    if (a.shape(splitAxis) % size != 0) {
      throw std::invalid_argument("axis " + std::to_string(splitAxis) + " of " + std::to_string(a.shape(splitAxis)) +
                                  " does not split into " + std::to_string(size) + " equal pieces");
    }
    if (size == 1) return a;
    auto group = g->group;
    auto forward = [group, splitAxis, concatAxis](const std::vector<mx::array>& inputs) {
      return std::vector<mx::array>{allToAllByGather(inputs[0], group, splitAxis, concatAxis)};
    };
    auto backward = [group, splitAxis, concatAxis](const std::vector<mx::array>&,
                                                   const std::vector<mx::array>& cotangents,
                                                   const std::vector<mx::array>&) {
      return std::vector<mx::array>{allToAllByGather(cotangents[0], group, concatAxis, splitAxis)};
    };
    return mx::custom_vjp(forward, backward)({a})[0];
  });
  return placeholder();
}

Array distributedSend(const Array& a, int32_t destination, const DistributedGroup* g) {
  DG_TRY("distributed.send", return mx::distributed::send(a, destination, g->group));
  return placeholder();
}

Array distributedRecv(const int32_t* shape, int32_t ndim, DTypeCode dtype, int32_t source,
                      const DistributedGroup* g) {
  DG_TRY("distributed.recv", return mx::distributed::recv(shapeOf(shape, ndim), toMx(dtype), source, g->group));
  return placeholder();
}

const char* sgemmProvider() {
  static std::string path;
  void* symbol = dlsym(RTLD_DEFAULT, "cblas_sgemm");
  Dl_info info;
  if (!symbol || !dladdr(symbol, &info) || !info.dli_fname) return "";
  path = info.dli_fname;
  return path.c_str();
}

const char* mlxVersion() {
  static std::string v = mx::version();
  return v.c_str();
}
}  // namespace dg
