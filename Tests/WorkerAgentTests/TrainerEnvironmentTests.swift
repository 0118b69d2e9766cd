import Foundation
import SpotwiseCore
import Testing

@testable import WorkerAgent

/// The trainer's environment comes from an allow-list: the agent's credentials never reach the
/// code a job runs (issue 14, item 3: the bootstrap token did, and with it other teams' jobs).
@Suite struct TrainerEnvironmentTests {
    /// What an agent's environment holds on a real node: credentials among the ordinary.
    static let agent = [
        "SPOTWISE_BOOTSTRAP_TOKEN": "boot-secret", "SPOTWISE_TOKEN": "admin-secret",
        "SPOTWISE_MODAL_TOKEN": "modal-secret", "SPOTWISE_COORDINATOR_URL": "http://coordinator:7070",
        "SPOTWISE_HOME": "/var/lib/spotwise", "AWS_ACCESS_KEY_ID": "AKIDAGENT", "AWS_SECRET_ACCESS_KEY": "agent-key",
        "AWS_SESSION_TOKEN": "agent-session", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/credentials/agent",
        "AWS_PROFILE": "ops", "GOOGLE_APPLICATION_CREDENTIALS": "/etc/gcp.json", "GITHUB_TOKEN": "ghp_x",
        "HF_TOKEN": "hf_x", "NVIDIA_API_KEY": "nvapi-x", "CUDA_AUTH_TOKEN": "x", "NCCL_SECRET": "x",
        "LD_PRELOAD": "/tmp/evil.so", "SSH_AUTH_SOCK": "/tmp/ssh-agent", "DATABASE_PASSWORD": "pw",
        "PATH": "/usr/local/bin:/usr/bin", "HOME": "/home/agent", "USER": "agent", "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8", "TZ": "UTC", "TMPDIR": "/scratch/tmp", "PYTHONPATH": "/opt/spotwise",
        "CUDA_VISIBLE_DEVICES": "0,1", "CUDA_HOME": "/usr/local/cuda", "NVIDIA_VISIBLE_DEVICES": "all",
        "NVIDIA_DRIVER_CAPABILITIES": "compute,utility", "NCCL_SOCKET_IFNAME": "eth0",
        "LD_LIBRARY_PATH": "/usr/local/nvidia/lib64", "HIP_VISIBLE_DEVICES": "0",
    ]

    static func assignment(env: [String: String] = [:], gang: WorkerProtocol.GangMember? = nil)
        -> WorkerProtocol.Assignment
    {
        WorkerProtocol.Assignment(
            job: "job-1", jobName: "digits", attempt: 3, epoch: 9, run: "python3 train.py", workdir: ".", env: env,
            hyperparameters: ["lr": .double(0.1)], checkpointEverySteps: 50, keepLast: 2,
            checkpointStorage: "file:///tmp/c", resume: nil, gang: gang)
    }

    static let paths = TrainerEnvironment.ContractPaths(
        checkpointDirectory: URL(fileURLWithPath: "/w/job-1-3/checkpoints"),
        progressFile: URL(fileURLWithPath: "/w/job-1-3/progress.jsonl"),
        outputDirectory: URL(fileURLWithPath: "/w/job-1-3/output"), resumeDirectory: nil)

    func environment(job: [String: String] = [:], operatorSet: [String: String] = [:]) throws -> [String: String] {
        TrainerEnvironment.compose(
            agent: Self.agent, operatorSet: operatorSet, job: job,
            contract: try TrainerEnvironment.contract(for: Self.assignment(env: job), paths: Self.paths))
    }

    @Test func noneOfTheAgentsCredentialsReachTheTrainer() throws {
        let trainer = try environment()
        let contract = Set(try TrainerEnvironment.contract(for: Self.assignment(), paths: Self.paths).keys)
        let passed = Set(trainer.keys).subtracting(contract)
        #expect(
            passed == [
                "PATH", "HOME", "USER", "LANG", "LC_ALL", "TZ", "TMPDIR", "PYTHONPATH", "CUDA_VISIBLE_DEVICES",
                "CUDA_HOME", "NVIDIA_VISIBLE_DEVICES", "NVIDIA_DRIVER_CAPABILITIES", "NCCL_SOCKET_IFNAME",
                "LD_LIBRARY_PATH", "HIP_VISIBLE_DEVICES",
            ])
        for (name, value) in trainer { #expect(Self.agent[name] == nil || Self.agent[name] == value) }
        // No value of a credential, under any name.
        let secrets = [
            "boot-secret", "admin-secret", "modal-secret", "agent-key", "agent-session", "AKIDAGENT", "nvapi-x",
        ]
        #expect(trainer.values.allSatisfy { value in !secrets.contains { value.contains($0) } })
        #expect(trainer["SPOTWISE_BOOTSTRAP_TOKEN"] == nil && trainer["LD_PRELOAD"] == nil)
    }

