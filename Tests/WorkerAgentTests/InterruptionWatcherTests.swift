import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import Provisioners
import SpotwiseTesting
import Synchronization
import Testing
import WorkerAgent

/// Each watcher against a local server that speaks its real endpoint's format.
@Suite struct InterruptionWatcherTests {
    @Test func theEC2WatcherReadsSpotInstanceActionThroughAnIMDSv2Session() async throws {
        let market = SimulatedSpotMarket()
        try await withLiveServer(market.router()) { base in
            // IMDSv2 refuses a request without the session token, as EC2 does.
            let bare = try await HTTPClient.shared.execute(
                HTTPClientRequest(url: base + "/nodes/n1/latest/meta-data/spot/instance-action"), timeout: .seconds(30))
            #expect(bare.status == .unauthorized)

            // (A generous timeout: the full suite loads the machine; the server answers at once.)
            let watcher = EC2MetadataWatcher(baseURL: base + "/nodes/n1", timeout: .seconds(30))
            #expect(await watcher.check() == nil)
            let at = Date(timeIntervalSince1970: 1_900_000_000)
            market.postNotice(node: "n2", terminationAt: at)
            #expect(await watcher.check() == nil, "a notice for another node is not ours")
            market.postNotice(node: "n1", terminationAt: at)
            let notice = try #require(await watcher.check())
            #expect(notice.kind == .spotTermination && notice.deadline == at && notice.isTermination)
        }
    }

    @Test func theEC2WatcherSeesNothingWhenMetadataIsUnreachable() async throws {
        let watcher = EC2MetadataWatcher(baseURL: "http://127.0.0.1:9")
        #expect(await watcher.check() == nil)
    }

    /// GCE answers `TRUE` or `FALSE`, and 403 without `Metadata-Flavor: Google`.
    @Test func theGCEWatcherReadsInstancePreemptedWithTheFlavorHeader() async throws {
        let preempted = Mutex(false)
        let headerSeen = Mutex(0)
        let router = Router()
        router.get("computeMetadata/v1/instance/preempted") { request, _ -> Response in
            guard request.headers[HTTPField.Name("Metadata-Flavor")!] == "Google" else {
                return Response(status: .forbidden)
            }
            headerSeen.withLock { $0 += 1 }
            let text = preempted.withLock { $0 } ? "TRUE" : "FALSE"
            return Response(status: .ok, body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
        }
        try await withLiveServer(router) { base in
            let watcher = GCEMetadataWatcher(baseURL: base, timeout: .seconds(30))
            #expect(await watcher.check() == nil)
            preempted.withLock { $0 = true }
            #expect(await watcher.check()?.kind == .preempted)
            #expect(headerSeen.withLock { $0 } == 2)
        }
    }

    /// A watcher of its own flag is a SIGTERM notice once triggered; a watcher of another flag
    /// sees nothing, and watchers of one flag see the same. No signal is sent to the process that
    /// runs the tests: the real handler is proved in a child, by `WorkerSigtermTests`.
    @Test func aWatcherOfItsOwnFlagSeesItsTriggerAndNoOtherWatchers() async {
        let flag = SignalFlag()
        let watcher = SignalWatcher(flag: flag)
        let sharing = SignalWatcher(flag: flag)
        let other = SignalWatcher(flag: SignalFlag())
        #expect(watcher.name == "sigterm")
        #expect(await watcher.check() == nil)
        #expect(!flag.isRaised)
        watcher.trigger()
        let notice = await watcher.check()
        #expect(notice == InterruptionNotice(kind: .sigterm) && notice?.isTermination == true)
        #expect(flag.isRaised)
        #expect(await sharing.check()?.kind == .sigterm)
        #expect(await other.check() == nil, "another watcher's flag is not raised")
        let raisedDirectly = SignalFlag()
        raisedDirectly.raise()
        #expect(await SignalWatcher(flag: raisedDirectly).check()?.kind == .sigterm)
    }
}
