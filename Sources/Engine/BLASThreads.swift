import Foundation
#if canImport(Glibc)
    import Glibc
#endif

extension Engine {
    /// Sets OpenBLAS's thread count for the matrix products that follow (`openblas_set_num_threads`, looked up at run
    /// time because only the OpenBLAS build has it). Returns false when the process's BLAS has no such call.
    /// Data-parallel ranks on one machine use it to share the cores instead of each starting one BLAS thread per core.
    @discardableResult
    public static func setBLASThreads(_ count: Int) -> Bool {
        #if canImport(Glibc)
            guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "openblas_set_num_threads") else {
                return false
            }
            typealias SetThreads = @convention(c) (Int32) -> Void
            unsafeBitCast(symbol, to: SetThreads.self)(Int32(max(1, count)))
            return true
        #else
            return false
        #endif
    }
}
