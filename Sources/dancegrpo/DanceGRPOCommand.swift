import ArgumentParser
import Checkpoints
import Engine
import Foundation

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

    /// ArgumentParser's entry point with the errors of the work itself printed escaped: they quote names, keys and
    /// values read from files, and a crafted file must not write escape sequences to the user's terminal.
    /// ArgumentParser's own errors (usage, `--help`, validation) keep its printing, their messages escaped too.
    /// Engine failures anywhere in the command are collected by a process-wide scope and surface here as errors.
    static func main() {
        Engine.installProcessErrorScope()
        do {
            var command = try parseAsRoot()
            try command.run()
            try Engine.checkErrors()
        } catch let error as ValidationError {
            exit(withError: ValidationError(TopLevelError.escaped(error.message)))
        } catch {
            guard let message = TopLevelError.message(error) else { exit(withError: error) }
            FileHandle.standardError.write(Data(("Error: " + TopLevelError.escaped(message) + "\n").utf8))
            Foundation.exit(EXIT_FAILURE)
        }
    }
}
