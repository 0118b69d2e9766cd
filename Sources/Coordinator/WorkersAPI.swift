import CoordinatorCore
import Foundation
import HTTPTypes
import Hummingbird
import SpotwiseCore
import StateStore

/// `/v1/workers`: registration with the bootstrap token, and heartbeats that renew an attempt's
/// lease. A heartbeat with a stale epoch gets 409 and changes nothing; a worker touching another
/// worker's attempt gets 403.
public struct WorkersAPI: Sendable {
    let store: any StateStore
    let policy: LeasePolicy
    let metrics: CoordinatorMetrics
    let clock: any CoordinatorClock
    let board: LiveBoard
    let digests: WorkerDigestCache

    static let workerIDPrefix = "worker-"
    static let maxBodyBytes = 64 * 1024

    public static let routes = [
        "POST /v1/workers", "POST /v1/workers/{id}/heartbeat", "POST /v1/workers/{id}/assignment",
        "DELETE /v1/workers/{id}",
    ]

    func register(on router: Router<CoordinatorContext>) {
        router.post("v1/workers", use: registerWorker)
        router.post("v1/workers/:id/heartbeat", use: heartbeat)
        router.post("v1/workers/:id/assignment", use: assignment)
        router.delete("v1/workers/:id", use: deregister)
    }

    var ending: AttemptEnding { AttemptEnding(store: store, board: board, clock: clock) }

    public typealias Heartbeat = WorkerProtocol.Heartbeat
    public typealias HeartbeatReply = WorkerProtocol.HeartbeatReply

