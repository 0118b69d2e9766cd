import Foundation
import SpotwiseCore
import Testing

@Suite struct JobSummaryCodingTests {
    @Test func timesKeepTheirMillisecondsAndWholeSecondTimesStillDecode() throws {
        struct Stamp: Codable, Equatable { var at: Date }
        let stamp = Stamp(at: Date(timeIntervalSince1970: 1_800_000_000.125))
        let data = try JobSummary.encoder.encode(stamp)
        #expect(String(decoding: data, as: UTF8.self) == #"{"at":"2027-01-15T08:00:00.125Z"}"#)
        let back = try JobSummary.decoder.decode(Stamp.self, from: data)
        #expect(abs(back.at.timeIntervalSince(stamp.at)) < 0.001)
        let whole = try JobSummary.decoder.decode(Stamp.self, from: Data(#"{"at":"2027-01-15T08:00:00Z"}"#.utf8))
        #expect(whole.at == Date(timeIntervalSince1970: 1_800_000_000))
        #expect(throws: DecodingError.self) {
            try JobSummary.decoder.decode(Stamp.self, from: Data(#"{"at":"yesterday"}"#.utf8))
        }
    }

    /// A typed worker id is the plain string on the wire, both ways: agents built before the type
    /// read the registration reply unchanged.
    @Test func aWorkerIDIsThePlainStringOnTheWire() throws {
        let registered = WorkerProtocol.Registered(
            workerID: WorkerID("worker-1a2b"), token: "worker-1a2b.s", heartbeatEveryMilliseconds: 5_000,
            leaseMilliseconds: 15_000)
        let object = try #require(
            try JSONSerialization.jsonObject(with: JSONEncoder().encode(registered)) as? [String: Any])
        #expect(object["worker_id"] as? String == "worker-1a2b")
        let back = try JSONDecoder().decode(
            WorkerProtocol.Registered.self,
            from: Data(
                #"{"worker_id": "worker-9", "token": "t", "heartbeat_every_ms": 1, "lease_ms": 2}"#.utf8))
        #expect(back.workerID == WorkerID("worker-9"))
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(WorkerID.self, from: Data(#"{"rawValue": "worker-9"}"#.utf8))
        }
    }
}