    @Test func theJobsEnvIsKeptAndWinsOverTheAgentsIncludingItsOwnCloudKeys() throws {
        let job = [
            "SECRET_KEY": "job-secret", "AWS_ACCESS_KEY_ID": "AKIDJOB", "AWS_SECRET_ACCESS_KEY": "job-key",
            "PATH": "/opt/venv/bin:/usr/bin", "WANDB_MODE": "offline",
        ]
        let trainer = try environment(job: job)
        for (name, value) in job { #expect(trainer[name] == value, "\(name)") }
        #expect(
            trainer["AWS_SESSION_TOKEN"] == nil, "the agent's session token does not ride along with the job's keys")
    }

    @Test func theContractsVariablesAreSetAndWinOverTheJobAndTheOperator() throws {
        let trainer = try environment(
            job: ["SPOTWISE_CHECKPOINT_DIR": "/etc", "SPOTWISE_JOB_ID": "other-job"],
            operatorSet: ["SPOTWISE_PROGRESS": "/dev/null", "DIGITS_STEP_DELAY_MS": "20"])
        #expect(trainer["SPOTWISE_JOB_ID"] == "job-1")
        #expect(trainer["SPOTWISE_ATTEMPT"] == "3")
        #expect(trainer["SPOTWISE_CHECKPOINT_DIR"] == "/w/job-1-3/checkpoints")
        #expect(trainer["SPOTWISE_CHECKPOINT_EVERY"] == "50")
        #expect(trainer["SPOTWISE_PROGRESS"] == "/w/job-1-3/progress.jsonl")
        #expect(trainer["SPOTWISE_OUTPUT_DIR"] == "/w/job-1-3/output")
        #expect(trainer["SPOTWISE_HPARAMS"] == #"{"lr":0.1}"#)
        #expect(trainer["SPOTWISE_RESUME_DIR"] == nil)
        #expect(trainer["DIGITS_STEP_DELAY_MS"] == "20", "what the operator passes with --trainer-env is kept")
        #expect(trainer["RANK"] == nil && trainer["MASTER_ADDR"] == nil)
    }

    @Test func aGangMemberAndAResumeGetTheirVariables() throws {
        var paths = Self.paths
        paths.resumeDirectory = URL(fileURLWithPath: "/w/job-1-3/resume/rank-1")
        let contract = try TrainerEnvironment.contract(
            for: Self.assignment(
                gang: WorkerProtocol.GangMember(rank: 1, worldSize: 4, masterAddress: "10.0.0.5", masterPort: 23_456)),
            paths: paths)
        #expect(contract["SPOTWISE_RESUME_DIR"] == "/w/job-1-3/resume/rank-1")
        #expect(contract["SPOTWISE_RANK"] == "1" && contract["RANK"] == "1")
        #expect(contract["SPOTWISE_WORLD_SIZE"] == "4" && contract["WORLD_SIZE"] == "4")
        #expect(contract["MASTER_ADDR"] == "10.0.0.5" && contract["MASTER_PORT"] == "23456")
        #expect(contract["LOCAL_RANK"] == "0" && contract["LOCAL_WORLD_SIZE"] == "1")
    }

    @Test(arguments: [
        "SPOTWISE_BOOTSTRAP_TOKEN", "AWS_SECRET_ACCESS_KEY", "NVIDIA_API_KEY", "CUDA_AUTH_TOKEN", "NCCL_PASSWORD",
        "LC_SECRET", "HSA_CREDENTIALS", "ROCM_ACCESS_TOKEN", "LD_PRELOAD", "PYTHONSTARTUP", "BASH_ENV", "ENV",
    ])
    func aVariableOffTheListOrNamedLikeACredentialDoesNotPass(_ name: String) {
        #expect(!TrainerEnvironment.passes(name))
    }
}
