import Engine
import Foundation

/// The comparison table and its JSON twin. Ratios are oriented so that > 1 always means Swift is faster:
/// Swift/PyTorch for throughput (GFLOP/s), PyTorch/Swift for times (ms).
struct Report: Encodable {
    struct Row: Encodable {
        var workload: String
        var unit: String
        var higherIsBetter: Bool
        var swift: Double
        var torch: Double?
        var ratio: Double? {
            guard let torch, torch > 0, swift > 0 else { return nil }
            return higherIsBetter ? swift / torch : torch / swift
        }

        enum CodingKeys: String, CodingKey {
            case workload, unit, higherIsBetter = "higher_is_better", swift, torch, ratio
        }
        func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(workload, forKey: .workload)
            try c.encode(unit, forKey: .unit)
            try c.encode(higherIsBetter, forKey: .higherIsBetter)
            try c.encode(swift, forKey: .swift)
            try c.encodeIfPresent(torch, forKey: .torch)
            try c.encodeIfPresent(ratio, forKey: .ratio)
        }
    }

    struct Machine: Encodable {
        var cores = ProcessInfo.processInfo.activeProcessorCount
        var cpu = Report.cpuModel()
        var os = ProcessInfo.processInfo.operatingSystemVersionString
        var mlxVersion = Engine.mlxVersion
        var sgemmProvider = Engine.sgemmProvider
        enum CodingKeys: String, CodingKey {
            case cores, cpu, os, mlxVersion = "mlx_version", sgemmProvider = "sgemm_provider"
        }
    }

    /// Cores used by other processes while each side ran (see ``BackgroundLoad``).
    struct Background: Encodable {
        var duringSwift: Double?
        var duringTorch: Double?
        enum CodingKeys: String, CodingKey { case duringSwift = "during_swift", duringTorch = "during_torch" }
    }

    /// Above this many cores of other work, the numbers say more about the neighbours than about the engines.
    static let backgroundWarningCores = 0.2

    var date = ISO8601DateFormatter().string(from: Date())
    var machine = Machine()
    var warmup: Int
    var repeats: Int
    var swiftParameterCount: Int
    var torch: TorchReference.Results?
    var torchSkipped: String?
    var rows: [Row]
    var background: Background

    enum CodingKeys: String, CodingKey {
        case date, machine, warmup, repeats, swiftParameterCount = "swift_transformer_parameters", torch,
            torchSkipped = "torch_skipped", rows = "results",
            background = "background_cores"
    }

    init(
        gemm: [(size: Int, gigaflops: Double)], transformer: TransformerBench.Result, torch: TorchReference.Outcome,
        warmup: Int, repeats: Int, background: Background
    ) {
        self.background = background
        self.warmup = warmup
        self.repeats = repeats
        swiftParameterCount = transformer.parameterCount
        switch torch {
        case .measured(let results): self.torch = results
        case .unavailable(let reason): torchSkipped = reason
        }
        let t = self.torch
        rows = gemm.map { entry in
            Row(
                workload: "sgemm \(entry.size)³", unit: "GFLOP/s", higherIsBetter: true, swift: entry.gigaflops,
                torch: t?.gemmGigaflops["\(entry.size)"])
        }
        let shape = "\(TransformerBench.layers) layers, B\(TransformerBench.batch) T\(TransformerBench.tokens)"
        rows.append(
            Row(
                workload: "transformer forward (\(shape))", unit: "ms", higherIsBetter: false,
                swift: 1e3 * transformer.forwardSeconds, torch: t?.transformer.forwardMilliseconds))
        rows.append(
            Row(
                workload: "transformer fwd+bwd (\(shape))", unit: "ms", higherIsBetter: false,
                swift: 1e3 * transformer.forwardBackwardSeconds,
                torch: t?.transformer.forwardBackwardMilliseconds))
    }

    func printTable() {
        print("")
        print("machine: \(machine.cores) cores, \(machine.cpu); \(machine.os)")
        print("Swift:   MLX \(machine.mlxVersion), cblas_sgemm from \(machine.sgemmProvider)")
        if let torch {
            print("PyTorch: \(torch.torchVersion) CPU, \(torch.threads) threads, BLAS \(torch.blas)")
        }
        print(
            "timings: median of \(repeats) timed runs after \(warmup) warm-up run(s); ratio > 1 means Swift is faster")
        print("")
        let header = ["workload", "unit", "Swift", "PyTorch", "ratio"]
        let body = rows.map { row in
            [
                row.workload, row.unit, Self.format(row.swift), row.torch.map(Self.format) ?? "-",
                row.ratio.map { String(format: "%.2f×", $0) } ?? "-"
            ]
        }
        let widths = header.indices.map { column in ([header] + body).map { $0[column].count }.max()! }
        let line = { (cells: [String]) in
            zip(cells, widths).enumerated().map { index, pair in
                // Workload left-aligned, numbers right-aligned.
                let padding = String(repeating: " ", count: pair.1 - pair.0.count)
                return index == 0 ? pair.0 + padding : padding + pair.0
            }.joined(separator: "  ")
        }
        print(line(header))
        print(widths.map { String(repeating: "-", count: $0) }.joined(separator: "  "))
        for cells in body { print(line(cells)) }
        if let torchSkipped { print("\n\(torchSkipped)") }
        printBackground()
        if let torch, torch.transformer.parameters != swiftParameterCount {
            print(
                "\nwarning: the two transformers differ: \(swiftParameterCount) parameters in Swift, "
                    + "\(torch.transformer.parameters) in PyTorch")
        }
    }

    private func printBackground() {
        let phases = [("Swift", background.duringSwift), ("PyTorch", background.duringTorch)]
            .compactMap { name, cores in cores.map { (name, $0) } }
        guard !phases.isEmpty else { return }
        print(
            "\nother processes used "
                + phases.map { String(format: "%.2f cores during the %@ runs", $0.1, $0.0) }
                .joined(separator: ", ") + " (of \(machine.cores))")
        if phases.contains(where: { $0.1 > Self.backgroundWarningCores }) {
            print(
                "warning: the machine was busy with other work; these timings are unreliable, rerun on an idle machine")
        }
    }

    func writeJSON(to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try encoder.encode(self).write(to: URL(fileURLWithPath: path))
    }

    private static func format(_ value: Double) -> String { String(format: value >= 100 ? "%.0f" : "%.1f", value) }

    /// The "model name" line of /proc/cpuinfo (Linux); "unknown CPU" elsewhere.
    static func cpuModel() -> String {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
            let line = text.split(separator: "\n").first(where: { $0.hasPrefix("model name") }),
            let colon = line.firstIndex(of: ":")
        else { return "unknown CPU" }
        return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
    }
}
