import CoordinatorCore
import Foundation
import SpotwiseCore
import Testing

/// The launch watcher's rules, property-tested: seeded launches (confirmed or not, named or not,
/// capacity that exists, never existed, or whose provider does not always answer) watched over
/// random passes by a model of `CapacityLauncher`'s bookkeeping. A provider answers "not found"
/// only for capacity that does not exist; its silence says nothing.
@Suite struct LaunchWatchTests {
    let start = Date(timeIntervalSince1970: 1_800_000_000)
    let rules = LaunchWatch.Rules(observeEverySeconds: 10, unconfirmedLaunchSeconds: 900, lookupsBeforeGivingUp: 2)

    @Test func aLaunchWhoseJobEndedIsReleasedWhateverElseHolds() {
        for confirmed in [true, false] {
            for named in [true, false] {
                let launch = LaunchWatch.Outstanding(
                    confirmed: confirmed, named: named, launchedAt: start, observedAt: start)
                #expect(LaunchWatch.look(at: launch, jobEnded: true, asksLeft: 0, now: start, rules: rules) == .release)
            }
        }
        // A release the provider did not take is tried again once per period, as one of the
        // pass's lookups.
        let failed = LaunchWatch.Outstanding(
            confirmed: true, named: true, launchedAt: start, observedAt: start, releaseFailed: true)
        #expect(
            LaunchWatch.look(at: failed, jobEnded: true, asksLeft: 1, now: start.addingTimeInterval(9), rules: rules)
                == .wait)
        #expect(
            LaunchWatch.look(at: failed, jobEnded: true, asksLeft: 0, now: start.addingTimeInterval(10), rules: rules)
                == .wait)
        #expect(
            LaunchWatch.look(at: failed, jobEnded: true, asksLeft: 1, now: start.addingTimeInterval(10), rules: rules)
                == .release)
    }

    @Test func anUnnamedUnconfirmedLaunchIsNeverAskedAndGivenUpOnlyAfterItsWait() {
        let launch = LaunchWatch.Outstanding(confirmed: false, named: false, launchedAt: start)
        #expect(LaunchWatch.look(at: launch, jobEnded: false, asksLeft: 5, now: start, rules: rules) == .wait)
        let before = start.addingTimeInterval(899)
        #expect(LaunchWatch.look(at: launch, jobEnded: false, asksLeft: 5, now: before, rules: rules) == .wait)
        let after = start.addingTimeInterval(900)
        #expect(LaunchWatch.look(at: launch, jobEnded: false, asksLeft: 5, now: after, rules: rules) == .giveUp)
    }

    @Test func aNamedUnconfirmedLaunchIsGivenUpOnlyAfterTwoLookupsFoundNothingAndItsWait() {
        var launch = LaunchWatch.Outstanding(confirmed: false, named: true, launchedAt: start)
        let late = start.addingTimeInterval(1_000)
        // First lookup found nothing: counted, not given up, however late.
        #expect(LaunchWatch.after(asking: launch, answer: .notFound, now: late, rules: rules) == .notFound)
        launch.notFound = 1
        #expect(LaunchWatch.after(asking: launch, answer: .notFound, now: late, rules: rules) == .giveUp)
        // Two lookups found nothing before its wait: it still waits.
        #expect(
            LaunchWatch.after(asking: launch, answer: .notFound, now: start.addingTimeInterval(60), rules: rules)
                == .notFound)
        // The provider knows it: confirmed, and asked again next pass when it already ended.
        #expect(
            LaunchWatch.after(asking: launch, answer: .running, now: late, rules: rules) == .confirm(lookAgain: false))
        #expect(
            LaunchWatch.after(asking: launch, answer: .ended("gone", kind: .capacity), now: late, rules: rules)
                == .confirm(lookAgain: true))
    }

    @Test func aProvidersSilenceIsNotItsWordThatNothingWasLaunched() {
        // An outage (no answer at all) past the launch's wait: nothing learnt, it keeps waiting,
        // however many lookups went unanswered, until the provider was silent for an hour.
        let launch = LaunchWatch.Outstanding(confirmed: false, named: true, launchedAt: start, notFound: 1)
        for seconds in [900.0, 1_000, 3_599] {
            #expect(
                LaunchWatch.after(asking: launch, answer: nil, now: start.addingTimeInterval(seconds), rules: rules)
                    == .noAnswer, "after \(seconds) s of silence")
        }
        #expect(
            LaunchWatch.after(asking: launch, answer: nil, now: start.addingTimeInterval(3_600), rules: rules)
                == .giveUp)
        // The silent wait is never shorter than the launch's own.
        #expect(
            LaunchWatch.Rules(unconfirmedLaunchSeconds: 900, silentProviderSeconds: 60).silentProviderSeconds == 900)
    }

    @Test func aConfirmedLaunchEndsOnlyOnTheProvidersWord() {
        let launch = LaunchWatch.Outstanding(confirmed: true, named: true, launchedAt: start, notFound: 9)
        let late = start.addingTimeInterval(10_000)
        #expect(LaunchWatch.after(asking: launch, answer: nil, now: late, rules: rules) == .noAnswer)
        // A launch the provider had and no longer has ended.
        #expect(
            LaunchWatch.after(asking: launch, answer: .notFound, now: late, rules: rules)
                == .ended("the provider no longer has it", kind: nil))
        #expect(LaunchWatch.after(asking: launch, answer: .starting, now: late, rules: rules) == .keep(.starting))
        #expect(
            LaunchWatch.after(asking: launch, answer: .interrupted("x"), now: late, rules: rules)
                == .keep(.interrupted("x")))
        #expect(
            LaunchWatch.after(asking: launch, answer: .ended("quota", kind: .other), now: late, rules: rules)
                == .ended("quota", kind: .other))
    }

    @Test func whatEndsAnAttemptRunningOnWatchedCapacity() {
        #expect(LaunchWatch.runningEnd(.starting) == nil)
        #expect(LaunchWatch.runningEnd(.running) == nil)
        #expect(LaunchWatch.runningEnd(.notFound) == nil, "the lease decides, not a lookup")
        #expect(LaunchWatch.runningEnd(.interrupted("reclaimed")) == .preempted(withNotice: false))
        #expect(LaunchWatch.runningEnd(.ended("no capacity", kind: .capacity)) == .preempted(withNotice: false))
        #expect(LaunchWatch.runningEnd(.ended("bad image", kind: .other)) == .infrastructureError("bad image"))
        #expect(LaunchWatch.runningEnd(.ended("stopped", kind: nil)) == .infrastructureError("stopped"))
    }

    /// One launch in the model: what the watcher keeps, and the truth about its capacity.
    struct Modelled {
        var watched: LaunchWatch.Outstanding
        /// The provider knows the capacity (a launch whose answer was lost may still exist).
        var exists: Bool
        /// How often the provider answers a lookup (1: always).
        var answers: Double
        /// The pass from which the job has ended (nil: never).
        var jobEndsAt: Int?
        var asks: [Date] = []
        var resetAt: Date?
        var lookupsFoundNothing = 0
        var settled: String?
        /// Releases the provider will fail (unreachable) before it takes one.
        var releaseFailuresLeft = 0
        var releaseTries: [Date] = []
    }

    @Test func randomLaunchesFollowTheRules() {
        var confirmations = 0
        var giveUps = 0
        var silentGiveUps = 0
        var releases = 0
        for seed in 0..<200 {
            var random = SeededGenerator(seed: UInt64(seed))
            let rules = LaunchWatch.Rules(
                observeEverySeconds: Double(Int.random(in: 0...30, using: &random)),
                unconfirmedLaunchSeconds: Double(Int.random(in: 60...900, using: &random)),
                lookupsBeforeGivingUp: Int.random(in: 1...3, using: &random),
                silentProviderSeconds: Double(Int.random(in: 600...2_400, using: &random)))
            let budget = Int.random(in: 1...4, using: &random)
            var launches = (0..<Int.random(in: 1...12, using: &random)).map { _ in
                Modelled(
                    watched: LaunchWatch.Outstanding(
                        confirmed: Bool.random(using: &random), named: Int.random(in: 0..<4, using: &random) > 0,
                        launchedAt: start.addingTimeInterval(-Double(Int.random(in: 0...600, using: &random)))),
                    exists: Bool.random(using: &random), answers: [1, 0.5, 0][Int.random(in: 0..<3, using: &random)],
                    jobEndsAt: Bool.random(using: &random) ? Int.random(in: 0..<60, using: &random) : nil,
                    releaseFailuresLeft: Int.random(in: 0...2, using: &random))
            }
            var now = start
            for pass in 0..<60 {
                now = now.addingTimeInterval(Double(Int.random(in: 1...60, using: &random)))
                var asked = 0
                let order = launches.indices.filter { launches[$0].settled == nil }.sorted {
                    (launches[$0].watched.observedAt ?? .distantPast)
                        < (launches[$1].watched.observedAt ?? .distantPast)
                }
                for index in order {
                    var launch = launches[index]
                    let jobEnded = launch.jobEndsAt.map { pass >= $0 } ?? false
                    let look = LaunchWatch.look(
                        at: launch.watched, jobEnded: jobEnded, asksLeft: budget - asked, now: now, rules: rules)
                    let context = "seed \(seed), pass \(pass), launch \(index)"
                    if look == .release { #expect(jobEnded, "\(context): released while its job runs") }
                    if jobEnded && !launch.watched.releaseFailed {
                        #expect(look == .release, "\(context): its job ended and it was not released")
                    }
                    switch look {
                    case .wait: break
                    case .release:
                        if launch.watched.releaseFailed {
                            asked += 1
                            if let last = launch.releaseTries.last {
                                #expect(
                                    now.timeIntervalSince(last) >= rules.observeEverySeconds,
                                    "\(context): a failed release tried again too soon")
                            }
                        }
                        launch.releaseTries.append(now)
                        if launch.watched.named && launch.releaseFailuresLeft > 0 {
                            // The driver keeps it, marked, observed now.
                            launch.releaseFailuresLeft -= 1
                            launch.watched.releaseFailed = true
                            launch.watched.observedAt = now
                        } else {
                            launch.settled = "released"
                            releases += 1
                        }
                    case .giveUp:
                        check(giveUp: launch, now: now, rules: rules, context)
                        #expect(!launch.watched.named, "\(context): a named launch is given up only after a lookup")
                        launch.settled = "given up"
                        giveUps += 1
                    case .ask:
                        asked += 1
                        #expect(launch.watched.named || launch.watched.confirmed, "\(context): nothing to ask about")
                        if let last = launch.asks.last, launch.resetAt == nil || launch.resetAt! < last {
                            #expect(
                                now.timeIntervalSince(last) >= rules.observeEverySeconds, "\(context): asked too often")
                        }
                        launch.asks.append(now)
                        launch.watched.observedAt = now
                        let answered = Double.random(in: 0..<1, using: &random) < launch.answers
                        let state = [
                            LaunchWatch.Answer.starting, .running, .interrupted("x"), .ended("y", kind: .capacity),
                        ][
                            Int.random(in: 0..<4, using: &random)]
                        let answer: LaunchWatch.Answer? = answered ? (launch.exists ? state : .notFound) : nil
                        if answer == .notFound { launch.lookupsFoundNothing += 1 }
                        let outcome = LaunchWatch.after(asking: launch.watched, answer: answer, now: now, rules: rules)
                        switch outcome {
                        case .noAnswer:
                            #expect(answer == nil, "\(context)")
                        case .notFound:
                            #expect(answer == .notFound && !launch.watched.confirmed, "\(context)")
                            launch.watched.notFound += 1
                        case .giveUp:
                            #expect(answer == nil || answer == .notFound, "\(context)")
                            check(giveUp: launch, now: now, rules: rules, context)
                            if answer == .notFound {
                                #expect(launch.lookupsFoundNothing >= rules.lookupsBeforeGivingUp, "\(context)")
                            } else {
                                #expect(
                                    now.timeIntervalSince(launch.watched.launchedAt) >= rules.silentProviderSeconds,
                                    "\(context): given up on a silent provider too soon")
                                silentGiveUps += 1
                            }
                            launch.settled = "given up"
                            giveUps += 1
                        case .confirm(let lookAgain):
                            #expect(!launch.watched.confirmed && answer != nil, "\(context)")
                            launch.watched.confirmed = true
                            confirmations += 1
                            if lookAgain {
                                launch.watched.observedAt = nil
                                launch.resetAt = now
                            }
                        case .keep(let kept):
                            #expect(launch.watched.confirmed && kept == answer, "\(context)")
                        case .ended:
                            #expect(
                                launch.watched.confirmed,
                                "\(context): only a confirmed launch ends on the provider's word")
                            launch.settled = "ended"
                        }
                    }
                    launches[index] = launch
                }
                #expect(asked <= budget, "seed \(seed), pass \(pass): over the pass's lookups")
            }
            // Nothing is forgotten: a launch whose job ended is released by the end, or still
            // being released (its provider has not taken it yet).
            for (index, launch) in launches.enumerated() where launch.jobEndsAt != nil {
                #expect(
                    launch.settled != nil || launch.watched.releaseFailed,
                    "seed \(seed), launch \(index): its job ended and it was kept")
            }
        }
        // The seeds reach every outcome.
        #expect(confirmations > 20 && giveUps > 20 && releases > 20 && silentGiveUps > 5)
    }

    func check(giveUp launch: Modelled, now: Date, rules: LaunchWatch.Rules, _ context: String) {
        #expect(!launch.watched.confirmed, "\(context): a confirmed launch is never given up")
        #expect(
            now.timeIntervalSince(launch.watched.launchedAt) >= rules.unconfirmedLaunchSeconds,
            "\(context): given up before its wait")
        if launch.watched.named && launch.exists {
            // Capacity that exists is never given up on the provider's word: only after it was
            // silent longer than any launch waits.
            #expect(launch.answers < 1, "\(context): given up while its provider always knew it")
            #expect(
                now.timeIntervalSince(launch.watched.launchedAt) >= rules.silentProviderSeconds,
                "\(context): capacity that exists given up before its provider's silence lasted")
        }
    }
}
