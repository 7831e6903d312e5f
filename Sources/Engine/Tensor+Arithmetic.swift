internal import CMLXShim

// Element-wise arithmetic, comparisons and matrix products. All binary ops broadcast as NumPy does.
// A Swift scalar operand takes the floating dtype of the tensor it meets (as MLX's Python scalars do), so
// `x * 0.5` keeps a bfloat16 `x` in bfloat16.

extension Tensor {
    func unary(_ op: dg.UnaryOp, _ name: String) -> Tensor { checked(name, [self], dg.unary(op, raw)) }

    static func binary(_ op: dg.BinaryOp, _ name: String, _ a: Tensor, _ b: Tensor) -> Tensor {
        checked(name, [a, b], dg.binary(op, a.raw, b.raw))
    }

    /// A scalar operand in a dtype that does not promote `self`.
    func scalarLike(_ value: Double) -> Tensor {
        Tensor.scalar(value, dtype: dtype.isFloatingPoint ? dtype : .float32)
    }

    // MARK: - Operators

    public static func + (a: Tensor, b: Tensor) -> Tensor { binary(.Add, "add", a, b) }
    public static func - (a: Tensor, b: Tensor) -> Tensor { binary(.Subtract, "subtract", a, b) }
    public static func * (a: Tensor, b: Tensor) -> Tensor { binary(.Multiply, "multiply", a, b) }
    public static func / (a: Tensor, b: Tensor) -> Tensor { binary(.Divide, "divide", a, b) }
    public static prefix func - (a: Tensor) -> Tensor { a.unary(.Negative, "negative") }

    public static func + (a: Tensor, b: Float) -> Tensor { a + a.scalarLike(Double(b)) }
    public static func - (a: Tensor, b: Float) -> Tensor { a - a.scalarLike(Double(b)) }
    public static func * (a: Tensor, b: Float) -> Tensor { a * a.scalarLike(Double(b)) }
    public static func / (a: Tensor, b: Float) -> Tensor { a / a.scalarLike(Double(b)) }
    public static func + (a: Float, b: Tensor) -> Tensor { b.scalarLike(Double(a)) + b }
    public static func - (a: Float, b: Tensor) -> Tensor { b.scalarLike(Double(a)) - b }
    public static func * (a: Float, b: Tensor) -> Tensor { b.scalarLike(Double(a)) * b }
    public static func / (a: Float, b: Tensor) -> Tensor { b.scalarLike(Double(a)) / b }

    public static func += (a: inout Tensor, b: Tensor) { a = a + b }
    public static func -= (a: inout Tensor, b: Tensor) { a = a - b }
    public static func *= (a: inout Tensor, b: Tensor) { a = a * b }
    public static func /= (a: inout Tensor, b: Tensor) { a = a / b }
    public static func *= (a: inout Tensor, b: Float) { a = a * b }

    public func matmul(_ other: Tensor) -> Tensor { checked("matmul", [self, other], dg.matmul(raw, other.raw)) }

    /// `beta * self + alpha * (a @ b)` in one fused call (self is the bias term).
    public func addmm(_ a: Tensor, _ b: Tensor, alpha: Float = 1, beta: Float = 1) -> Tensor {
        checked("addmm", [self, a, b], dg.addmm(raw, a.raw, b.raw, alpha, beta))
    }

    // MARK: - Comparisons (results are bool tensors)

    public static func .== (a: Tensor, b: Tensor) -> Tensor { binary(.Equal, "equal", a, b) }
    public static func .!= (a: Tensor, b: Tensor) -> Tensor { binary(.NotEqual, "notEqual", a, b) }
    public static func .< (a: Tensor, b: Tensor) -> Tensor { binary(.Less, "less", a, b) }
    public static func .<= (a: Tensor, b: Tensor) -> Tensor { binary(.LessEqual, "lessEqual", a, b) }
    public static func .> (a: Tensor, b: Tensor) -> Tensor { binary(.Greater, "greater", a, b) }
    public static func .>= (a: Tensor, b: Tensor) -> Tensor { binary(.GreaterEqual, "greaterEqual", a, b) }
    public static func .== (a: Tensor, b: Float) -> Tensor { a .== a.scalarLike(Double(b)) }
    public static func .< (a: Tensor, b: Float) -> Tensor { a .< a.scalarLike(Double(b)) }
    public static func .> (a: Tensor, b: Float) -> Tensor { a .> a.scalarLike(Double(b)) }
    public static func .<= (a: Tensor, b: Float) -> Tensor { a .<= a.scalarLike(Double(b)) }
    public static func .>= (a: Tensor, b: Float) -> Tensor { a .>= a.scalarLike(Double(b)) }
    public static func .&& (a: Tensor, b: Tensor) -> Tensor { binary(.LogicalAnd, "logicalAnd", a, b) }
    public static func .|| (a: Tensor, b: Tensor) -> Tensor { binary(.LogicalOr, "logicalOr", a, b) }

    // MARK: - Element-wise functions

