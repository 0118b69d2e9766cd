import CoordinatorCore
import Foundation
import SpotwiseCore
import SpotwiseTesting
import StateStore
import Testing

@testable import Coordinator

/// A resize's history line is written before the gang is asked (so a deposed leader asks
/// nothing). When a member's notice reaches the gang in between, the history must not claim a
/// resize that was never asked.
@Suite struct ResizeHistoryTests {
    func scheduler(_ board: LiveBoard) async throws -> (JobScheduler, InMemoryStateStore, ManualTime) {
        let store = InMemoryStateStore()
        _ = try await store.submit(
            JobSubmission(
                id: JobID("elastic"), spec: JobSpec(name: "e", run: "x"), idempotencyKey: nil,
                submittedAt: Date(timeIntervalSince1970: 1_800_000_000)))
        let time = ManualTime(leaseMilliseconds: 0)
        return (JobScheduler(store: store, clock: time, leasePolicy: LeasePolicy(), board: board), store, time)
    }

    @Test func aNoticeBetweenThePassAndTheRequestLeavesALineSayingTheResizeWasNotAsked() async throws {
        let board = LiveBoard()
        let (scheduler, store, time) = try await scheduler(board)
        board.sawMember("w0", job: JobID("elastic"), epoch: LeaseEpoch(1), atMilliseconds: 0)
        time.advance(milliseconds: scheduler.core.resizeMinimumAgeMilliseconds)
        // The pass decided to grow the gang; then w1 reported its node going away.
        board.sawMember(
            "w1", job: JobID("elastic"), epoch: LeaseEpoch(1), atMilliseconds: time.nowMilliseconds(),
            notice: "spot-termination")
        try await scheduler.carryOut(.resize(job: JobID("elastic"), epoch: LeaseEpoch(1), size: 3, line: "grow to 3"))
        let lines = try await store.history(JobID("elastic")).map(\.message).suffix(2)
        #expect(
            Array(lines) == [
                "grow to 3",
                "resize to 3 not asked: the gang attempt changed first (a notice, a new attempt, or the attempt ended)",
            ])
        #expect(board.resizeTarget(JobID("elastic"), epoch: LeaseEpoch(1)) == nil)
    }

    @Test func anAskedResizeLeavesOneLine() async throws {
        let board = LiveBoard()
        let (scheduler, store, time) = try await scheduler(board)
        board.sawMember("w0", job: JobID("elastic"), epoch: LeaseEpoch(1), atMilliseconds: 0)
        time.advance(milliseconds: scheduler.core.resizeMinimumAgeMilliseconds)
        try await scheduler.carryOut(.resize(job: JobID("elastic"), epoch: LeaseEpoch(1), size: 3, line: "grow to 3"))
        #expect(try await store.history(JobID("elastic")).map(\.message).last == "grow to 3")
        #expect(board.resizeTarget(JobID("elastic"), epoch: LeaseEpoch(1)) == 3)
    }
}
