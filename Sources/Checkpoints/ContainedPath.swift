import Foundation

// File names read from files (a sharded index's `weight_map`, an embedding cache's manifest) are resolved against
// the folder that holds them; a name must not lead out of it, or a downloaded index could make the loader read any
// file the user can.

/// Resolving a relative file name read from a file inside a folder.
public enum ContainedPath {
    /// `folder/name` when `name` is relative, has no `..` component, and (symbolic links resolved) lies inside
    /// `folder`; nil otherwise. A name that does not exist yet is judged by its path alone.
    public static func resolve(_ name: String, in folder: URL) -> URL? {
        guard !name.isEmpty, !name.hasPrefix("/"), !name.contains("\0") else { return nil }
        let components = name.split(separator: "/", omittingEmptySubsequences: true)
        guard !components.isEmpty, !components.contains("..") else { return nil }
        let candidate = folder.appendingPathComponent(name)
        let root = folder.standardizedFileURL.resolvingSymlinksInPath().path
        let resolved = candidate.standardizedFileURL.resolvingSymlinksInPath().path
        let prefix = root.hasSuffix("/") ? root : root + "/"
        guard resolved.hasPrefix(prefix) else { return nil }
        return candidate
    }
}
