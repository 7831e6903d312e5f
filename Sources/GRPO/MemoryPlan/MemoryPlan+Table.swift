import Foundation

extension MemoryPlan {
    /// Bytes as GiB with two decimals (three below 0.1 GiB, so tiny models do not read as zero).
    public static func gibibytes(_ bytes: Int) -> String {
        let value = Double(bytes) / Double(1 << 30)
        return String(format: value < 0.1 ? "%.3f GiB" : "%.2f GiB", value)
    }

    /// One line of the settings the plan assumes.
    public var settingsLine: String {
        let i = inputs
        var parts = [
            "\(i.worldSize) rank\(i.worldSize == 1 ? "" : "s")", "ZeRO stage \(stage)",
            "compute \(i.computeDType)", "checkpointing \(i.gradientCheckpointing ? "on" : "off")",
            "\(i.trainableParameters) trained parameters",
            "\(i.transitionsPerCall) transition\(i.transitionsPerCall == 1 ? "" : "s") per call",
            "rollout batch \(i.rolloutBatch)"
        ]
        if i.ema { parts.append("EMA") }
        if i.reference { parts.append("KL reference") }
        return parts.joined(separator: ", ")
    }

    /// The plan as a table (item, GiB), the activations with and without checkpointing, and the total against
    /// `device` when given.
    public func table(device: DeviceMemory? = nil) -> String {
        var lines = ["memory plan per rank (\(settingsLine)):"]
        func row(_ name: String, _ bytes: Int, _ note: String = "") {
            let padded = name.padding(toLength: 28, withPad: " ", startingAt: 0)
            lines.append("  \(padded)\(Self.gibibytes(bytes))\(note.isEmpty ? "" : "  (\(note))")")
        }
        for item in Item.allCases {
            switch item {
            case .activations:
                var other = inputs
                other.gradientCheckpointing.toggle()
                let otherBytes = MemoryPlan(other).bytes(.activations)
                let note =
                    inputs.activations == nil
                    ? "no estimate for this model"
                    : "\(inputs.gradientCheckpointing ? "without" : "with") checkpointing: "
                        + Self.gibibytes(otherBytes)
                row("activations (training)", bytes(item), note)
            case .rollout:
                row("rollout (forward only)", bytes(item), "phases: only the largest counts")
            case .optimizerStep:
                row("optimizer step (transient)", bytes(item))
            default:
                row(item.rawValue, bytes(item))
            }
        }
        if let device {
            row("total", total, "of \(Self.gibibytes(device.bytes)): \(device.source)")
        } else {
            row("total", total)
        }
        return lines.joined(separator: "\n")
    }
}
