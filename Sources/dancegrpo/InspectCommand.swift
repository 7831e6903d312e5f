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

    func run() throws {
        let checkpoint = try openCheckpoint(path: URL(fileURLWithPath: path))
        let keys = checkpoint.keys.filter { filter == nil || $0.contains(filter!) }
        if let safetensors = checkpoint as? SafeTensorsCheckpoint {
            print("\(checkpoint.source): \(safetensors.files.count) file(s), \(checkpoint.keys.count) tensors")
            for file in safetensors.files where !file.metadata.isEmpty {
                let pairs = file.metadata.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value.prefix(60))" }
                print("  metadata of \(file.url.lastPathComponent): \(pairs.joined(separator: ", "))")
            }
        } else if let torch = checkpoint as? TorchCheckpointFile {
            print("\(checkpoint.source): PyTorch \(torch.format.rawValue) format, \(checkpoint.keys.count) tensors")
            if !torch.skippedKeys.isEmpty {
                let shown = torch.skippedKeys.prefix(8).joined(separator: ", ")
                print("  not tensors (skipped): \(shown)\(torch.skippedKeys.count > 8 ? ", …" : "")")
            }
        } else if let sharded = checkpoint as? ShardedTorchCheckpoint {
            print("\(checkpoint.source): \(sharded.files.count) PyTorch file(s), \(checkpoint.keys.count) tensors")
        }
        var elementsByDType: [DType: Int] = [:]
        let width = keys.prefix(limit == 0 ? keys.count : limit).map(\.count).max() ?? 0
        for (i, key) in keys.enumerated() {
            let info = checkpoint.dtypeAndShape(key)!
            elementsByDType[info.dtype, default: 0] += info.shape.reduce(1, *)
            if limit == 0 || i < limit {
                print(
                    """
                      \(key.padding(toLength: width, withPad: " ", startingAt: 0))  \
                    \(info.dtype.safetensorsName.padding(toLength: 4, withPad: " ", startingAt: 0)) \
                    \(info.shape)
                    """
                )
            }
        }
        if limit > 0 && keys.count > limit { print("  … \(keys.count - limit) more (use --limit 0 to list all)") }
        let total = elementsByDType.values.reduce(0, +)
        let bytes = elementsByDType.reduce(0) { $0 + $1.value * $1.key.size }
        let perDType = elementsByDType.sorted { $0.value > $1.value }.map { "\($0.key): \(formatCount($0.value))" }
        print("\(formatCount(total)) parameters (\(perDType.joined(separator: ", "))), \(formatBytes(bytes))")
    }
}

func formatCount(_ n: Int) -> String {
    switch n {
    case 1_000_000_000...: return String(format: "%.2fB", Double(n) / 1e9)
    case 1_000_000...: return String(format: "%.2fM", Double(n) / 1e6)
    case 1_000...: return String(format: "%.1fK", Double(n) / 1e3)
    default: return "\(n)"
    }
}

func formatBytes(_ n: Int) -> String {
    switch n {
    case (1 << 30)...: return String(format: "%.2f GiB", Double(n) / Double(1 << 30))
    case (1 << 20)...: return String(format: "%.1f MiB", Double(n) / Double(1 << 20))
    case (1 << 10)...: return String(format: "%.1f KiB", Double(n) / 1024)
    default: return "\(n) B"
    }
}