    public func abs() -> Tensor { unary(.Abs, "abs") }
    public func sign() -> Tensor { unary(.Sign, "sign") }
    public func exp() -> Tensor { unary(.Exp, "exp") }
    public func expm1() -> Tensor { unary(.Expm1, "expm1") }
    public func log() -> Tensor { unary(.Log, "log") }
    public func log1p() -> Tensor { unary(.Log1p, "log1p") }
    public func log2() -> Tensor { unary(.Log2, "log2") }
    public func log10() -> Tensor { unary(.Log10, "log10") }
    public func sqrt() -> Tensor { unary(.Sqrt, "sqrt") }
    public func rsqrt() -> Tensor { unary(.Rsqrt, "rsqrt") }
    public func square() -> Tensor { unary(.Square, "square") }
    public func reciprocal() -> Tensor { unary(.Reciprocal, "reciprocal") }
    public func sin() -> Tensor { unary(.Sin, "sin") }
    public func cos() -> Tensor { unary(.Cos, "cos") }
    public func tan() -> Tensor { unary(.Tan, "tan") }
    public func tanh() -> Tensor { unary(.Tanh, "tanh") }
    public func arcsin() -> Tensor { unary(.Arcsin, "arcsin") }
    public func arccos() -> Tensor { unary(.Arccos, "arccos") }
    public func arctan() -> Tensor { unary(.Arctan, "arctan") }
    public func sinh() -> Tensor { unary(.Sinh, "sinh") }
    public func cosh() -> Tensor { unary(.Cosh, "cosh") }
    public func erf() -> Tensor { unary(.Erf, "erf") }
    public func erfinv() -> Tensor { unary(.Erfinv, "erfinv") }
    public func floor() -> Tensor { unary(.Floor, "floor") }
    public func ceil() -> Tensor { unary(.Ceil, "ceil") }
    public func rounded() -> Tensor { unary(.Round, "round") }
    public func logicalNot() -> Tensor { unary(.LogicalNot, "logicalNot") }
    public func isNaN() -> Tensor { unary(.IsNan, "isNaN") }
    public func isInf() -> Tensor { unary(.IsInf, "isInf") }
    public func isFinite() -> Tensor { unary(.IsFinite, "isFinite") }

    public func pow(_ exponent: Tensor) -> Tensor { Tensor.binary(.Power, "power", self, exponent) }
    public func pow(_ exponent: Float) -> Tensor { pow(scalarLike(Double(exponent))) }
    public func remainder(_ divisor: Tensor) -> Tensor { Tensor.binary(.Remainder, "remainder", self, divisor) }
    public func floorDivide(_ divisor: Tensor) -> Tensor { Tensor.binary(.FloorDivide, "floorDivide", self, divisor) }
    public func logAddExp(_ other: Tensor) -> Tensor { Tensor.binary(.LogAddExp, "logAddExp", self, other) }
    public static func arctan2(_ y: Tensor, _ x: Tensor) -> Tensor { binary(.Arctan2, "arctan2", y, x) }
    public static func maximum(_ a: Tensor, _ b: Tensor) -> Tensor { binary(.Maximum, "maximum", a, b) }
    public static func minimum(_ a: Tensor, _ b: Tensor) -> Tensor { binary(.Minimum, "minimum", a, b) }
    public func maximum(_ b: Float) -> Tensor { Tensor.maximum(self, scalarLike(Double(b))) }
    public func minimum(_ b: Float) -> Tensor { Tensor.minimum(self, scalarLike(Double(b))) }

    /// Elements clamped to `[lower, upper]` (either bound may be omitted).
    public func clipped(min lower: Float? = nil, max upper: Float? = nil) -> Tensor {
        clipped(min: lower.map { scalarLike(Double($0)) }, max: upper.map { scalarLike(Double($0)) })
    }

    public func clipped(min lower: Tensor?, max upper: Tensor?) -> Tensor {
        let r: mlx.core.array
        switch (lower, upper) {
        case let (l?, u?):
            r = withUnsafePointer(to: l.raw) { lp in withUnsafePointer(to: u.raw) { dg.clip(raw, lp, $0) } }
        case let (l?, nil): r = withUnsafePointer(to: l.raw) { dg.clip(raw, $0, nil) }
        case let (nil, u?): r = withUnsafePointer(to: u.raw) { dg.clip(raw, nil, $0) }
        case (nil, nil): return self
        }
        return checked("clip", [self], r)
    }

    /// Picks `a` where `condition` is true and `b` elsewhere (broadcasting all three).
    public static func `where`(_ condition: Tensor, _ a: Tensor, _ b: Tensor) -> Tensor {
        checked("where", [condition, a, b], dg.where(condition.raw, a.raw, b.raw))
    }

    /// The same values with gradients blocked.
    public func stopGradient() -> Tensor { unary(.StopGradient, "stopGradient") }
}

infix operator .== : ComparisonPrecedence
infix operator .!= : ComparisonPrecedence
infix operator .< : ComparisonPrecedence
infix operator .<= : ComparisonPrecedence
infix operator .> : ComparisonPrecedence
infix operator .>= : ComparisonPrecedence
infix operator .&& : LogicalConjunctionPrecedence
infix operator .|| : LogicalDisjunctionPrecedence
