import Checkpoints
import Foundation

/// A run folder's checkpoints as a new or resumed run meets them: a new run refuses a folder that holds another
/// run's checkpoints (or clears it when told to), a resumed run starts from the newest checkpoint whose manifest
/// verifies, and settings that differ from the checkpoint's are named.
public struct RunFolder {
    public let url: URL

    public init(_ url: URL) {
        self.url = url
    }

    /// The checkpoint folders of the run, oldest first.
    public var checkpoints: [(iteration: Int, url: URL)] { GRPOTrainer.checkpoints(in: url) }

    /// Temporary folders of checkpoint writes that never finished (the process was killed or the disk filled).
    public var unfinishedCheckpoints: [URL] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []
        return names.filter { $0.hasPrefix(".checkpoint-") && $0.hasSuffix(".tmp") }.sorted()
            .map { url.appendingPathComponent($0) }
    }

    /// Before a new run: refuses a folder with checkpoints (a run to resume or to overwrite), or with `overwrite`
    /// deletes them with their unfinished writes (unless `deleting` is false: a dry run), so that runs never mix.
    public func prepareNewRun(overwrite: Bool, deleting: Bool = true) throws {
        let found = checkpoints.map(\.url) + unfinishedCheckpoints
        guard !found.isEmpty else { return }
        guard overwrite else {
            throw RunFolderError.holdsAnotherRun(folder: url.path, checkpoints: found.map(\.lastPathComponent))
        }
        guard deleting else { return }
        for folder in found {
            try FileSystemFailure.wrapping("delete", path: folder) { try FileManager.default.removeItem(at: folder) }
        }
    }

    /// The checkpoint a resumed run starts from: the newest whose manifest verifies (older ones are tried in turn,
    /// each one passed over named in `warnings`), nil when the run has no checkpoint yet. Unfinished writes are
    /// deleted (with `removingUnfinished`). Throws when checkpoints exist and none verifies.
    public func resumePoint(removingUnfinished: Bool = true) throws -> (checkpoint: URL?, warnings: [String]) {
        if removingUnfinished {
            for unfinished in unfinishedCheckpoints { try? FileManager.default.removeItem(at: unfinished) }
        }
        var warnings: [String] = []
        for (_, checkpoint) in checkpoints.reversed() {
            do {
                let unchecked = try CheckpointManifest.verifyAllowingUnlisted(checkpoint)
                if !warnings.isEmpty { warnings.append("resuming from the older \(checkpoint.lastPathComponent)") }
                if let unchecked { warnings.append(unchecked) }
                return (checkpoint, warnings)
            } catch let error as CheckpointIntegrityError {
                warnings.append("skipping \(checkpoint.lastPathComponent): \(error)")
            }
        }
        guard checkpoints.isEmpty else { throw RunFolderError.noValidCheckpoint(folder: url.path, problems: warnings) }
        return (nil, warnings)
    }

    /// Settings the checkpoint was trained with that differ from `config` (from its `trainer_state.json`), sorted
    /// by name; empty for checkpoints written before settings were stored there.
    public static func settingDifferences(checkpoint: URL, config: GRPOTrainer.Config) throws -> [SettingDifference] {
        let state = try ConfigFile.object(from: checkpoint.appendingPathComponent("trainer_state.json"))
        guard let saved = state["config"] as? [String: Any] else { return [] }
        let current = try JSONSerialization.jsonObject(with: JSONEncoder().encode(config)) as! [String: Any]
        // Settings a resumed run may change without changing what it trains: its length (unless the learning rate
        // decays over it), evaluation, checkpoints, the batching of network calls (speed only) and the ZeRO stage
        // (the same steps, and checkpoints that do not depend on it).
        var free: Set = [
            "evalEvery", "evalPrompts", "checkpointEvery", "checkpointsTotalLimit", "rolloutBatchSize",
            "transitionBatchSize", "maxConsecutiveSkippedSteps", "zeroStage",
            "spSize"
        ]
        if config.lrScheduler == .constant || config.lrScheduler == .constantWithWarmup { free.insert("iterations") }
        return current.keys.sorted().filter { !free.contains($0) }.compactMap { key in
            let new = RunSettings.render(current[key]!)
            let old = saved[key].map(RunSettings.render) ?? "(not stored)"
            return old == new ? nil : SettingDifference(key: key, old: old, new: new)
        }
    }
}

extension RunFolder {
    /// Refuses a checkpoint whose network is not the one the run trains, before any model loads: `networkFolder`
    /// (`transformer`, `unet`) whole, or its LoRA adapters when `lora`.
    public static func checkNetwork(of checkpoint: URL, networkFolder: String, lora: Bool) throws {
        let files = Set((try? FileManager.default.contentsOfDirectory(atPath: checkpoint.path)) ?? [])
        let adapters = "pytorch_lora_weights.safetensors"
        func describe(lora: Bool, folder: String) -> String {
            lora ? "LoRA adapters (\(adapters))" : "a whole \(folder)/ network"
        }
        if lora ? files.contains(adapters) : files.contains(networkFolder) { return }
        let found =
            files.contains(adapters)
            ? describe(lora: true, folder: "")
            : files.sorted().first { ["transformer", "unet"].contains($0) }.map { describe(lora: false, folder: $0) }
                ?? "neither LoRA adapters nor a network folder"
        throw RunFolderError.networkMismatch(
            checkpoint: checkpoint.path, expected: describe(lora: lora, folder: networkFolder), found: found)
    }
}

/// A setting whose value on resume differs from the checkpoint's.
public struct SettingDifference: Equatable, CustomStringConvertible {
    public var key: String
    public var old: String
    public var new: String

    public var description: String { "\(key): \(old) in the checkpoint, \(new) now" }
}

/// Why a run cannot start or resume in its folder.
public enum RunFolderError: Error, CustomStringConvertible, Equatable {
    /// A new run into a folder that holds checkpoints.
    case holdsAnotherRun(folder: String, checkpoints: [String])
    /// Checkpoints exist, and none is complete.
    case noValidCheckpoint(folder: String, problems: [String])
    /// `--resume` of a folder with neither a checkpoint nor the run's config.json.
    case nothingToResume(folder: String)
    /// The resumed run's seed differs from the checkpoint's: it would not continue the run the checkpoint is of.
    case seedMismatch(checkpoint: String, old: String, new: String)
    /// The checkpoint holds another kind of network than the run trains (a UNet for a transformer, a whole network
    /// for LoRA adapters, …).
    case networkMismatch(checkpoint: String, expected: String, found: String)

    public var description: String {
        switch self {
        case .holdsAnotherRun(let folder, let checkpoints):
            let listed = checkpoints.prefix(4).joined(separator: ", ") + (checkpoints.count > 4 ? ", …" : "")
            return
                """
                \(folder) holds the checkpoints of another run (\(listed)): continue it with --resume \(folder), \
                or start a new run there with --overwrite (deletes them)
                """
        case .noValidCheckpoint(let folder, let problems):
            return "\(folder): no complete checkpoint to resume from:\n  " + problems.joined(separator: "\n  ")
        case .nothingToResume(let folder):
            return "\(folder): no checkpoint-*/ folder and no config.json: not a run to resume"
        case .networkMismatch(let checkpoint, let expected, let found):
            return "\(checkpoint) holds \(found), this run trains \(expected): resume with the settings it was "
                + "trained with, or start a new run"
        case .seedMismatch(let checkpoint, let old, let new):
            return
                """
                \(checkpoint) was trained with seed \(old), the resumed run has seed \(new): it would not continue \
                that run (drop --seed, or start a new run)
                """
        }
    }
}
