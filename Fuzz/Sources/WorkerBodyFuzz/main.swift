import Foundation
import SpotwiseCore

// libFuzzer harness: what the coordinator does with a worker's body before any state is touched.
// The same bytes go through the nesting pre-scan and, when it passes, through the strict decoder of
// every worker body (registration, heartbeat, checkpoint commit, attempt finish, log and metric
// batches) and the value checks that follow. The pre-scan must never let through a body nested
// deeper than it says: that is checked against the decoder's own reading of the JSON.

private let limit = InputLimits.maxNestingDepth

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzWorkerBody(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let body = Data(bytes: data, count: size)
    if InputLimits.jsonNestingBeyond(limit, in: body) != nil { return 0 }
    checkNestingScan(body)
    if let beat = try? StrictBody<WorkerProtocol.Heartbeat>.decode(body, fields: WorkerProtocol.Heartbeat.fields) {
        _ = beat.problems
    }
    if let finished = try? StrictBody<WorkerProtocol.AttemptFinished>.decode(
        body, fields: WorkerProtocol.AttemptFinished.fields)
    {
        _ = finished.problems
    }
    _ = try? StrictBody<WorkerProtocol.Registration>.decode(body, fields: WorkerProtocol.Registration.fields)
    _ = try? StrictBody<WorkerProtocol.CheckpointCommitted>.decode(
        body, fields: WorkerProtocol.CheckpointCommitted.fields)
    _ = try? StrictBody<WorkerProtocol.LogBatch>.decode(body, fields: WorkerProtocol.LogBatch.fields)
    _ = try? StrictBody<WorkerProtocol.MetricBatch>.decode(body, fields: WorkerProtocol.MetricBatch.fields)
    return 0
}

/// Whatever the decoder reads as JSON nests no deeper than the pre-scan measured.
private func checkNestingScan(_ body: Data) {
    guard let value = try? JSONDecoder().decode(JSONValue.self, from: body) else { return }
    let depth = depth(of: value)
    guard depth > 0 else { return }
    if InputLimits.jsonNestingBeyond(depth - 1, in: body) == nil {
        fatalError("WorkerBodyFuzz: the decoder read \(depth) levels of nesting; the pre-scan measured fewer")
    }
}

private func depth(of value: JSONValue) -> Int {
    switch value {
    case .array(let items): 1 + (items.map(depth(of:)).max() ?? 0)
    case .object(let members): 1 + (members.values.map(depth(of:)).max() ?? 0)
    default: 0
    }
}
