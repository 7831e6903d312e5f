// The C++ side of the engine binding. Swift reaches MLX through C++ interoperability; this shim
// exists for what interop cannot do by itself:
//  - catch C++ exceptions (Swift cannot), turning them into a thread-local error message;
//  - build mlx::core::Shape / std::vector arguments from (pointer, count) pairs;
//  - pass Swift closures into function transforms (vjp, compile, checkpoint) as C callbacks.
// Every function here that can fail clears the error first and sets it on failure; the Swift side
// checks `dg::lastError()` after each call.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>
#include "mlx/mlx.h"

namespace dg {
namespace mx = mlx::core;
using Array = mx::array;
using ArrayVector = std::vector<mx::array>;

// ---- errors
const char* lastError();
void clearError();

// ---- dtypes (values are our own, stable across MLX versions)
enum class DTypeCode : int32_t {
  Bool = 0, UInt8, UInt16, UInt32, UInt64, Int8, Int16, Int32, Int64, Float16, Float32, Float64, BFloat16, Complex64
};
DTypeCode dtypeOf(const Array& a);
int32_t dtypeSize(DTypeCode t);

// ---- array vectors (for multi-output ops and transforms)
ArrayVector vectorNew();
void vectorPush(ArrayVector& v, const Array& a);
size_t vectorSize(const ArrayVector& v);
Array vectorAt(const ArrayVector& v, size_t i);

// ---- creation and inspection
Array fromBytes(const void* data, const int32_t* shape, int32_t ndim, DTypeCode dtype);
Array scalarFloat(double value, DTypeCode dtype);
Array scalarInt(int64_t value, DTypeCode dtype);
Array full(const int32_t* shape, int32_t ndim, const Array& value, DTypeCode dtype);
Array arange(double start, double stop, double step, DTypeCode dtype);
Array linspace(double start, double stop, int32_t num, DTypeCode dtype);
Array eye(int32_t n, DTypeCode dtype);
Array tri(int32_t n, int32_t m, int32_t k, DTypeCode dtype);
int32_t ndim(const Array& a);
int32_t dim(const Array& a, int32_t axis);
size_t size(const Array& a);
size_t nbytes(const Array& a);
// Evaluates `a` as a row-contiguous array of `dtype` and copies its bytes into `out` (capacity `capacity`).
bool copyOut(const Array& a, DTypeCode dtype, void* out, size_t capacity);
uintptr_t identity(const Array& a);

// ---- element-wise
enum class UnaryOp : int32_t {
  Negative, Abs, Sign, Exp, Expm1, Log, Log1p, Log2, Log10, Sqrt, Rsqrt, Square, Reciprocal, Sin, Cos, Tan, Tanh,
  Arcsin, Arccos, Arctan, Sinh, Cosh, Sigmoid, Erf, Erfinv, Floor, Ceil, Round, LogicalNot, IsNan, IsInf, IsFinite,
  StopGradient, Copy
};
Array unary(UnaryOp op, const Array& a);

enum class BinaryOp : int32_t {
  Add, Subtract, Multiply, Divide, Power, Maximum, Minimum, Remainder, FloorDivide, Arctan2, LogAddExp,
  Equal, NotEqual, Less, LessEqual, Greater, GreaterEqual, LogicalAnd, LogicalOr
};
Array binary(BinaryOp op, const Array& a, const Array& b);
Array where(const Array& condition, const Array& a, const Array& b);
Array clip(const Array& a, const Array* lo, const Array* hi);
Array astype(const Array& a, DTypeCode dtype);
Array matmul(const Array& a, const Array& b);
Array addmm(const Array& c, const Array& a, const Array& b, float alpha, float beta);

// ---- reductions (axes may be empty = all axes)
enum class ReduceOp : int32_t { Sum, Mean, Max, Min, Prod, LogSumExp, All, Any };
Array reduce(ReduceOp op, const Array& a, const int32_t* axes, int32_t naxes, bool keepdims);
Array argReduce(bool isMax, const Array& a, int32_t axis, bool keepdims);
Array variance(const Array& a, const int32_t* axes, int32_t naxes, bool keepdims, int32_t ddof, bool takeSqrt);
Array softmax(const Array& a, const int32_t* axes, int32_t naxes, bool precise);
// GELU, tanh form, as one node with a vectorised CPU kernel for float32 (FusedKernels.h); composed otherwise.
Array geluTanh(const Array& a);
// SiLU, exact (erf) GELU and CLIP's quick GELU likewise.
Array silu(const Array& a);
Array geluErf(const Array& a);
Array quickGelu(const Array& a);
Array cumsum(const Array& a, int32_t axis, bool reverse, bool inclusive);
Array sort(const Array& a, int32_t axis);
Array argsort(const Array& a, int32_t axis);

// ---- shape
Array reshape(const Array& a, const int32_t* shape, int32_t ndim);
Array transpose(const Array& a, const int32_t* axes, int32_t naxes);
Array expandDims(const Array& a, const int32_t* axes, int32_t naxes);
Array squeeze(const Array& a, const int32_t* axes, int32_t naxes);
Array broadcastTo(const Array& a, const int32_t* shape, int32_t ndim);
Array slice(const Array& a, const int32_t* start, const int32_t* stop, const int32_t* strides, int32_t ndim);
Array sliceUpdate(const Array& src, const Array& update, const int32_t* start, const int32_t* stop,
                  const int32_t* strides, int32_t ndim);
Array concatenate(const ArrayVector& arrays, int32_t axis);
Array stack(const ArrayVector& arrays, int32_t axis);
ArrayVector split(const Array& a, const int32_t* indices, int32_t nindices, int32_t axis);
ArrayVector splitEqual(const Array& a, int32_t parts, int32_t axis);
Array take(const Array& a, const Array& indices, int32_t axis);
Array takeAlongAxis(const Array& a, const Array& indices, int32_t axis);
Array pad(const Array& a, const int32_t* low, const int32_t* high, int32_t ndim, const Array& value);
Array repeat(const Array& a, int32_t repeats, int32_t axis);
Array tile(const Array& a, const int32_t* reps, int32_t n);
Array flatten(const Array& a, int32_t startAxis, int32_t endAxis);
Array swapAxes(const Array& a, int32_t a1, int32_t a2);
Array moveAxis(const Array& a, int32_t source, int32_t destination);

// ---- convolution (channels-last: input N,...spatial...,C_in; weight C_out,...kernel...,C_in/groups)
Array convGeneral(const Array& input, const Array& weight, const int32_t* stride, const int32_t* padLow,
                  const int32_t* padHigh, const int32_t* dilation, int32_t nspatial, int32_t groups);
Array convTranspose(const Array& input, const Array& weight, const int32_t* stride, const int32_t* padding,
                    const int32_t* dilation, const int32_t* outputPadding, int32_t nspatial, int32_t groups);

// ---- fused fast ops
Array rmsNorm(const Array& x, const Array* weight, float eps);
Array layerNorm(const Array& x, const Array* weight, const Array* bias, float eps);
Array rope(const Array& x, int32_t dims, bool traditional, float base, float scale, int32_t offset, const Array* freqs);
// Attention over q, k, v [B, H, L, D], or with `sequenceMajor` [B, L, H, D] (and that output); see FusedKernels.h.
Array sdpa(const Array& q, const Array& k, const Array& v, float scale, const char* maskMode, const Array* mask,
           bool sequenceMajor);
// Rotary embedding from cos/sin tables ([L, D] or [B, L, D]) of x [B, L, H, D].
Array rotaryTables(const Array& x, const Array& cos, const Array& sin, bool interleaved);

// ---- random (explicit keys only)
Array randomKey(uint64_t seed);
ArrayVector randomSplit(const Array& key, int32_t num);
Array randomNormal(const int32_t* shape, int32_t ndim, DTypeCode dtype, const Array& key);
Array randomUniform(const int32_t* shape, int32_t ndim, DTypeCode dtype, const Array& key);
Array randomBits(const int32_t* shape, int32_t ndim, const Array& key);
Array randomPermutation(int32_t n, const Array& key);
Array randomCategorical(const Array& logits, int32_t axis, const Array& key);

// ---- evaluation and memory
bool evalAll(const ArrayVector& arrays);
size_t activeMemory();
size_t peakMemory();
size_t cacheMemory();
void resetPeakMemory();
void clearCache();
size_t setCacheLimit(size_t limit);

// ---- function transforms. A Swift closure is passed as (context, callback); the callback receives the traced
// inputs and must fill `outputs`. It returns false if the Swift side failed, which aborts the transform.
typedef bool (*Callback)(void* context, const ArrayVector* inputs, ArrayVector* outputs);
// MLX may keep a transformed function alive inside the graph (checkpoint recomputes it during backward), so the
// context is handed over retained, and `release` is called once the last copy of the function is gone.
typedef void (*Release)(void* context);
// Runs f(primals) and its vector-Jacobian product with the given cotangents; outputs then gradients.
bool vjp(Callback fn, void* context, Release release, const ArrayVector& primals, const ArrayVector& cotangents, ArrayVector& outputs,
         ArrayVector& gradients);
// Wraps f with MLX's `checkpoint` (recompute in backward instead of storing activations) and applies it.
bool checkpointApply(Callback fn, void* context, Release release, const ArrayVector& inputs, ArrayVector& outputs);

// A compiled function: owns an MLX-compiled std::function. Created once, applied many times.
struct Compiled;
Compiled* compileNew(Callback fn, void* context, Release release, bool shapeless);
bool compileApply(Compiled* c, const ArrayVector& inputs, ArrayVector& outputs);
void compileFree(Compiled* c);
void setCompileEnabled(bool enabled);

// ---- distributed (mlx::core::distributed): a group of processes and its collectives. Collectives are lazy graph
// nodes like other ops; a peer that went away surfaces as an evaluation error.
struct DistributedGroup;
// Whether `backend` ("any", "ring", "mpi", "nccl", "jaccl") can be initialised in this build.
bool distributedIsAvailable(const char* backend);
// The group the backend forms from its environment (the ring backend: MLX_RANK, MLX_HOSTFILE); strict, so a backend
// that cannot form one fails with its reason. "any" with nothing to form gives the one-process group.
DistributedGroup* distributedInit(const char* backend, bool strict);
void distributedFree(DistributedGroup* g);
int32_t distributedRank(const DistributedGroup* g);
int32_t distributedSize(const DistributedGroup* g);
DistributedGroup* distributedSplit(const DistributedGroup* g, int32_t color, int32_t key);
Array distributedAllSum(const Array& a, const DistributedGroup* g);
Array distributedAllGather(const Array& a, const DistributedGroup* g);
// Each rank's equal share of the element-wise sum of every rank's `a` along axis 0 (rank r gets rows
// r·n/size ..< (r+1)·n/size). `native` uses the back end's reduce-scatter (NCCL); otherwise an all-sum and the
// rank's share taken into its own storage (ring and MPI have no reduce-scatter).
Array distributedSumScatter(const Array& a, const DistributedGroup* g, bool native);
// Whether the group's back end has a native reduce-scatter: a collective (every rank calls it at the same point).
bool distributedHasSumScatter(const DistributedGroup* g);
// A flat shard [n] of a tensor split over the ranks (g null: one process), gathered to [size·n] in rank order and cut
// into consecutive pieces of the given sizes (the rest is padding). Its vector-Jacobian product concatenates the
// pieces' cotangents into one buffer and returns the sum over ranks of this rank's share of it (what a sharded
// parameter's gradient is when every rank differentiates its own loss). Neither MLX's all_gather vjp (it keeps only
// the local cotangent) nor slices (each one's vjp is a whole-size buffer) would do.
bool distributedShardGatherSplit(const Array& shard, const DistributedGroup* g, bool native, const int32_t* sizes,
                                 int32_t count, ArrayVector& outputs);
// All-to-all (Ulysses sequence parallelism): `a` is cut along `splitAxis` into size equal pieces, piece j goes to rank
// j, and the pieces received are joined along `concatAxis` in rank order. MLX has no all-to-all collective, so it is an
// all_gather of every rank's whole tensor from which each rank keeps its pieces: (size − 1)× the traffic of a native
// all-to-all, the same result. Its vector-Jacobian product is the all-to-all back (axes swapped).
Array distributedAllToAll(const Array& a, const DistributedGroup* g, int32_t splitAxis, int32_t concatAxis);
Array distributedSend(const Array& a, int32_t destination, const DistributedGroup* g);
Array distributedRecv(const int32_t* shape, int32_t ndim, DTypeCode dtype, int32_t source,
                      const DistributedGroup* g);

// ---- BLAS provenance: path of the shared object that provides cblas_sgemm in this process.
const char* sgemmProvider();
const char* mlxVersion();
}  // namespace dg
