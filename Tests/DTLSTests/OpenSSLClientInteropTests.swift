// Tandem's DTLS engine as the server against OpenSSL's own command-line DTLS client
// (`openssl s_client -dtls1_2 -use_srtp`), over a real UDP socket: the handshake completes and
// both sides export the same DTLS-SRTP keying material (RFC 5764 §4.2).

import DTLS
import Foundation
import NIOCore
import TandemTestPeers
import TandemTestSupport
import XCTest

final class OpenSSLClientInteropTests: XCTestCase {
    func testOpenSSLClientAgreesOnTheSRTPKeys() throws {
        try requirePeer("/usr/bin/openssl", "openssl (Debian openssl)")
        let directory = NSTemporaryDirectory() + "tandem-dtls-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let clientCertificate = try DTLSCertificate.selfSigned(commonName: "openssl-client")
        try clientCertificate.certificatePEM.write(toFile: directory + "/client.pem", atomically: true, encoding: .utf8)
        try clientCertificate.privateKeyPEM.write(toFile: directory + "/client.key", atomically: true, encoding: .utf8)
        let server = try DTLSEndpoint(role: .server, certificate: try DTLSCertificate.selfSigned(), srtpProfiles: [.aes128CMSHA1_80],
                                      expectedRemoteFingerprint: clientCertificate.fingerprint(.sha256))

        // The server's socket.
        let socket = LoopbackUDPSocket()
        socket.setReceiveTimeout(microseconds: 200_000)
        let port = socket.port

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
        while keys == nil && Date() < deadline {
            let datagram = socket.receive()
            let output = datagram.map { server.receive($0, now: .now()) } ?? server.timeout(now: .now())
            for reply in output.datagrams { socket.reply(reply) }
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
