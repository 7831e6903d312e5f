import Checkpoints
import ArgumentParser
import Engine
import Foundation

/// Lists what a checkpoint holds (a safetensors file, a folder, a sharded folder with an index, or a PyTorch
/// `torch.save` file such as `pytorch_model.bin`): the first thing to run on weights downloaded from elsewhere, before
/// pointing a model at them.
struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract:
            """
            List the tensors of a safetensors or PyTorch (.pt/.bin) file or checkpoint folder: keys, dtypes, shapes, \
            parameter counts.
            """
    )

    @Argument(
        help:
            """
            A .safetensors file, a folder of them (with or without *.safetensors.index.json), or a torch.save file \
            (.pt, .pth, .bin, .ckpt).
            """
    )
    var path: String

    @Option(help: "Show only keys containing this text.")
    var filter: String?

    @Option(help: "Print at most this many keys (0: all).")
    var limit = 50

    @Flag(
        help:
            """
            Read every tensor's bytes and report its size, dtype, shape and count of non-finite values (NaN, ±inf); \
            exits non-zero when the file is damaged or holds non-finite values.
            """
    )
    var verify = false

    func validate() throws {
        guard limit >= 0 else { throw ValidationError("--limit must be 0 (all) or a positive count, found \(limit)") }
    }

    func run() throws {
        if verify {
            try runVerification()
            return
        }
        let checkpoint = try openCheckpoint(path: URL(fileURLWithPath: path))
        let keys = checkpoint.keys.filter { filter == nil || $0.contains(filter!) }
        let name = checkpoint.source.escapedForTerminal
        if let safetensors = checkpoint as? SafeTensorsCheckpoint {
            print(
                "\(name): \(safetensors.files.count) file(s), \(checkpoint.keys.count) tensors"
            )
            for file in safetensors.files where !file.metadata.isEmpty {
                let pairs = file.metadata.sorted { $0.key < $1.key }.map {
                    "\($0.key.escapedForTerminal)=\(String($0.value.prefix(60)).escapedForTerminal)"
                }
                print("  metadata of \(file.url.lastPathComponent): \(pairs.joined(separator: ", "))")
            }
        } else if let torch = checkpoint as? TorchCheckpointFile {
            print(
                "\(name): PyTorch \(torch.format.rawValue) format, \(checkpoint.keys.count) tensors"
            )
            if !torch.skippedKeys.isEmpty {
                let shown = torch.skippedKeys.prefix(8).map(\.escapedForTerminal).joined(separator: ", ")
                print("  not tensors (skipped): \(shown)\(torch.skippedKeys.count > 8 ? ", …" : "")")
            }
        } else if let sharded = checkpoint as? ShardedTorchCheckpoint {
            print(
                "\(name): \(sharded.files.count) PyTorch file(s), \(checkpoint.keys.count) tensors"
            )
        }
        // Sizes come from the file: summed as doubles, which cannot overflow (the readers bound each tensor).
        var elementsByDType: [DType: Double] = [:]
        let shown = keys.prefix(limit == 0 ? keys.count : limit).map(\.escapedForTerminal)
        let width = shown.map(\.count).max() ?? 0
        for (i, key) in keys.enumerated() {
            let info = checkpoint.dtypeAndShape(key)!
            elementsByDType[info.dtype, default: 0] += info.shape.reduce(1.0) { $0 * Double($1) }
            if limit == 0 || i < limit {
                print(
                    """
                      \(shown[i].padding(toLength: width, withPad: " ", startingAt: 0))  \
                    \(info.dtype.safetensorsName.padding(toLength: 4, withPad: " ", startingAt: 0)) \
                    \(info.shape)
                    """
                )
            }
        }
        if limit > 0 && keys.count > limit { print("  … \(keys.count - limit) more (use --limit 0 to list all)") }
        let total = elementsByDType.values.reduce(0, +)
        let bytes = elementsByDType.reduce(0) { $0 + $1.value * Double($1.key.size) }
        let perDType = elementsByDType.sorted { $0.value > $1.value }.map { "\($0.key): \(formatCount($0.value))" }
        print("\(formatCount(total)) parameters (\(perDType.joined(separator: ", "))), \(formatBytes(bytes))")
    }
}

func formatCount(_ n: Int) -> String { formatCount(Double(n)) }

func formatCount(_ n: Double) -> String {
    switch n {
    case 1e9...: return String(format: "%.2fB", n / 1e9)
    case 1e6...: return String(format: "%.2fM", n / 1e6)
    case 1e3...: return String(format: "%.1fK", n / 1e3)
    default: return String(format: "%.0f", n)
    }
}

func formatBytes(_ n: Int) -> String { formatBytes(Double(n)) }

func formatBytes(_ n: Double) -> String {
    switch n {
    case Double(1 << 30)...: return String(format: "%.2f GiB", n / Double(1 << 30))
    case Double(1 << 20)...: return String(format: "%.1f MiB", n / Double(1 << 20))
    case 1024...: return String(format: "%.1f KiB", n / 1024)
    default: return String(format: "%.0f B", n)
    }
}

extension InspectCommand {
    /// `--verify`: every tensor read back (CheckpointVerifier), one line each, then a summary.
    fileprivate func runVerification() throws {
        let url = URL(fileURLWithPath: path)
        var shown = 0
        let report = try CheckpointVerifier.verify(path: url) { tensor in
            guard filter == nil || tensor.key.contains(filter!) else { return }
            shown += 1
            guard limit == 0 || shown <= limit || tensor.nonFinite > 0 else { return }
            let flag = tensor.nonFinite > 0 ? "  \(tensor.nonFinite) non-finite" : ""
            print(
                """
                  \(tensor.key.escapedForTerminal)  \(tensor.dtype.safetensorsName) \(tensor.shape) \
                \(formatBytes(tensor.bytes))\(flag)
                """)
        }
        if limit > 0 && shown > limit {
            print("  … \(shown - limit) more without non-finite values (use --limit 0 to list all)")
        }
        let damaged = report.tensorsWithNonFinite
        print(
            """
            \(report.source.escapedForTerminal): verified \(report.tensors.count) tensors, \
            \(formatCount(report.totalElements)) values, \(formatBytes(report.totalBytes)); \
            \(report.totalNonFinite) non-finite values in \(damaged.count) tensors
            """)
        guard damaged.isEmpty else { throw NonFiniteTensors(source: report.source, keys: damaged) }
    }
}

/// `inspect --verify` found NaN or infinite values.
struct NonFiniteTensors: Error, CustomStringConvertible {
    let source: String
    let keys: [String]

    var description: String {
        let listed = keys.prefix(5).map { "'\($0.escapedForTerminal)'" }.joined(separator: ", ")
        return """
            \(source.escapedForTerminal): \(keys.count) tensors hold NaN or infinite values (\(listed)\
            \(keys.count > 5 ? ", …" : ""))
            """
    }
}
