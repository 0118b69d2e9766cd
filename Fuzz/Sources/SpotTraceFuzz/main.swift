import Foundation
import SpotPolicy

// libFuzzer harness: the spot trace reader (`spotwise simulate --trace`, the policy benchmark), under
// both conventions. An accepted trace has a positive tick, a capacity per tick that is never
// negative, and prices for every tick when it has prices at all.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSpotTrace(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Data(bytes: data, count: size)
    for convention in TraceConvention.allCases {
        guard let trace = try? SpotTrace.read(bytes, file: "fuzz.json", name: "fuzz", convention: convention) else {
            continue
        }
        check(trace.tickSeconds > 0, "tick of \(trace.tickSeconds) s")
        check(!trace.capacity.isEmpty && trace.capacity.allSatisfy { $0 >= 0 }, "a negative or missing capacity")
        if let prices = trace.spotPrices {
            check(prices.count >= trace.capacity.count, "\(prices.count) prices for \(trace.capacity.count) ticks")
        }
        _ = trace.availability(nodes: 1)
    }
    return 0
}

private func check(_ condition: Bool, _ message: @autoclosure () -> String) {
    guard condition else { fatalError("SpotTraceFuzz: accepted a trace with \(message())") }
}
