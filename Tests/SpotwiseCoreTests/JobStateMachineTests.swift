import SpotwiseCore
import SpotwiseTesting
import Testing

@Suite struct JobStateMachineTests {
    let spot = Placement(provider: .local, region: "local", market: .spot)
    let onDemand = Placement(provider: .sagemaker, region: "us-east-1", market: .onDemand)

    func apply(_ events: [JobEvent], budget: RetryBudget = RetryBudget()) throws -> JobTransition {
        var transition = JobTransition(record: JobRecord(budget: budget), actions: [])
        for event in events {
            transition = try JobStateMachine.apply(event, to: transition.record)
        }
        return transition
    }

    @Test func happyPathEndsSucceededAndRegisters() throws {
        let result = try apply([
            .placed(spot), .attemptStarted(attempt: 1), .attemptEnded(attempt: 1, reason: .completed),
        ])
        #expect(result.record.state == .succeeded)
        #expect(result.record.liveAttempt == nil)
        #expect(result.actions.contains(.registerModel))
        #expect(result.actions.contains(.fenceAttempt(attempt: 1, epoch: LeaseEpoch(1))))
    }

    @Test func aCommittedCheckpointOutlivesItsAttemptAndAStaleOneIsRefused() throws {
        let checkpoint = CommittedCheckpoint(step: 50, attempt: 1, location: "j/step-50", manifestDigest: "ab")
        let recovering = try apply([
            .placed(spot), .attemptStarted(attempt: 1), .checkpointCommitted(attempt: 1, checkpoint: checkpoint),
            .attemptEnded(attempt: 1, reason: .preempted(withNotice: true)), .placed(spot),
        ])
        #expect(recovering.record.committedCheckpoint == checkpoint)
        var late = checkpoint
        late.step = 60
        #expect(throws: JobTransitionError.staleAttempt(event: 1, live: 2)) {
            try JobStateMachine.apply(.checkpointCommitted(attempt: 1, checkpoint: late), to: recovering.record)
        }
        var mislabelled = checkpoint
        mislabelled.attempt = 1
        #expect(throws: JobTransitionError.staleAttempt(event: 1, live: 2)) {
            try JobStateMachine.apply(.checkpointCommitted(attempt: 2, checkpoint: mislabelled), to: recovering.record)
        }
    }

    @Test func preemptionWithNoticeRecoversOnANewEpoch() throws {
        let preempted = try apply([
            .placed(spot), .attemptStarted(attempt: 1), .attemptEnded(attempt: 1, reason: .preempted(withNotice: true)),
        ])
        #expect(preempted.record.state == .recovering)
        #expect(preempted.record.preemptions == 1)
        #expect(preempted.actions.contains(.requestPlacement(resume: true)))
        let replaced = try JobStateMachine.apply(.placed(onDemand), to: preempted.record)
        #expect(replaced.record.state == .provisioning)
        #expect(replaced.record.liveAttempt == LiveAttempt(number: 2, epoch: LeaseEpoch(2), placement: onDemand))
        #expect(replaced.actions.first == .provision(attempt: 2, epoch: LeaseEpoch(2), placement: onDemand))
    }

    @Test func aStaleAttemptCannotEndTheLiveOne() throws {
        let record = try apply([
            .placed(spot), .attemptStarted(attempt: 1), .attemptEnded(attempt: 1, reason: .lost), .placed(spot),
        ]).record
        #expect(throws: JobTransitionError.staleAttempt(event: 1, live: 2)) {
            try JobStateMachine.apply(.attemptEnded(attempt: 1, reason: .completed), to: record)
        }
    }

    @Test func thePreemptionBudgetIsSpentThenTheJobFails() throws {
        let budget = RetryBudget(maxPreemptions: 1)
        let once = try apply(
            [
                .placed(spot), .attemptStarted(attempt: 1),
                .attemptEnded(attempt: 1, reason: .preempted(withNotice: false)),
            ],
            budget: budget)
        #expect(once.record.state == .recovering)
        let twice = try JobStateMachine.apply(.placed(spot), to: once.record)
        let failed = try JobStateMachine.apply(.attemptEnded(attempt: 2, reason: .lost), to: twice.record)
        #expect(failed.record.state == .failed)
        #expect(failed.record.outcome?.contains("preemption budget (1)") == true)
    }

    @Test func userErrorsSpendTheirOwnBudgetNotThePreemptionOne() throws {
        let budget = RetryBudget(maxPreemptions: 0, maxFailures: 1)
        let first = try apply(
            [.placed(spot), .attemptStarted(attempt: 1), .attemptEnded(attempt: 1, reason: .userError(exitCode: 1))],
            budget: budget)
        #expect(first.record.state == .recovering)
        #expect(first.record.failures == 1 && first.record.preemptions == 0)
        let second = try JobStateMachine.apply(.placed(spot), to: first.record)
        let started = try JobStateMachine.apply(.attemptStarted(attempt: 2), to: second.record)
        let failed = try JobStateMachine.apply(
            .attemptEnded(attempt: 2, reason: .userError(exitCode: 2)), to: started.record)
        #expect(failed.record.state == .failed)
    }

    @Test func retryableExitCodesSpendThePreemptionBudget() throws {
        let result = try apply(
            [.placed(spot), .attemptStarted(attempt: 1), .attemptEnded(attempt: 1, reason: .userError(exitCode: 137))],
            budget: RetryBudget(maxFailures: 0, retryOnExitCodes: [137]))
        #expect(result.record.state == .recovering)
        #expect(result.record.failures == 0 && result.record.preemptions == 1)
    }

    @Test func cancellingARunningJobStopsAndFencesItsAttempt() throws {
        let result = try apply([.placed(spot), .attemptStarted(attempt: 1), .cancelRequested])
        #expect(result.record.state == .cancelled)
        #expect(
            result.actions.prefix(2) == [
                .stopAttempt(attempt: 1, epoch: LeaseEpoch(1)), .fenceAttempt(attempt: 1, epoch: LeaseEpoch(1)),
            ])
    }

    @Test func terminalJobsRefuseEveryEvent() throws {
        let record = try apply([.cancelRequested]).record
        for event in [JobEvent.placed(spot), .cancelRequested, .attemptStarted(attempt: 0), .abandoned(reason: "x")] {
            #expect(throws: JobTransitionError.jobIsTerminal(.cancelled)) {
                try JobStateMachine.apply(event, to: record)
            }
        }
    }

    @Test func completionBeforeStartIsRefused() throws {
        let record = try apply([.placed(spot)]).record
        #expect(throws: JobTransitionError.self) {
            try JobStateMachine.apply(.attemptEnded(attempt: 1, reason: .completed), to: record)
        }
    }

    @Test func placingARunningJobTwiceIsRefused() throws {
        let record = try apply([.placed(spot), .attemptStarted(attempt: 1)]).record
        #expect(throws: JobTransitionError.notAllowed(event: "placing the job", state: .running)) {
            try JobStateMachine.apply(.placed(spot), to: record)
        }
    }
}

