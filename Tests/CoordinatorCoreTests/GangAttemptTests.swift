import CoordinatorCore
import SpotwiseCore
import Testing

@Suite struct GangAttemptRulesTests {
    let members: [WorkerID] = ["w0", "w1", "w2"]

    @Test func aMemberSilentLongerThanALeaseIsTheOneLostAndOthersKeepTheirTime() {
        var gang = GangAttempt(epoch: LeaseEpoch(3), sinceMilliseconds: 0)
        for member in members { gang.heard(member, at: 0) }
        gang.heard("w0", at: 9_000)
        gang.heard("w2", at: 9_000)
        #expect(gang.silentMember(of: members, at: 10_000, silenceMilliseconds: 10_000) == nil)
        let silent = gang.silentMember(of: members, at: 10_001, silenceMilliseconds: 10_000)
        #expect(silent?.worker == "w1" && silent?.milliseconds == 10_001)
    }

    @Test func aMemberNeverHeardHereCountsFromNowAndAnotherReplicasWordCountsOnlySinceTheAttempt() {
        var gang = GangAttempt(epoch: LeaseEpoch(3), sinceMilliseconds: 5_000)
        // After a restart nobody was heard here: all get a lease from now.
        #expect(gang.silentMember(of: members, at: 6_000, silenceMilliseconds: 10_000) == nil)
        #expect(gang.silentMember(of: members, at: 16_000, silenceMilliseconds: 10_000) == nil)
        // Another replica heard w0 at 20 s and w1 before the attempt began (that does not count).
        let elsewhere = ["w0": 20_000, "w1": 4_000, "w2": 20_000] as [WorkerID: Int64]
        let silent = gang.silentMember(
            of: members, at: 25_000, silenceMilliseconds: 10_000, heardElsewhere: elsewhere)
        #expect(silent?.worker == "w1" && silent?.milliseconds == 19_000)
    }

    @Test func theFirstNoticeStandsAndIsNewOnlyOnce() {
        var gang = GangAttempt(epoch: LeaseEpoch(1), sinceMilliseconds: 0)
        let plain = gang.heard("w0", at: 1)
        let first = gang.heard("w1", at: 2, notice: "spot-termination")
        let second = gang.heard("w2", at: 3, notice: "preempted")
        #expect(!plain && first && !second)
        #expect(gang.notice == "w1: spot-termination")
        gang.join(resizeTo: nil, notice: "w2: sigterm")
        #expect(gang.notice == "w1: spot-termination")
    }

    @Test func aGangResizesOnceOnlyWhenKnownLongEnoughAndNoNoticeCame() {
        var gang = GangAttempt(epoch: LeaseEpoch(1), sinceMilliseconds: 0)
        let tooYoung = gang.requestResize(to: 4, at: 39_999, minimumAgeMilliseconds: 40_000)
        let asked = gang.requestResize(to: 4, at: 40_000, minimumAgeMilliseconds: 40_000)
        #expect(!tooYoung && asked)
        #expect(gang.resizeTo == 4 && gang.notice == "the coordinator: resize to 4")
        let again = gang.requestResize(to: 5, at: 90_000, minimumAgeMilliseconds: 40_000)
        #expect(!again && gang.resizeTo == 4)
        var noticed = GangAttempt(epoch: LeaseEpoch(1), sinceMilliseconds: 0)
        noticed.heard("w0", at: 1, notice: "spot-termination")
        #expect(!noticed.mayResize(at: 90_000, minimumAgeMilliseconds: 40_000))
    }

    @Test func aNewerEpochStartsANewAttemptAndAnOlderOneRecordsNothing() {
        var known = GangAttempt(epoch: LeaseEpoch(5), sinceMilliseconds: 100)
        known.heard("w0", at: 100, notice: "preempted")
        #expect(GangAttempt.of(epoch: LeaseEpoch(4), known: known, at: 200) == nil)
        #expect(GangAttempt.of(epoch: LeaseEpoch(5), known: known, at: 200) == known)
        let newer = GangAttempt.of(epoch: LeaseEpoch(6), known: known, at: 200)
        #expect(newer == GangAttempt(epoch: LeaseEpoch(6), sinceMilliseconds: 200))
        #expect(
            GangAttempt.of(epoch: LeaseEpoch(1), known: nil, at: 7)
                == GangAttempt(epoch: LeaseEpoch(1), sinceMilliseconds: 7))
    }
}
