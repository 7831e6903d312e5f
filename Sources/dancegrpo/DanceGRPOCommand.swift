import ArgumentParser
import Engine

@main
struct DanceGRPOCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dancegrpo",
        abstract: "GRPO fine-tuning of diffusion and flow-matching image generators, on MLX.",
        subcommands: [
            TrainCommand.self, PretrainCommand.self, EvaluateCommand.self, SampleCommand.self, ScoreCommand.self,
            PreprocessCommand.self, PlotCommand.self, InspectCommand.self, SelfCheckCommand.self
        ],
        defaultSubcommand: TrainCommand.self)

    static func main() { Engine.installProcessErrorScope(); main(nil) }
}
