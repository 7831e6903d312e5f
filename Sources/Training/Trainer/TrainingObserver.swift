import Foundation

/// What a training run reports as it goes, in order: the evaluation before training (`evaluated` at iteration 0, on
/// a fresh run), then per iteration its `evaluated` (when one is due) and `iteration`, and `checkpointSaved` when
/// one is written; `finished` once at the end with the final evaluation.
public enum TrainingEvent {
    case started(firstIteration: Int)
    case evaluated(Evaluation.Result, iteration: Int)
    case iteration(GRPOTrainer.IterationLog)
    case checkpointSaved(URL, iteration: Int)
    case timeBudgetReached(minutes: Double)
    case finished(Evaluation.Result, iteration: Int, seconds: Double)
}

/// Whether the run goes on after an event; a `stop` from any observer ends it after the current iteration (every
/// rank stops there: rank 0's observers decide).
public enum TrainingDecision {
    case proceed
    case stop
}

/// Receives a run's events on the main rank: progress display, logs, TensorBoard, plots, early stopping.
public protocol TrainingObserver: AnyObject {
    func trainer(_ trainer: GRPOTrainer, didReport event: TrainingEvent) throws -> TrainingDecision
}
