// Tandem's DTLS engine as the server against OpenSSL's own command-line DTLS client
// (`openssl s_client -dtls1_2 -use_srtp`), over a real UDP socket: the handshake completes and
// both sides export the same DTLS-SRTP keying material (RFC 5764 §4.2).

import DTLS
import Foundation
import NIOCore
import XCTest

final class OpenSSLClientInteropTests: XCTestCase {
    func testOpenSSLClientAgreesOnTheSRTPKeys() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl") else { throw XCTSkip("openssl is not installed") }
        let directory = NSTemporaryDirectory() + "tandem-dtls-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let clientCertificate = try DTLSCertificate.selfSigned(commonName: "openssl-client")
        try clientCertificate.certificatePEM.write(toFile: directory + "/client.pem", atomically: true, encoding: .utf8)
        try clientCertificate.privateKeyPEM.write(toFile: directory + "/client.key", atomically: true, encoding: .utf8)
        let server = try DTLSEndpoint(role: .server, certificate: try DTLSCertificate.selfSigned(), srtpProfiles: [.aes128CMSHA1_80],
                                      expectedRemoteFingerprint: clientCertificate.fingerprint(.sha256))

        // The server's socket.
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(fd) }
        var local = sockaddr_in()
        local.sin_family = sa_family_t(AF_INET)
        local.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &local) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Int32 in
                bind(fd, pointer, length)
                return getsockname(fd, pointer, &length)
            }
        }
        let port = Int(UInt16(bigEndian: local.sin_port))
        var timeout = timeval(tv_sec: 0, tv_usec: 200_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))

        let client = Process()
        client.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        client.arguments = [
            "s_client", "-dtls1_2", "-connect", "127.0.0.1:\(port)", "-use_srtp", "SRTP_AES128_CM_SHA1_80",
            "-keymatexport", "EXTRACTOR-dtls_srtp", "-keymatexportlen", "60", "-cert", directory + "/client.pem",
            "-key", directory + "/client.key", "-mtu", "1200",
        ]
        let input = Pipe()
        let outputPath = directory + "/s_client.out"
        FileManager.default.createFile(atPath: outputPath, contents: nil)
        client.standardInput = input
        client.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: outputPath))
        client.standardError = FileHandle.nullDevice
        try client.run()
        defer { if client.isRunning { client.terminate() } }

        // Serve datagrams until the handshake is done.
        var keys: SRTPKeyingMaterial?
        let deadline = Date().addingTimeInterval(15)
        var peer = sockaddr_in()
        while keys == nil && Date() < deadline {
            var buffer = [UInt8](repeating: 0, count: 4096)
            var peerLength = socklen_t(MemoryLayout<sockaddr_in>.size)
            let n = buffer.withUnsafeMutableBytes { raw in
                withUnsafeMutablePointer(to: &peer) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(fd, raw.baseAddress, raw.count, 0, $0, &peerLength) }
                }
            }
            let output = n > 0 ? server.receive(Array(buffer[0..<n]), now: .now()) : server.timeout(now: .now())
            for datagram in output.datagrams {
                _ = withUnsafePointer(to: &peer) { pointer in
                    pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { target in
                        datagram.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, 0, target, socklen_t(MemoryLayout<sockaddr_in>.size)) }
                    }
                }
            }
            for event in output.events {
                switch event {
                case .connected(let profile, let material):
                    XCTAssertEqual(profile, .aes128CMSHA1_80)
                    keys = material
                case .failed(let failure):
                    return XCTFail("handshake failed: \(failure)")
                case .closed:
                    break
                }
            }
        }
        let material = try XCTUnwrap(keys, "no handshake with openssl s_client")

        // s_client prints the exported keying material once connected; then end it.
        var printed = ""
        for _ in 0..<100 where !printed.contains("Keying material:") {
            Thread.sleep(forTimeInterval: 0.05)
            printed = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        }
        input.fileHandleForWriting.closeFile()
        client.waitUntilExit()
        let line = try XCTUnwrap(printed.split(separator: "\n").first { $0.contains("Keying material:") })
        let hex = line.split(separator: ":").last.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
        let ours = (material.clientWriteKey + material.serverWriteKey + material.clientWriteSalt + material.serverWriteSalt)
            .map { String(format: "%02X", $0) }.joined()
        XCTAssertEqual(hex.uppercased(), ours)
    }
}
