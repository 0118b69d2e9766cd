import Foundation
import SpotwiseTesting
import Testing

/// The example trainer follows the trainer contract: interrupted 5 times at random steps (killed
/// without notice and stopped with SIGTERM), it ends with byte-identical final weights.
@Suite struct TrainerContractTests {
    @Test func theDigitsTrainerResumesToByteIdenticalWeights() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", RepositoryPaths.url("jobs/digits/test_resume.py").path]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(output)")
        #expect(output.contains("identical final weights: True"), "\(output)")
    }
}
