// tandem-bench: the transcode pipeline against bare libopus + libsrtp (Pipeline.swift), run by
// `make bench` in a release build. It times two implementations interleaved round by round and
// reports their ratio, which ordo-one/benchmark does not measure; the micro-benchmarks (codecs,
// configuration, the packet path with mallocs per operation) are in Benchmarks/TandemBenchmarks,
// run by `swift package benchmark`.

import Foundation

/// CPU time of the process so far (getrusage), so runs on a busy machine can still be compared.
func cpuNanoseconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    let user = Double(usage.ru_utime.tv_sec) * 1e9 + Double(usage.ru_utime.tv_usec) * 1e3
    let system = Double(usage.ru_stime.tv_sec) * 1e9 + Double(usage.ru_stime.tv_usec) * 1e3
    return user + system
}

@inline(never)
func blackHole<T>(_ value: T) { withExtendedLifetime(value) {} }

let figures = measureTranscodePipeline()
print("transcode pipeline, one 20 ms frame both ways (SRTP Opus <-> RTP PCMU), CPU per frame over \(figures.frames) frames:")
print(String(format: "  bare libsrtp + libopus   %8.1f ns", figures.bareNanoseconds))
print(String(format: "  Tandem pipeline          %8.1f ns", figures.pipelineNanoseconds))
print(String(format: "  ratio                    %8.2f  (target: at most 2.00)", figures.pipelineNanoseconds / figures.bareNanoseconds))
