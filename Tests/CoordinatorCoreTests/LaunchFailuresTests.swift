import CoordinatorCore
import Foundation
import Scheduler
import SpotwiseCore
import Testing

@Suite struct LaunchFailuresTests {
    let start = Date(timeIntervalSince1970: 1_800_000_000)

    static func pool(_ market: Market, region: String = "us-east-1") -> WorkerPool {
        WorkerPool(
            region: region, market: market, instanceType: "ml.g5.xlarge", pricePerHour: Money(micros: 400_000),
            onDemandPricePerHour: Money(micros: 1_400_000))
    }

    static func offer(_ market: Market, region: String = "us-east-1") -> IdleWorker {
        IdleWorker.offer(provider: .sagemaker, pool: pool(market, region: region))
    }

    @Test func noSpotCapacityWithholdsThatPoolsSpotOfferForAWhileAndNothingElse() {
        var learned = LaunchFailures(withholdSeconds: 600)
        let offers = [Self.offer(.spot), Self.offer(.onDemand), Self.offer(.spot, region: "us-west-2")]
        learned.record(.capacity, job: JobID("job-1"), provider: .sagemaker, pool: Self.pool(.spot), at: start)
        let during = learned.available(offers, at: start.addingTimeInterval(599))
        #expect(during.map(\.id) == [offers[1].id, offers[2].id])
        #expect(learned.available(offers, at: start.addingTimeInterval(600)) == offers)
        // No capacity is no one's fault: the job's budget is not spent.
        #expect(learned.failedLaunches.isEmpty)
    }

    @Test func noOnDemandCapacityWithholdsNothing() {
        var learned = LaunchFailures()
        learned.record(.capacity, job: JobID("job-1"), provider: .sagemaker, pool: Self.pool(.onDemand), at: start)
        #expect(learned.available([Self.offer(.onDemand), Self.offer(.spot)], at: start).count == 2)
    }

    @Test func otherFailuresSpendTheJobsBudgetAndUnknownOnesTeachNothing() {
        var learned = LaunchFailures()
        for _ in 0..<3 {
            learned.record(.other, job: JobID("job-1"), provider: .sagemaker, pool: Self.pool(.spot), at: start)
        }
        learned.record(nil, job: JobID("job-2"), provider: .sagemaker, pool: Self.pool(.spot), at: start)
        #expect(learned.failedLaunches == [JobID("job-1"): 3])
        #expect(learned.available([Self.offer(.spot)], at: start).count == 1)
    }
}
