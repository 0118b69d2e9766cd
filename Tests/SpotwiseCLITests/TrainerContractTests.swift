import Foundation
import SpotwiseTesting
import Testing

/// The example trainer follows the trainer contract: interrupted 5 times at random steps (killed
/// without notice and stopped with SIGTERM), it ends with byte-identical final weights.
@Suite struct TrainerContractTests {
    /// Runs a Python check script of the repository; its exit status and output.
    static func runScript(_ path: String) throws -> (Int32, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", RepositoryPaths.url(path).path]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, output)
    }

    @Test func theDigitsTrainerResumesToByteIdenticalWeights() throws {
        let (status, output) = try Self.runScript("jobs/digits/test_resume.py")
        #expect(status == 0, "\(output)")
        #expect(output.contains("identical final weights: True"), "\(output)")
    }

    /// The data-parallel trainer as a gang: a notice to one rank makes both checkpoint the same
    /// step; resumed twice, the final weights are byte-identical to an uninterrupted 2-rank run,
    /// and 3 ranks' replicas agree.
    @Test func theDataParallelTrainerResumesAsAGangToByteIdenticalWeights() throws {
        let (status, output) = try Self.runScript("jobs/digits-ddp/test_gang.py")
        #expect(status == 0, "\(output)")
        #expect(output.contains("final weights byte-identical"), "\(output)")
    }
}
