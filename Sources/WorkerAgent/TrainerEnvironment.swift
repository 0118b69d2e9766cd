import Foundation
import SpotwiseCore

/// The trainer's environment, built from an allow-list and never from the agent's whole
/// environment: a trainer runs whatever code a job brings, and the agent's environment holds its
/// credentials (the bootstrap token, which registers workers and so would be handed other jobs
/// and their `env`; cloud keys; the operator's own secrets).
///
/// From the agent, only a minimal system set and the accelerator's variables pass (and of those,
/// none whose name says it is a credential); then what the operator set for every trainer
/// (`spotwise worker --trainer-env NAME`), the job's `env`, and last the contract's `SPOTWISE_*`
/// variables (docs/job-spec.md, "The trainer's environment").
public enum TrainerEnvironment {
    /// System variables a program expects to find. `PYTHONPATH` passes because container images
    /// set it to find the trainer's code; it names directories, not secrets.
    public static let systemNames: Set<String> = [
        "PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "TZ", "TMPDIR", "PYTHONPATH",
    ]
    public static let systemPrefixes = ["LC_"]
    /// What selects and finds the accelerator: CUDA's and the NVIDIA container runtime's
    /// variables, NCCL's (a gang's network), ROCm's, Neuron's and TPU's device selection, and the
    /// library path CUDA images set for the driver's libraries.
    public static let acceleratorNames: Set<String> = [
        "LD_LIBRARY_PATH", "HIP_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES", "GPU_DEVICE_ORDINAL",
        "NEURON_RT_VISIBLE_CORES", "TPU_VISIBLE_CHIPS",
    ]
    public static let acceleratorPrefixes = ["CUDA_", "NVIDIA_", "NCCL_", "ROCM_", "HSA_"]
    /// Parts of a name (split at `_`) that mark a credential: such a variable never passes from
    /// the agent even under an allowed prefix (`NVIDIA_API_KEY` is an NGC credential).
    public static let credentialWords: Set<String> = [
        "TOKEN", "SECRET", "PASSWORD", "PASSWD", "KEY", "CREDENTIAL", "CREDENTIALS", "AUTH", "AUTHORIZATION",
    ]

    /// Whether a variable of the agent's own environment may reach a trainer.
    public static func passes(_ name: String) -> Bool {
        let words = name.uppercased().split(separator: "_").map(String.init)
        guard !words.contains(where: credentialWords.contains) else { return false }
        return systemNames.contains(name) || acceleratorNames.contains(name)
            || (systemPrefixes + acceleratorPrefixes).contains { name.hasPrefix($0) }
    }

    /// The trainer's environment: the agent's allowed variables, then the operator's, then the
    /// job's, then the contract's (each wins over those before it).
    public static func compose(
        agent: [String: String], operatorSet: [String: String], job: [String: String], contract: [String: String]
    ) -> [String: String] {
        var environment = agent.filter { passes($0.key) }
        environment.merge(operatorSet) { _, new in new }
        environment.merge(job) { _, new in new }
        environment.merge(contract) { _, new in new }
        return environment
    }

    /// Where an attempt's contract variables point.
    public struct ContractPaths: Sendable {
        public var checkpointDirectory: URL
        public var progressFile: URL
        public var outputDirectory: URL
        /// The directory to resume from; nil when the attempt starts from step 0.
        public var resumeDirectory: URL?

        public init(checkpointDirectory: URL, progressFile: URL, outputDirectory: URL, resumeDirectory: URL?) {
            self.checkpointDirectory = checkpointDirectory
            self.progressFile = progressFile
            self.outputDirectory = outputDirectory
            self.resumeDirectory = resumeDirectory
        }
    }

    /// The trainer contract's variables for an attempt, and for a gang member torchrun's names too.
    public static func contract(for assignment: WorkerProtocol.Assignment, paths: ContractPaths) throws -> [String:
        String]
    {
        var contract = [
            "SPOTWISE_JOB_ID": assignment.job,
            "SPOTWISE_ATTEMPT": String(assignment.attempt),
            "SPOTWISE_CHECKPOINT_DIR": paths.checkpointDirectory.path,
            "SPOTWISE_CHECKPOINT_EVERY": String(assignment.checkpointEverySteps),
            "SPOTWISE_PROGRESS": paths.progressFile.path,
            "SPOTWISE_OUTPUT_DIR": paths.outputDirectory.path,
            "SPOTWISE_HPARAMS": String(decoding: try JSONEncoder().encode(assignment.hyperparameters), as: UTF8.self),
        ]
        if let resume = paths.resumeDirectory { contract["SPOTWISE_RESUME_DIR"] = resume.path }
        if let gang = assignment.gang {
            // The contract's names, and torchrun's for trainers written for it.
            for (names, value) in [
                (["SPOTWISE_RANK", "RANK"], String(gang.rank)),
                (["SPOTWISE_WORLD_SIZE", "WORLD_SIZE"], String(gang.worldSize)),
                (["MASTER_ADDR"], gang.masterAddress), (["MASTER_PORT"], String(gang.masterPort)),
                (["LOCAL_RANK"], "0"), (["LOCAL_WORLD_SIZE"], "1"),
            ] {
                for name in names { contract[name] = value }
            }
        }
        return contract
    }
}
