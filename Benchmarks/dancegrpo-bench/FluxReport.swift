import Foundation

/// The tables of the FLUX modes. Speed ratios are diffusers/Swift times, so > 1 means Swift is faster, as in the
/// main report.
enum FluxReport {
    static func printSpeed(
        swift: [FluxBench.Result], torch: Result<FluxTorchReference.Results, FluxBenchSkipped>,
        warmup: Int, repeats: Int, background: [(String, Double?)]
    ) {
        let reference = try? torch.get()
        print("")
        print("machine: \(ProcessInfo.processInfo.activeProcessorCount) cores, \(Report.cpuModel())")
        if let reference {
            print(
                """
                diffusers \(reference.diffusersVersion), torch \(reference.torchVersion) CPU, \(reference.threads) \
                threads
                """
            )
        }
        print(
            "timings: median of \(repeats) timed runs after \(warmup) warm-up run(s); ratio > 1 means Swift is faster")
        print("")
        var body: [[String]] = []
        for result in swift {
            let theirs = reference?.results[result.dtype.description]
            func row(_ pass: String, _ seconds: Double?, _ torchMilliseconds: Double?) {
                guard let seconds else { return }
                let ms = 1e3 * seconds
                body.append([
                    "\(pass) \(result.dtype)", format(ms), torchMilliseconds.map(format) ?? "-",
                    torchMilliseconds.map { String(format: "%.2f×", $0 / ms) } ?? "-"
                ])
            }
            row("forward", result.forwardSeconds, theirs?.forwardMilliseconds)
            row("fwd+bwd", result.forwardBackwardSeconds, theirs?.forwardBackwardMilliseconds)
        }
        printTable(header: ["FLUX transformer", "Swift ms", "diffusers ms", "ratio"], body: body)
        if case .failure(let why) = torch { print("\n\(why)") }
        if let reference, let swiftCount = swift.first?.parameterCount,
            let torchCount = reference.results.values.first?.parameters
        {
            print(
                "\nparameters: \(swiftCount) in Swift, \(torchCount) in diffusers"
                    + (swiftCount == torchCount ? "" : " (warning: the two models differ)"))
        }
        let phases = background.compactMap { name, cores in cores.map { (name, $0) } }
        if !phases.isEmpty {
            print(
                "\nother processes used "
                    + phases.map { String(format: "%.2f cores during the %@ runs", $0.1, $0.0) }
                    .joined(separator: ", "))
            if phases.contains(where: { $0.1 > Report.backgroundWarningCores }) {
                print(
                    """
                    warning: the machine was busy with other work; these timings are unreliable, rerun on an idle \
                    machine
                    """
                )
            }
        }
    }

    static func printMemory(_ rows: [FluxMemoryBench.Row]) {
        func mib(_ kib: Int) -> String { String(format: "%.1f", Double(kib) / 1024) }
        func mibBytes(_ bytes: Int) -> String {
            String(format: bytes < 1 << 20 ? "%.3f" : "%.1f", Double(bytes) / 1048576)
        }
        print("")
        print("peak = VmHWM (equal to ru_maxrss in these child processes), baseline = VmRSS just before loading; MiB")
        print("")
        let body = rows.map { row -> [String] in
            let l = row.loaded
            return [
                row.label, "\(l.parameters)", "\(row.written.shards)", mibBytes(row.written.bytes),
                mibBytes(l.modelBytes),
                mib(l.baseline.residentKiB), mib(l.afterLoad.highWaterKiB), mib(l.final.highWaterKiB),
                mib(l.final.maxResidentKiB), mibBytes(l.enginePeakBytes),
                mib(l.final.highWaterKiB - l.baseline.residentKiB),
                String(format: "%.2f", l.overhead), String(format: "%.2f", l.seconds)
            ]
        }
        printTable(
            header: [
                "load", "parameters", "shards", "file", "model", "baseline", "peak@load", "peak",
                "maxrss", "engine peak", "peak−base", "(peak−base)/model", "s"
            ], body: body)
    }

    private static func format(_ value: Double) -> String { String(format: value >= 100 ? "%.0f" : "%.1f", value) }

    /// First column left-aligned, the rest right-aligned.
    private static func printTable(header: [String], body: [[String]]) {
        let widths = header.indices.map { column in ([header] + body).map { $0[column].count }.max()! }
        func line(_ cells: [String]) -> String {
            zip(cells, widths).enumerated().map { index, pair in
                let padding = String(repeating: " ", count: pair.1 - pair.0.count)
                return index == 0 ? pair.0 + padding : padding + pair.0
            }.joined(separator: "  ")
        }
        print(line(header))
        print(widths.map { String(repeating: "-", count: $0) }.joined(separator: "  "))
        for cells in body { print(line(cells)) }
    }
}
