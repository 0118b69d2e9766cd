import ArgumentParser
import Foundation
import SpotwiseCore

struct Validate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check job spec files and print every problem with its file, line and field.",
        discussion: "Prints `FILE: ok` for a valid spec. Exits with status 1 if any file has a problem."
    )

    @Argument(help: "Job spec files (YAML or JSON).", completion: .file(extensions: ["yaml", "yml", "json"]))
    var files: [String]

    func run() async throws {
        let report = Self.report(for: files, parser: JobSpecParser())
        print(report.text, terminator: "")
        if report.failed { throw ExitCode(1) }
    }

    /// What `spotwise validate` prints for these files, and whether any failed.
    static func report(for files: [String], parser: JobSpecParser) -> (text: String, failed: Bool) {
        var text = ""
        var failed = false
        for file in files {
            // The file's type and size first; the parser then applies the limits the coordinator
            // applies to a request body (InputLimits).
            let result = SpecFile.contents(of: file).flatMap { parser.parse($0, file: file) }
            switch result {
            case .success:
                text += "\(file): ok\n"
            case .failure(let error):
                failed = true
                text += error.description + "\n"
            }
        }
        return (text, failed)
    }
}
