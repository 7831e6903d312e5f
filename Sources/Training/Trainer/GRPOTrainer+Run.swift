import Engine
import Foundation

extension GRPOTrainer {
    /// The whole run from the current iteration to `config.iterations`: the evaluation before training (fresh runs),
    /// then iterations with held-out evaluations every `evalEvery` and checkpoints every `checkpointEvery` (with the
    /// ranks' weights checked to agree first), until the last iteration, the time budget (rank 0's clock decides for
    /// every rank) or an observer's `stop`; then a checkpoint and an evaluation of the last iteration unless one was
    /// just made. Every rank calls this; rank 0 alone writes checkpoints (sharded states are gathered by all) and
    /// reports to `observers`.
    @discardableResult
    public func run(timeBudgetMinutes: Double = 0, observers: [any TrainingObserver] = []) throws -> Evaluation.Result {
        let main = processGroup.isMain
        let started = Date()
        var stopRequested = false
        func report(_ event: TrainingEvent) throws {
            guard main else { return }
            for observer in observers where try observer.trainer(self, didReport: event) == .stop {
                stopRequested = true
            }
        }
        try report(.started(firstIteration: iteration))
        if iteration == 0 { try report(.evaluated(try evaluate(), iteration: 0)) }

        var latest: (iteration: Int, result: Evaluation.Result)? = nil
        var checkpointed = iteration
        func due(_ every: Int) -> Bool { (every > 0 && iteration % every == 0) || iteration == config.iterations }
        while iteration < config.iterations {
            if try shouldStop(started: started, timeBudgetMinutes: timeBudgetMinutes, stopRequested: stopRequested) {
                if !stopRequested { try report(.timeBudgetReached(minutes: timeBudgetMinutes)) }
                break
            }
            var entry = try step()
            // A failed engine op leaves placeholder results; none may be trained on past this iteration.
            try Engine.checkErrors()
            if due(config.checkpointEvery) {
                try checkRanksAgree()
                checkpointed = iteration
            }
            if due(config.evalEvery) { latest = (iteration, try evaluate()) }
            if let (at, result) = latest, at == iteration {
                entry.heldOutReward = result.meanReward
                entry.heldOutAccuracy = result.accuracy
                try report(.evaluated(result, iteration: iteration))
            }
            try report(.iteration(entry))
            if due(config.checkpointEvery) && (main || sharded != nil) {
                try report(.checkpointSaved(try saveCheckpoint(), iteration: iteration))
            }
        }
        if iteration != checkpointed {
            try checkRanksAgree()
            if main || sharded != nil { try report(.checkpointSaved(try saveCheckpoint(), iteration: iteration)) }
        }
        let final = latest?.iteration == iteration ? latest!.result : try evaluate()
        try report(.finished(final, iteration: iteration, seconds: Date().timeIntervalSince(started)))
        return final
    }

    /// Whether to end the run before the next iteration: rank 0's verdict (its clock, its observers), shared with
    /// every rank so that all stop after the same iteration.
    private func shouldStop(started: Date, timeBudgetMinutes: Double, stopRequested: Bool) throws -> Bool {
        let overBudget = timeBudgetMinutes > 0 && Date().timeIntervalSince(started) > timeBudgetMinutes * 60
        let local: Double = overBudget ? 2 : stopRequested ? 1 : 0
        let verdict = processGroup.worldSize > 1 ? try processGroup.allGather([local])[0] : local
        return verdict > 0
    }
}
