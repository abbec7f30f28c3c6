import CSD

/// The statistics of an edit's steps, gathered from its progress for `--report`.
final class StepLog {
    var steps: [EditStepStatistics] = []
}