/// Property tests over seeded random event sequences. A failure prints the seed to replay.
@Suite struct JobStateMachinePropertyTests {
    static let sequences = 10_000
    static let eventsPerSequence = 60

    @Test func invariantsHoldOverTenThousandRandomSequences() {
        var terminalSequences = 0
        var refusedEvents = 0
        for seed in 0..<UInt64(Self.sequences) {
            var events = JobEventGenerator(seed: seed)
            var record = JobRecord(budget: events.randomBudget())
            var preemptionRetries = 0
            var failureRetries = 0
            var infrastructureRetries = 0
            for _ in 0..<Self.eventsPerSequence {
                let event = events.nextEvent(for: record)
                let before = record
                do {
                    let transition = try JobStateMachine.apply(event, to: record)
                    record = transition.record
                    // No way out of a terminal state.
                    #expect(!before.state.isTerminal, "seed \(seed): \(event) moved a \(before.state) job")
                    // Epochs only grow; a new attempt always has a fresh, larger epoch.
                    #expect(record.latestEpoch >= before.latestEpoch, "seed \(seed)")
                    if case .placed = event {
                        #expect(record.liveAttempt?.epoch == before.latestEpoch.next, "seed \(seed)")
                    }
                    // Count retries independently of the machine's own counters.
                    if transition.actions.contains(.requestPlacement(resume: true)),
                        case .attemptEnded(_, let reason) = event
                    {
                        switch reason {
                        case .userError(let code) where !record.budget.retryOnExitCodes.contains(code):
                            failureRetries += 1
                        case .infrastructureError: infrastructureRetries += 1
                        default: preemptionRetries += 1
                        }
                    }
                } catch {
                    refusedEvents += 1
                    // A refused event changes nothing.
                    #expect(record == before, "seed \(seed): a refused \(event) changed the record")
                }
                // Budgets are never exceeded.
                if let limit = record.budget.maxPreemptions {
                    #expect(
                        preemptionRetries <= limit, "seed \(seed): \(preemptionRetries) preemption retries > \(limit)")
                }
                #expect(failureRetries <= record.budget.maxFailures, "seed \(seed)")
                #expect(infrastructureRetries <= record.budget.maxInfrastructureErrors, "seed \(seed)")
                // Consistent state: exactly the provisioning and running states have a live attempt,
                // and it is the newest one.
                #expect(record.state.hasLiveAttempt == (record.liveAttempt != nil), "seed \(seed): \(record)")
                if let live = record.liveAttempt {
                    #expect(live.number == record.attemptCount && live.epoch == record.latestEpoch, "seed \(seed)")
                    #expect(live.started == (record.state == .running), "seed \(seed)")
                }
                #expect(record.state.isTerminal == (record.outcome != nil), "seed \(seed)")
            }
            if record.state.isTerminal { terminalSequences += 1 }
        }
        // The generator must exercise both endings and refusals, or the test proves little.
        #expect(terminalSequences > Self.sequences / 2)
        #expect(terminalSequences < Self.sequences)
        #expect(refusedEvents > 0)
    }
}
