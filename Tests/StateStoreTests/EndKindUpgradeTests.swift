import Foundation
import SpotwiseCore
import StateStore
import Testing

/// Schema 7 stores an attempt's end as a type (`end_kind`). A database a schema-6 coordinator
/// wrote, with ends only in words, upgrades with every row given the kind its words meant, so
/// billing reads the same interruptions and lower bounds before and after.
@Suite struct EndKindUpgradeTests {
    /// Every end a schema-6 coordinator wrote (`AttemptEndReason.words`, cancel, `max_cost`), and
    /// words no version wrote.
    static let oldEnds: [(words: String, kind: AttemptEndKind)] = [
        ("completed", .completed),
        ("preempted with notice", .preemptedWithNotice),
        ("preempted without notice", .preemptedWithoutNotice),
        ("lost (lease expired)", .lost),
        ("failed with exit code 3", .failed),
        ("infrastructure error: no capacity in us-east-1", .infrastructure),
        ("cancelled", .cancelled),
        ("resized to a gang of 2", .resized),
        ("stopped: max_cost reached ($12.000000 of $10)", .stopped),
        ("something a fork wrote", .other),
    ]

    @Test(arguments: [StoreKind.sqlite])
    func aVersionSixDatabaseUpgradesWithEveryEndTyped(kind: StoreKind) async throws {
        let (store, location) = try await kind.open(migrated: false)
        let sql = try #require(store as? SQLStateStore)
        try await sql.migrate(upTo: 6)
        #expect(try await sql.schemaVersion() == 6)
        let job = try await store.submit(submission("old-job")).job.id
        let pool = String(decoding: try JSONEncoder().encode(AttemptRecordsConformanceTests.spotPool), as: UTF8.self)
        // What a schema-6 coordinator wrote: one ended row per old end, and one still running.
        for (index, end) in Self.oldEnds.enumerated() {
            try await sql.execute(
                "INSERT INTO attempt_segments (job_id, attempt, epoch, worker_id, provider, pool_json, started_at_ms, "
                    + "ended_at_ms, end_reason, last_step, committed_step) VALUES ('old-job', \(index + 1), "
                    + "\(index + 1), 'w', 'local', '\(pool)', \(index * 1_000), \(index * 1_000 + 500), "
                    + "'\(end.words.replacingOccurrences(of: "'", with: "''"))', 10, 5)")
        }
        let running = Self.oldEnds.count + 1
        try await sql.execute(
            "INSERT INTO attempt_segments (job_id, attempt, epoch, worker_id, provider, pool_json, started_at_ms) "
                + "VALUES ('old-job', \(running), \(running), 'w', 'local', '\(pool)', 99000)")
        try await store.close()

        let (reopened, _) = try await kind.open(reopening: location)
        defer { Task { try? await reopened.close() } }
        #expect(try await reopened.schemaVersion() == SQLStateStore.migrations.count)
        let segments = try await reopened.segments(job: job)
        #expect(segments.count == running)
        for (segment, end) in zip(segments, Self.oldEnds) {
            #expect(segment.endKind == end.kind, "\(end.words)")
            #expect(segment.endReason == end.words)
        }
        #expect(segments.last?.endKind == nil && segments.last?.endReason == nil)
        // The running attempt ends on the new schema with its kind stored as written.
        try await reopened.closeSegment(
            job: job, attempt: running,
            end: SegmentEnd(at: Date(timeIntervalSince1970: 120), reason: .lost, lastStep: nil, committedStep: 5))
        #expect(try await reopened.segments(job: job).last?.endKind == .lost)

        // An older coordinator still running closes a row after the upgrade, in words only: it
        // reads with the kind the migration would have given it.
        try await reopened.openSegment(
            AttemptSegment(
                job: job, attempt: running + 1, epoch: LeaseEpoch(UInt64(running + 1)), workerID: "w",
                provider: "local", pool: AttemptRecordsConformanceTests.spotPool,
                startedAt: Date(timeIntervalSince1970: 200), resumedFromStep: 5))
        let sql7 = try #require(reopened as? SQLStateStore)
        try await sql7.execute(
            "UPDATE attempt_segments SET ended_at_ms = 300000, end_reason = 'preempted with notice' "
                + "WHERE job_id = 'old-job' AND attempt = \(running + 1)")
        #expect(try await reopened.segments(job: job).last?.endKind == .preemptedWithNotice)
    }

    /// The Swift reading of old words is the migration's: same kind for every old wording.
    @Test func theLegacyReadingAgreesWithTheMigration() {
        for end in Self.oldEnds {
            #expect(AttemptEndKind(legacyWords: end.words) == end.kind, "\(end.words)")
        }
    }

    /// The words the coordinator writes today read back as their own kind, and the schema-6
    /// rows above (what the SQL migration is tested on) hold an end of each of those kinds.
    @Test func theMigrationReadsEveryWordsTheCoordinatorWrites() {
        let reasons: [AttemptEndReason] = [
            .completed, .preempted(withNotice: true), .preempted(withNotice: false), .lost, .userError(exitCode: 137),
            .infrastructureError("disk full"), .cancelled, .resized(to: 4),
        ]
        for reason in reasons {
            let kind = AttemptEndKind(reason)
            #expect(AttemptEndKind(legacyWords: reason.words) == kind, "\(reason.words)")
            #expect(Self.oldEnds.contains { $0.kind == kind }, "no schema-6 row of kind \(kind.rawValue)")
        }
    }
}

@Suite(.needsPostgres) struct EndKindUpgradeOnPostgres {
    @Test func aVersionSixDatabaseUpgradesWithEveryEndTyped() async throws {
        try await EndKindUpgradeTests().aVersionSixDatabaseUpgradesWithEveryEndTyped(kind: .postgres)
    }
}
