// Capacity: the most concurrent calls a gateway carries on this machine while every call stays
// clean, found by stepping the call count up. A step carries its load when packet loss stays
// under 0.1 % each way and the jitter it adds stays under 5 ms: the spread of the one-way
// latency (p99 minus p50, both directions together) beyond the spread at the first step, so that
// what a gateway does by design at any load (transcoded calls are read in 10 ms batches) is not
// counted as load. The count doubles until a step fails (or the limit is
// reached), then the gap between the last clean step and the first failed one is halved twice,
// so the figure is within an eighth of the true one. A failed step includes one whose calls
// cannot all be set up (ports, time-outs, refusals).
//
// The generator shares the two cores with the gateway: at high counts it is part of what runs out,
// and its own CPU per call-second is reported beside the gateway's so that this shows.

import Foundation

struct CapacityCriteria {
    var maxLossPercent = 0.1
    var maxJitterMilliseconds = 5.0
}

struct CapacityStep {
    var calls: Int
    var figures: LoadFigures?
    var failure: String?

    /// The first step's latency spread, which later steps are measured against.
    var baselineJitter = 0.0

    /// The jitter this step adds to the first step's.
    var addedJitter: Double? { figures.map { $0.jitterMilliseconds - baselineJitter } }

    /// Why the step does not carry its load, or nil when it does.
    func verdict(_ criteria: CapacityCriteria) -> String? {
        if let failure { return failure }
        guard let figures, let added = addedJitter else { return "no figures" }
        let loss = max(figures.toTrunk.lossPercent, figures.toWeb.lossPercent)
        if loss >= criteria.maxLossPercent { return String(format: "loss %.3f %%", loss) }
        if !(added < criteria.maxJitterMilliseconds) { return String(format: "jitter %.2f ms added", added) }
        return nil
    }
}

extension LoadFigures {
    /// p99 minus p50 of the one-way latency, both directions together, in milliseconds.
    var jitterMilliseconds: Double {
        let both = toTrunk.latencies + toWeb.latencies
        return (percentile(both, 0.99) - percentile(both, 0.5)) / 1e6
    }
}

/// Steps `run` (which sets up that many calls, measures them and tears them down) from `start`
/// calls up to at most `limit`; returns the largest clean count (0 when even `start` fails) and
/// every step, in the order run.
func findCapacity(start: Int, limit: Int, criteria: CapacityCriteria = CapacityCriteria(),
                  report: (CapacityStep) -> Void, run: (Int) async throws -> LoadFigures) async -> (capacity: Int, steps: [CapacityStep]) {
    var steps: [CapacityStep] = []
    var baseline: Double?
    func attempt(_ calls: Int) async -> Bool {
        var step = CapacityStep(calls: calls)
        do { step.figures = try await run(calls) } catch { step.failure = "\(error)".split(separator: "\n").first.map(String.init) ?? "failed" }
        if baseline == nil, let figures = step.figures { baseline = figures.jitterMilliseconds }
        step.baselineJitter = baseline ?? 0
        steps.append(step)
        report(step)
        return step.verdict(criteria) == nil
    }
    var good = 0
    var bad: Int?
    var calls = max(1, start)
    while calls <= limit {
        if await attempt(calls) {
            good = calls
            if calls == limit { break }
            calls = min(limit, calls * 2)
        } else {
            bad = calls
            break
        }
    }
    guard var high = bad, good > 0 else { return (good, steps) }
    for _ in 0..<2 {
        let middle = (good + high) / 2
        guard middle > good, middle < high else { break }
        if await attempt(middle) { good = middle } else { high = middle }
    }
    return (good, steps)
}

func describeCapacityStep(_ gateway: String, _ mode: CallMode, _ step: CapacityStep, _ criteria: CapacityCriteria) -> String {
    let verdict = step.verdict(criteria)
    guard let figures = step.figures else {
        return "| \(gateway) | \(mode.rawValue) | \(step.calls) | – | – | – | – | \(verdict ?? "") |"
    }
    return "| \(gateway) | \(mode.rawValue) | \(step.calls) | " + String(format: "%.3f", figures.cpuMillisecondsPerCallSecond)
        + " | " + String(format: "%.3f / %.3f", figures.toTrunk.lossPercent, figures.toWeb.lossPercent)
        + " | " + String(format: "%.2f (+%.2f)", figures.jitterMilliseconds, step.addedJitter ?? 0)
        + " | " + String(format: "%.3f", Double(figures.generatorCPUNanoseconds) / 1e6 / (Double(figures.calls) * figures.seconds))
        + " | \(verdict.map { "no: \($0)" } ?? "yes") |"
}
