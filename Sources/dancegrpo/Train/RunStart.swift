import Foundation
import Training

/// Where a `train` run writes and what it starts from, decided before any model loads (and by `--dry-run` alike):
/// a new run into a folder free of other runs' checkpoints, or a resumed run from its newest complete checkpoint
/// with the same seed, any other changed setting named.
struct RunStart {
    var folder: URL
    /// The checkpoint to resume from; nil starts at iteration 0.
    var checkpoint: URL?
    var warnings: [String] = []

    /// `resume` is what --resume named; `dryRun` checks without deleting anything.
    static func prepare(
        folder: URL, resume: (runFolder: URL, checkpoint: URL?)?, settings: GRPOTrainer.Config, overwrite: Bool,
        dryRun: Bool
    ) throws -> RunStart {
        // Ranks other than 0 (started with RANK set) find the folder as rank 0 left it: only rank 0 changes it.
        let changesFolder = !dryRun && (ProcessInfo.processInfo.environment["RANK"] ?? "0") == "0"
        var start = RunStart(folder: folder)
        if let resume {
            if let named = resume.checkpoint {
                if let warning = try CheckpointManifest.verifyAllowingUnlisted(named) { start.warnings.append(warning) }
                start.checkpoint = named
            } else {
                let point = try RunFolder(resume.runFolder).resumePoint(removingUnfinished: changesFolder)
                start.checkpoint = point.checkpoint
                start.warnings = point.warnings
                if point.checkpoint == nil {
                    let config = resume.runFolder.appendingPathComponent("config.json")
                    guard FileManager.default.fileExists(atPath: config.path) else {
                        throw RunFolderError.nothingToResume(folder: resume.runFolder.path)
                    }
                    start.warnings.append(
                        "\(resume.runFolder.path) has no checkpoint yet: the run starts again from iteration 0")
                }
            }
        }
        if let checkpoint = start.checkpoint {
            let differences = try RunFolder.settingDifferences(checkpoint: checkpoint, config: settings)
            if let seed = differences.first(where: { $0.key == "seed" }) {
                throw RunFolderError.seedMismatch(checkpoint: checkpoint.path, old: seed.old, new: seed.new)
            }
            if !differences.isEmpty {
                start.warnings.append(
                    "settings differ from \(checkpoint.lastPathComponent)'s: "
                        + differences.map(\.description).joined(separator: "; "))
            }
        }
        // A new run, or a resumed one writing elsewhere, needs a folder free of other runs' checkpoints.
        if start.checkpoint.map({ $0.deletingLastPathComponent().standardizedFileURL }) != folder.standardizedFileURL
            && !(resume != nil && resume!.runFolder.standardizedFileURL == folder.standardizedFileURL)
        {
            try RunFolder(folder).prepareNewRun(overwrite: overwrite, deleting: changesFolder)
        }
        return start
    }
}
