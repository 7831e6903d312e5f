internal import CMLXShim

/// The engine's memory accounting (bytes held by MLX's allocator, not the process's resident set).
public enum Memory {
    public static var active: Int { Int(dg.activeMemory()) }
    public static var peak: Int { Int(dg.peakMemory()) }
    public static var cache: Int { Int(dg.cacheMemory()) }
    public static func resetPeak() { dg.resetPeakMemory() }
    public static func clearCache() { dg.clearCache() }
    /// Sets the allocator's cache limit; returns the previous one.
    @discardableResult public static func setCacheLimit(_ bytes: Int) -> Int { Int(dg.setCacheLimit(bytes)) }
}
