import Testing

@testable import WorkerAgent

/// What a gang member reports when its trainer exits, and whether its node stays.
@Suite struct GangExitTests {
    let own = InterruptionNotice(kind: .spotTermination)
    let peer = InterruptionNotice(kind: .gangMember)

    @Test func rankZeroReportsTheGangsStopOnANoticeAndOnlyANoticedNodeLeaves() throws {
        let mine = try #require(GangExit(status: 143, rank: 0, notice: own))
        #expect(mine.report == .preempted(withNotice: true) && mine.outcome == .preempted(committedStep: nil))
        // The notice reached another member: rank 0 reports it, and stays to be placed again.
        let theirs = try #require(GangExit(status: 143, rank: 0, notice: nil))
        #expect(theirs.report == .preempted(withNotice: true))
        guard case .gangStopped = theirs.outcome else {
            Issue.record("rank 0 without its own notice must stay, got \(theirs.outcome)")
            return
        }
        #expect(GangExit(status: 143, rank: 0, notice: peer)?.report == .preempted(withNotice: true))
    }

    @Test func otherRanksLeaveTheReportToRankZeroAndWaitForItWhenTheirNodeGoes() throws {
        let noticed = try #require(GangExit(status: 143, rank: 2, notice: own))
        #expect(noticed.report == nil && noticed.waitForAttemptEnd && noticed.outcome == .preempted(committedStep: nil))
        let stopped = try #require(GangExit(status: 143, rank: 1, notice: peer))
        #expect(stopped.report == nil && !stopped.waitForAttemptEnd)
        let finished = try #require(GangExit(status: 0, rank: 1, notice: nil))
        #expect(finished.report == nil && finished.outcome == .completed)
    }

    @Test func anyRankReportsALostPeerAtOnceAndAFailureAsAFailure() throws {
        for rank in [0, 3] {
            let lost = try #require(GangExit(status: 75, rank: rank, notice: nil))
            #expect(lost.report == .preempted(withNotice: false))
        }
        #expect(GangExit(status: 1, rank: 1, notice: nil) == nil)
        #expect(GangExit(status: 0, rank: 0, notice: nil) == nil)
    }
}
