import CoordinatorCore
import Testing

@Suite struct HeartbeatCoreTests {
    /// Every combination of what the coordinator knows, against the rules in words.
    @Test func theCommandFollowsTheRulesInEveryCase() {
        for terminal in [false, true] {
            for live in [false, true] {
                for stop in [false, true] {
                    for size in [1, 3] {
                        for gangNotice in [nil, "w2: spot-termination"] as [String?] {
                            for notice in [nil, "spot-termination", "rebalance"] as [String?] {
                                let attempt = HeartbeatCore.Attempt(
                                    jobIsTerminal: terminal, isLive: live, stopAsked: stop, gangSize: size,
                                    gangNotice: gangNotice)
                                let command = HeartbeatCore.command(for: attempt, notice: notice)
                                let over = terminal || !live || stop
                                // An attempt that is over, or asked to stop, is told to stop.
                                #expect((command == .stop) == over)
                                // Otherwise its own notice comes first: checkpoint now.
                                if !over, notice != nil { #expect(command == .checkpointNow) }
                                // A gang peer's notice is passed on to the others.
                                if !over, notice == nil {
                                    #expect(command == (size > 1 && gangNotice != nil ? .notice : .continue))
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    @Test func onlyTerminationNoticesMeanTheNodeIsGoingAway() {
        #expect(HeartbeatCore.meansLeaving("spot-termination"))
        #expect(HeartbeatCore.meansLeaving("preempted"))
        #expect(HeartbeatCore.meansLeaving("sigterm"))
        #expect(!HeartbeatCore.meansLeaving("rebalance"))
        #expect(!HeartbeatCore.meansLeaving("gang-peer"))
        #expect(!HeartbeatCore.meansLeaving(nil))
    }
}
