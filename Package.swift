// swift-tools-version: 6.1
//
// Tandem: a WebRTC-to-SIP media gateway. The target graph follows docs/architecture.md:
// C libraries behind system-library targets, sans-IO protocol cores (which may import NIOCore
// but never NIOPosix), IO drivers, the application layer, and two executables.

import PackageDescription

let nioCore: Target.Dependency = .product(name: "NIOCore", package: "swift-nio")
let nioPosix: Target.Dependency = .product(name: "NIOPosix", package: "swift-nio")
let logging: Target.Dependency = .product(name: "Logging", package: "swift-log")
/// The packet path crosses module boundaries (RTP, AudioCodecs, SRTP, ICE, DTLS -> MediaEngine):
/// whole-module bodies are made available to callers in release builds so generic and small
/// functions are specialized and inlined there, not called through witness tables per packet.
let packetPath: [SwiftSetting] = [.unsafeFlags(["-cross-module-optimization"], .when(configuration: .release))]

let package = Package(
    name: "Tandem",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "tandemd", targets: ["tandemd"]),
        .executable(name: "tandemctl", targets: ["tandemctl"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.81.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.30.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.6.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.0.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.0.0"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.1.0"),
        // Benchmarks/: time and mallocs per operation. Only the MallocInterposer trait (an
        // LD_PRELOADed counting malloc, nothing to install): the default RuntimeInterposer trait
        // would pull in swift-runtime-interposer on Linux with Swift 6.3, for ARC counts not used here.
        .package(url: "https://github.com/ordo-one/benchmark.git", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        // MARK: C libraries, found by pkg-config (Debian packages named as providers).
        .systemLibrary(
            name: "COpenSSL", pkgConfig: "openssl",
            providers: [.apt(["libssl-dev"])]),
        .systemLibrary(
            name: "CSRTP", pkgConfig: "libsrtp2",
            providers: [.apt(["libsrtp2-dev"])]),
        .systemLibrary(
            name: "COpus", pkgConfig: "opus",
            providers: [.apt(["libopus-dev"])]),
        .systemLibrary(
            name: "CSpanDSP", pkgConfig: "spandsp",
            providers: [.apt(["libspandsp-dev"])]),
        // Wrappers for the C macros and variadic functions Swift cannot call.
        .target(name: "CTandemShims", dependencies: ["COpenSSL", "COpus"]),

        // MARK: Protocol cores: no sockets, no clocks of their own.
        .target(name: "SIP", dependencies: [nioCore, "COpenSSL"]),
        .target(name: "SDP", dependencies: [nioCore]),
        .target(name: "ICE", dependencies: [nioCore, "COpenSSL"], swiftSettings: packetPath),
        .target(name: "DTLS", dependencies: [nioCore, "COpenSSL", "CTandemShims"], swiftSettings: packetPath),
        .target(name: "SRTP", dependencies: [nioCore, "CSRTP", "COpenSSL", "DTLS"], swiftSettings: packetPath),
        .target(name: "RTP", dependencies: [nioCore], swiftSettings: packetPath),
        // HEP3 (EEP) encoding of captured SIP messages for a capture server.
        .target(name: "HEP", dependencies: [nioCore]),
        .target(name: "AudioCodecs", dependencies: [nioCore, "COpus", "CSpanDSP", "CTandemShims"], swiftSettings: packetPath),

        // MARK: IO drivers.
        .target(
            name: "SIPTransport",
            dependencies: [
                "SIP", "HEP", nioCore, nioPosix, logging,
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
            ]),
        .target(
            name: "MediaEngine",
            dependencies: ["ICE", "DTLS", "SRTP", "RTP", "AudioCodecs", "CTandemShims", nioCore, nioPosix, logging,
                           .product(name: "HeapModule", package: "swift-collections")],
            swiftSettings: packetPath),

        // The built-in test endpoints (echo, tone, dtmf, busy, noanswer): a small SIP UAS with
        // its sans-IO core and its UDP driver.
        .target(
            name: "TestEndpoints",
            dependencies: ["SIP", "SDP", "RTP", "AudioCodecs", nioCore, nioPosix, logging]),

        // MARK: Application.
        .target(
            name: "TandemConfig",
            dependencies: ["SIP", "SDP", "DTLS", .product(name: "Yams", package: "Yams")]),
        .target(
            name: "Gateway",
            dependencies: ["SIP", "SDP", "ICE", "DTLS", "AudioCodecs", "SIPTransport", "TandemConfig", "MediaEngine", nioCore, logging]),
        .target(
            name: "Control",
            dependencies: [
                "TandemConfig", nioCore, nioPosix, logging,
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            // The demo phone's files, compiled in as byte arrays (PackageResources): an installed
            // binary serves them with no resource bundle beside it.
            resources: [
                .embedInCode("DemoPhone/index.html"),
                .embedInCode("DemoPhone/phone.css"),
                .embedInCode("DemoPhone/phone.js"),
            ]),
        .executableTarget(
            name: "tandemd",
            dependencies: [
                "TandemConfig", "Gateway", "SIPTransport", "MediaEngine", "Control", "RTP", "TestEndpoints",
                "DTLS", "SRTP", "AudioCodecs", nioCore, nioPosix, logging,
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]),
        .executableTarget(
            name: "tandemctl",
            dependencies: [
                "Control",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),

        // The transcode pipeline against bare libopus + libsrtp; the micro-benchmarks are in Benchmarks/.
        .executableTarget(
            name: "tandem-bench",
            dependencies: ["AudioCodecs", "MediaEngine", "SRTP", "DTLS", "CSRTP", "COpus", "CTandemShims"]),

        // `swift package benchmark`: codecs, configuration and the packet path, with mallocs per operation.
        .executableTarget(
            name: "TandemBenchmarks",
            dependencies: [
                "AudioCodecs", "MediaEngine", "RTP", "SRTP", "DTLS", "TandemConfig",
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/TandemBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]),

        .executableTarget(
            name: "tandem-load",
            dependencies: ["ICE", "DTLS", "SRTP", "AudioCodecs", "SIP", "TandemTestSupport", nioCore, nioPosix]),

        // MARK: Tests.
        .target(
            name: "TandemTestSupport",
            dependencies: [
                "SIP", nioCore, nioPosix,
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
            ],
            path: "Tests/Support"),
        // requirePeer: XCTest-only, so tandem-load (which uses TandemTestSupport) links no XCTest.
        .target(name: "TandemTestPeers", dependencies: ["TandemTestSupport"], path: "Tests/Peers"),
        .testTarget(name: "TandemConfigTests", dependencies: ["TandemConfig"], exclude: ["Fixtures"]),
        .testTarget(name: "HEPTests", dependencies: ["HEP", nioCore]),
        .testTarget(name: "RTPTests", dependencies: ["RTP", nioCore]),
        .testTarget(name: "SIPTests", dependencies: ["SIP"], exclude: ["Torture"]),
        .testTarget(name: "SDPTests", dependencies: ["SDP"]),
        .testTarget(
            name: "SIPTransportTests",
            dependencies: [
                "SIPTransport", "TandemTestSupport", "TandemTestPeers", nioCore, nioPosix,
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]),
        .testTarget(name: "NativeLibraryTests", dependencies: ["DTLS", "SRTP", "AudioCodecs"]),
        .testTarget(name: "MediaEngineTests", dependencies: ["MediaEngine", "ICE", "DTLS", "SRTP", "RTP", "SDP", "AudioCodecs", "TandemTestSupport", "TandemTestPeers", nioCore, nioPosix,
                                                           .product(name: "NIOConcurrencyHelpers", package: "swift-nio")]),
        .testTarget(name: "DTLSTests", dependencies: ["DTLS", "SRTP", "CSRTP", "TandemTestSupport", "TandemTestPeers"]),
        .testTarget(
            name: "GatewayTests",
            dependencies: ["Gateway", "SIP", "SDP", "MediaEngine", "SIPTransport", "TandemConfig", "TandemTestSupport", "TandemTestPeers", nioPosix, logging],
            exclude: ["Scenarios"]),
        .testTarget(name: "ControlTests", dependencies: ["Control"]),
        .testTarget(name: "ICETests", dependencies: ["ICE"]),
        .testTarget(name: "TestEndpointsTests", dependencies: ["TestEndpoints", "SIP", "SDP", "RTP", "AudioCodecs", nioCore, nioPosix, logging]),
        .testTarget(
            name: "DaemonTests",
            dependencies: ["Control", "tandemd", "tandemctl", "TandemTestSupport", "TandemTestPeers", "SIP", "SDP", "ICE", nioCore, nioPosix],
            exclude: ["Scenarios"]),
    ],
    swiftLanguageModes: [.v6]
)