    /// Decodes a JSON body strictly, in one parse: malformed JSON, a body that is not an object,
    /// missing, mistyped and unknown fields are 400s that say which. (The heartbeat is the hot path:
    /// an earlier version parsed every body twice, once only to list its keys.)
    static func decode<T: Decodable>(_ type: T.Type, from body: ByteBuffer, fields: Set<String>) throws -> T {
        try refuseDeepNesting(body)
        do {
            return try StrictBody<T>.decode(Data(buffer: body), fields: fields)
        } catch let unknown as UnknownFields {
            throw APIError.badRequest(
                "unknown_field",
                "unknown field(s) \(unknown.names.joined(separator: ", ")); allowed: \(fields.sorted().joined(separator: ", "))"
            )
        } catch DecodingError.keyNotFound(let key, _) {
            throw APIError.badRequest("missing_field", "missing field '\(key.stringValue)'")
        } catch DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context) {
            guard !context.codingPath.isEmpty else {
                throw APIError.badRequest("malformed_json", "the body must be a JSON object")
            }
            let field = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw APIError.badRequest("wrong_type", "field '\(field)' has the wrong type: \(context.debugDescription)")
        } catch DecodingError.dataCorrupted(let context) where !context.codingPath.isEmpty {
            let field = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw APIError.badRequest("invalid_value", "field '\(field)': \(context.debugDescription)")
        } catch {
            throw APIError.badRequest("malformed_json", "the body must be a JSON object: \(error)")
        }
    }

    /// A body nested deeper than `InputLimits.maxNestingDepth` is a 400 before any decoder walks it.
    static func refuseDeepNesting(_ body: ByteBuffer) throws {
        let limit = InputLimits.maxNestingDepth
        if let (line, column) = InputLimits.jsonNestingBeyond(limit, in: body.readableBytesView) {
            throw APIError.badRequest(
                "nested_too_deeply",
                "the body nests more than \(limit) levels of objects and arrays (line \(line), column \(column)); allowed: at most \(limit)"
            )
        }
    }

    @Sendable func registerWorker(_ request: Request, context: CoordinatorContext) async throws -> Response {
        guard context.role == .bootstrap || context.role == .admin else {
            throw APIError.forbidden(
                "\(context.role?.kind ?? "no token") cannot register a worker; that needs the bootstrap token")
        }
        let body = try await request.body(upTo: Self.maxBodyBytes, context: context)
        let registration = try Self.decode(
            WorkerProtocol.Registration.self, from: body, fields: WorkerProtocol.Registration.fields)
        guard (1...100).contains(registration.name.count), (1...40).contains(registration.provider.count) else {
            throw APIError.badRequest("invalid_worker", "name must be 1-100 characters and provider 1-40")
        }
        if let address = registration.address,
            !(1...253).contains(address.count)
                || !address.allSatisfy({ $0.isLetter || $0.isNumber || ".:-".contains($0) })
        {
            throw APIError.badRequest(
                "invalid_worker",
                "address must be a host name or IP address (letters, digits, '.', ':', '-'), 1-253 characters")
        }
        if registration.pool != nil, ProviderName(rawValue: registration.provider) == nil {
            let allowed = ProviderName.allCases.map(\.rawValue).joined(separator: ", ")
            throw APIError.badRequest(
                "invalid_worker", "provider '\(registration.provider)' is unknown; allowed: \(allowed)")
        }
        let id = WorkerID(Self.workerIDPrefix + UUID().uuidString.prefix(8).lowercased())
        let token = "\(id).\(AccessTokens.generate())"
        try await store.registerWorker(
            WorkerRecord(
                id: id, secretDigest: AccessTokens.hexDigest(token), name: registration.name,
                provider: registration.provider, registeredAt: clock.now, pool: registration.pool,
                address: registration.address))
        board.sawWorker(id, atMilliseconds: clock.nowMilliseconds())
        return try JobsAPI.json(
            WorkerProtocol.Registered(
                workerID: id, token: token, heartbeatEveryMilliseconds: policy.heartbeatMilliseconds,
                leaseMilliseconds: policy.leaseMilliseconds), status: .created)
    }

    @Sendable func heartbeat(_ request: Request, context: CoordinatorContext) async throws -> Response {
        let workerID = WorkerID(context.parameters.get("id") ?? "")
        guard context.role == .worker(workerID) else {
            throw APIError.forbidden(
                "only worker \(workerID) itself may heartbeat as \(workerID), with its own token, not \(context.role?.kind ?? "no token")"
            )
        }
        let body = try await request.body(upTo: Self.maxBodyBytes, context: context)
        let beat = try Self.decode(Heartbeat.self, from: body, fields: Heartbeat.fields)
        if !beat.problems.isEmpty {
            throw APIError.badRequest("invalid_heartbeat", beat.problems.joined(separator: "; "))
        }
        let jobID = JobID(beat.job)
        let epoch = LeaseEpoch(beat.epoch)
        let now = clock.nowMilliseconds()
        // Renewed only if this worker holds the lease of this epoch and attempt (one statement on
        // PostgreSQL); otherwise the lease, read after, says why and nothing changed.
        guard
            let renewed = try await store.renewLease(
                job: jobID, epoch: epoch, attempt: beat.attempt, heldBy: workerID,
                expiresAtMilliseconds: now + policy.leaseMilliseconds)
        else {
            guard let lease = try await store.lease(job: jobID) else {
                throw APIError.notFound("no attempt of job \(beat.job) is leased")
            }
            guard lease.workerID == workerID || lease.members.contains(workerID) else {
                throw APIError.forbidden("job \(beat.job) is leased to another worker")
            }
            // The right epoch with another attempt number is no more current than a wrong epoch.
            metrics.staleHeartbeats.increment()
            let stale = StateStoreError.staleEpoch(jobID, epoch: epoch, current: lease.revoked ? nil : lease.epoch)
            throw APIError.conflict(
                "stale_epoch", "\(stale); this attempt has been replaced or ended: stop the trainer")
        }
        metrics.heartbeats.increment()
        board.sawWorker(workerID, atMilliseconds: now)
        board.report(
            job: jobID, attempt: beat.attempt, epoch: epoch, step: beat.step, totalSteps: beat.totalSteps,
            committedStep: beat.committedStep, atMilliseconds: now)
        if let notice = beat.notice {
            metrics.interruptionNotices.increment()
            // Its node is going away: not placed on again, even while it stays to see its attempt end.
            if HeartbeatCore.meansLeaving(notice) { board.setLeaving(workerID, true, atMilliseconds: now) }
        }
        if renewed.members.count > 1,
            try await gangLostMember(renewed, heardFrom: workerID, notice: beat.notice, now: now)
        {
            return try JobsAPI.json(HeartbeatReply(command: .stop, leaseExpiresInMilliseconds: 0))
        }
        guard let stored = try await store.job(jobID) else { throw APIError.notFound("no job \(jobID)") }
        let job =
            stored.state == .provisioning
            ? try await markStarted(jobID, attempt: beat.attempt, epoch: epoch) : stored
        let command = HeartbeatCore.command(
            for: HeartbeatCore.Attempt(
                jobIsTerminal: job.state.isTerminal, isLive: job.record.liveAttempt?.epoch == epoch,
                stopAsked: board.stopRequest(jobID) != nil, gangSize: max(1, renewed.members.count),
                gangNotice: renewed.members.count > 1 ? board.gangNotice(jobID, epoch: epoch) : nil),
            notice: beat.notice)
        return try JobsAPI.json(
            HeartbeatReply(command: command, leaseExpiresInMilliseconds: renewed.expiresAtMilliseconds - now))
    }

    /// Records a gang member's heartbeat; when another member has been silent longer than a lease,
    /// ends the attempt as lost (the gang restarts from its newest complete checkpoint, on the
    /// members still live and a replacement for the lost one) and returns true.
    func gangLostMember(_ lease: Lease, heardFrom workerID: WorkerID, notice: String?, now: Int64) async throws -> Bool
    {
        board.sawMember(workerID, job: lease.job, epoch: lease.epoch, atMilliseconds: now, notice: notice)
        guard
            let silent = board.silentMember(
                of: lease.members, job: lease.job, epoch: lease.epoch, atMilliseconds: now,
                silenceMilliseconds: policy.leaseMilliseconds)
        else { return false }
        guard try await ending.end(lease.job, attempt: lease.attempt, epoch: lease.epoch, reason: .lost) != nil
        else { return true }
        let line =
            "gang member \(silent.worker) (rank \(lease.rank(of: silent.worker) ?? -1)) silent for \(silent.milliseconds / 1000) s: attempt \(lease.attempt) ends; the gang restarts from its newest complete checkpoint"
        try? await store.appendHistory(job: lease.job, lines: [line], at: clock.now)
        return true
    }

    /// The first heartbeat of a provisioning attempt means its trainer began: provisioning -> running.
    func markStarted(_ id: JobID, attempt: Int, epoch: LeaseEpoch) async throws -> StoredJob {
        do {
            let result = try await ending.events.apply(to: id, at: clock.now) { job in
                guard job.state == .provisioning, let live = job.record.liveAttempt, live.number == attempt,
                    live.epoch == epoch
                else { return nil }
                return .attemptStarted(attempt: attempt)
            }
            switch result {
            case .applied(let job), .declined(let job): return job
            }
        } catch StateStoreError.jobNotFound {
            throw APIError.notFound("no job \(id)")
        } catch StateStoreError.versionConflict {
            throw APIError(.serviceUnavailable, code: "busy", message: "job \(id) kept changing; heartbeat again")
        }
    }

    /// POST /v1/workers/{id}/assignment: an idle worker asks what to run. Answers the attempt
    /// leased to it (placed by the scheduler), or `{"assignment": null}`.
    @Sendable func assignment(_ request: Request, context: CoordinatorContext) async throws -> Response {
        let workerID = WorkerID(context.parameters.get("id") ?? "")
        guard context.role == .worker(workerID) else {
            throw APIError.forbidden(
                "only worker \(workerID) itself may ask for its assignment, with its own token, not \(context.role?.kind ?? "no token")"
            )
        }
        let now = clock.nowMilliseconds()
        board.sawWorker(workerID, atMilliseconds: now)
        board.setLeaving(workerID, false, atMilliseconds: now)
        for lease in try await store.liveLeases(worker: workerID) where lease.expiresAtMilliseconds > now {
            guard let job = try await store.job(lease.job), let live = job.record.liveAttempt,
                live.epoch == lease.epoch, job.state.hasLiveAttempt
            else { continue }
            let spec = job.spec
            var gang: WorkerProtocol.GangMember?
            if lease.members.count > 1, let rank = lease.rank(of: workerID) {
                let master = try await store.worker(lease.members[0])
                gang = WorkerProtocol.GangMember(
                    rank: rank, worldSize: lease.members.count, masterAddress: master?.address ?? "127.0.0.1",
                    masterPort: Self.masterPort(job: job.id, epoch: live.epoch))
            }
            return try JobsAPI.json(
                WorkerProtocol.AssignmentReply(
                    assignment: WorkerProtocol.Assignment(
                        job: job.id.rawValue, jobName: spec.name, attempt: live.number, epoch: live.epoch.value,
                        run: spec.run, workdir: spec.workdir, env: spec.env, hyperparameters: spec.hyperparameters,
                        checkpointEverySteps: spec.checkpoint.everySteps, keepLast: spec.checkpoint.keepLast,
                        checkpointStorage: spec.checkpoint.storage.description,
                        resume: job.record.committedCheckpoint, gang: gang)))
        }
        return try JobsAPI.json(WorkerProtocol.AssignmentReply(assignment: nil))
    }

    /// Rank 0's port for a gang attempt: from the job and the epoch, in 20000-39999, so gangs on one
    /// host (local workers) and successive attempts of one gang do not meet on a port.
    static func masterPort(job: JobID, epoch: LeaseEpoch) -> Int {
        var hash: UInt64 = 14_695_981_039_346_656_037
        for byte in job.rawValue.utf8 { hash = (hash ^ UInt64(byte)) &* 1_099_511_628_211 }
        return 20_000 + Int((hash &+ epoch.value) % 20_000)
    }

    /// DELETE /v1/workers/{id}: the worker (or an admin) says it is going away. An attempt it
    /// still holds ends as preempted without notice (the job recovers elsewhere); its token stops
    /// working at once.
    @Sendable func deregister(_ request: Request, context: CoordinatorContext) async throws -> Response {
        let workerID = WorkerID(context.parameters.get("id") ?? "")
        guard context.role == .worker(workerID) || context.role == .admin else {
            throw APIError.forbidden(
                "only worker \(workerID) itself or the admin token may deregister it, not \(context.role?.kind ?? "no token")"
            )
        }
        guard try await store.worker(workerID) != nil else { throw APIError.notFound("no worker \(workerID)") }
        for lease in try await store.liveLeases(worker: workerID) {
            try await ending.end(
                lease.job, attempt: lease.attempt, epoch: lease.epoch, reason: .preempted(withNotice: false))
            try await store.revokeLease(job: lease.job, epoch: lease.epoch)
        }
        try await store.deregisterWorker(workerID, at: clock.now)
        digests.forget(workerID)
        return Response(status: .noContent)
    }
}
