import ArgumentParser

@main
struct DanceGRPOCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dancegrpo",
        abstract: "GRPO fine-tuning of diffusion and flow-matching image generators, on MLX.",
        subcommands: [SelfCheckCommand.self, TrainCommand.self, PretrainCommand.self, SampleCommand.self, PreprocessCommand.self, InspectCommand.self],
        defaultSubcommand: SelfCheckCommand.self)
}
