import ArgumentParser
import SpotwiseCore

@main
struct Spotwise: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "spotwise",
        abstract: "Spot-aware training orchestrator: run training jobs on spot capacity without losing work.",
        discussion: """
            ML engineers write job specs (jobs/NAME.yaml) and check them with `spotwise validate`.
            See docs/job-spec.md for every field.
            """,
        version: SpotwiseVersion.current,
        subcommands: [
            Validate.self, Submit.self, Jobs.self, Job.self, Logs.self, Cancel.self, CoordinatorCommand.self,
            WorkerCommand.self, Demo.self, CheckpointCommand.self, ReportCommand.self, ModelsCommand.self,
            GateCommand.self, RunsCommand.self, Simulate.self,
        ]
    )
}
