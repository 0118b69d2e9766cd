import Foundation
import SpotwiseCore
import Testing

@testable import WorkerAgent

/// A `checkpoint.storage` this node cannot use is a configuration error that names the value and
/// what is allowed (the coordinator refuses such specs; an agent checks again where it resolves).
@Suite struct CheckpointStorageSettingTests {
    static let configuration = WorkerAgentConfiguration(
        coordinatorURL: "http://127.0.0.1:1", bootstrapToken: "b", name: "n", provider: .local,
        pool: WorkerPool(
            region: "local-a", market: .spot, instanceType: "t", pricePerHour: .zero, onDemandPricePerHour: .zero),
        workDirectory: FileManager.default.temporaryDirectory, jobRoot: FileManager.default.temporaryDirectory,
        watchers: [])

    @Test(arguments: ["ftp://host/checkpoints", "checkpoints", "file://", "file://../outside", "s3://"])
    func aStorageThisAgentCannotUseIsAConfigurationError(storage: String) {
        do {
            _ = try CheckpointStorageSetting.store(for: storage, configuration: Self.configuration)
            Issue.record("\(storage) accepted")
        } catch let error as CheckpointStorageSetting.ConfigurationError {
            #expect(error.value == storage)
            #expect(error.description.contains("'\(storage)'"))
            #expect(error.description.contains("allowed: file://PATH"))
        } catch {
            Issue.record("\(storage): not a configuration error: \(error)")
        }
    }

    @Test func aDirectoryUnderTheJobRootIsAStore() throws {
        _ = try CheckpointStorageSetting.store(for: "file://checkpoints", configuration: Self.configuration)
    }
}
