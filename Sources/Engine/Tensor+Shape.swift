internal import CMLXShim

// Shape manipulation: reshape, axis permutations, joining and splitting, gathering, padding, repetition.

extension Tensor {
    /// The same elements in a new shape; one dimension may be -1.
    public func reshaped(_ shape: [Int]) -> Tensor {
        checked("reshape(\(shape))", [self], withInt32s(shape) { dg.reshape(raw, $0, $1) })
    }
    public func reshaped(_ shape: Int...) -> Tensor { reshaped(shape) }

    /// Axes permuted; with no argument, reversed.
    public func transposed(_ axes: [Int] = []) -> Tensor {
        checked("transpose(\(axes))", [self], withInt32s(axes) { dg.transpose(raw, $0, $1) })
    }
    public func transposed(_ axes: Int...) -> Tensor { transposed(axes) }

    /// The last two axes swapped (the matrix transpose of a batch of matrices).
    public var T: Tensor { ndim < 2 ? self : swappedAxes(-1, -2) }

    public func swappedAxes(_ a: Int, _ b: Int) -> Tensor {
        checked("swapAxes", [self], dg.swapAxes(raw, Int32(a), Int32(b)))
    }
    public func movedAxis(_ source: Int, to destination: Int) -> Tensor {
        checked("moveAxis", [self], dg.moveAxis(raw, Int32(source), Int32(destination)))
    }

    public func expandedDims(_ axes: [Int]) -> Tensor {
        checked("expandDims(\(axes))", [self], withInt32s(axes) { dg.expandDims(raw, $0, $1) })
    }
    public func expandedDims(axis: Int) -> Tensor { expandedDims([axis]) }

    /// Size-1 axes removed (all of them, or those named).
    public func squeezed(_ axes: [Int] = []) -> Tensor {
        checked("squeeze(\(axes))", [self], withInt32s(axes) { dg.squeeze(raw, $0, $1) })
    }
    public func squeezed(axis: Int) -> Tensor { squeezed([axis]) }

    public func broadcast(to shape: [Int]) -> Tensor {
        checked("broadcastTo(\(shape))", [self], withInt32s(shape) { dg.broadcastTo(raw, $0, $1) })
    }

    /// Axes `start...end` merged into one.
    public func flattened(start: Int = 0, end: Int = -1) -> Tensor {
        checked("flatten", [self], dg.flatten(raw, Int32(start), Int32(end)))
    }

    /// Elements `start[i] ..< stop[i]` by `strides[i]` along every axis.
    public func sliced(start: [Int], stop: [Int], strides: [Int]? = nil) -> Tensor {
        let s = strides ?? Array(repeating: 1, count: start.count)
        let r = withInt32s(start) { a, n in
            withInt32s(stop) { b, _ in withInt32s(s) { c, _ in dg.slice(raw, a, b, c, n) } }
        }
        return checked("slice(start: \(start), stop: \(stop), strides: \(s))", [self], r)
    }

    /// A copy with the region `start ..< stop` (by `strides`) replaced by `update`.
    public func updatingSlice(_ update: Tensor, start: [Int], stop: [Int], strides: [Int]? = nil) -> Tensor {
        let s = strides ?? Array(repeating: 1, count: start.count)
        let r = withInt32s(start) { a, n in
            withInt32s(stop) { b, _ in withInt32s(s) { c, _ in dg.sliceUpdate(raw, update.raw, a, b, c, n) } }
        }
        return checked("sliceUpdate", [self, update], r)
    }

    /// Elements at `indices` along `axis` (NumPy `take`); without an axis, from the flattened tensor.
    public func take(_ indices: Tensor, axis: Int) -> Tensor {
        checked("take(axis: \(axis))", [self, indices], dg.take(raw, indices.raw, Int32(axis)))
    }
    public func take(alongAxis axis: Int, _ indices: Tensor) -> Tensor {
        checked("takeAlongAxis", [self, indices], dg.takeAlongAxis(raw, indices.raw, Int32(axis)))
    }

    /// Padded with `value`: `widths[i] = (before, after)` for axis i; missing trailing axes are not padded.
    public func padded(_ widths: [(Int, Int)], value: Float = 0) -> Tensor {
        var all = widths
        while all.count < ndim { all.append((0, 0)) }
        let lo = all.map(\.0), hi = all.map(\.1)
        let v = scalarLike(Double(value))
        let r = withInt32s(lo) { a, n in withInt32s(hi) { b, _ in dg.pad(raw, a, b, n, v.raw) } }
        return checked("pad(\(lo), \(hi))", [self], r)
    }

    /// Each element repeated `count` times along `axis` (`torch.repeat_interleave`).
    public func repeated(_ count: Int, axis: Int) -> Tensor {
        checked("repeat", [self], dg.repeat(raw, Int32(count), Int32(axis)))
    }

    /// The whole tensor tiled `reps[i]` times along axis i (`torch.Tensor.repeat`).
    public func tiled(_ reps: [Int]) -> Tensor {
        checked("tile(\(reps))", [self], withInt32s(reps) { dg.tile(raw, $0, $1) })
    }

    /// Split into pieces at the given indices along `axis`.
    public func split(at indices: [Int], axis: Int = 0) -> [Tensor] {
        let v = withInt32s(indices) { dg.split(raw, $0, $1, Int32(axis)) }
        _ = checkStatus("split(at: \(indices))", [self])
        return tensors(of: v)
    }

    /// Split into `parts` equal pieces along `axis`.
    public func split(parts: Int, axis: Int = 0) -> [Tensor] {
        let v = dg.splitEqual(raw, Int32(parts), Int32(axis))
        _ = checkStatus("split(parts: \(parts))", [self])
        return tensors(of: v)
    }

    /// Nearest-neighbour upsampling of the spatial axes of a channels-last tensor `[N, *spatial, C]`.
    public func upsampledNearest(scale: Int) -> Tensor {
        var x = self
        for axis in 1..<(ndim - 1) { x = x.repeated(scale, axis: axis) }
        return x
    }
}

/// Tensors joined along an existing axis.
public func concatenated(_ tensors: [Tensor], axis: Int = 0) -> Tensor {
    checked("concatenate(axis: \(axis))", tensors, dg.concatenate(makeVector(tensors), Int32(axis)))
}

/// Tensors stacked along a new axis.
public func stacked(_ tensors: [Tensor], axis: Int = 0) -> Tensor {
    checked("stack(axis: \(axis))", tensors, dg.stack(makeVector(tensors), Int32(axis)))
}
