import SIP
import XCTest

/// Randomized inputs: every byte sequence either parses or throws; never a crash. Messages built
/// from random parts survive a serialize/parse round trip.
final class SIPParserFuzzTests: XCTestCase {
    /// A small deterministic generator so failures reproduce (seeded, xorshift64*).
    struct Generator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state ^= state >> 12
            state ^= state << 25
            state ^= state >> 27
            return state &* 2_685_821_657_736_338_717
        }
    }

    static let seedMessages: [String] = [
        "INVITE sip:bob@biloxi.example.com SIP/2.0\r\nVia: SIP/2.0/UDP pc33.example.com;branch=z9hG4bKnashds8\r\nMax-Forwards: 70\r\nTo: Bob <sip:bob@biloxi.example.com>\r\nFrom: \"Alice\" <sip:alice@atlanta.example.com>;tag=1928301774\r\nCall-ID: a84b4c76e66710\r\nCSeq: 314159 INVITE\r\nContact: <sip:alice@pc33.example.com>\r\nContent-Type: application/sdp\r\nContent-Length: 4\r\n\r\nv=0\n",
        "SIP/2.0 180 Ringing\r\nv: SIP/2.0/WSS x.invalid;branch=z9hG4bK1;received=192.0.2.1;rport=5060\r\nt: <sip:b@c>;tag=9\r\nf: <sip:a@c>;tag=1\r\ni: q\r\nCSeq: 2 INVITE\r\nl: 0\r\n\r\n",
        "REGISTER sips:[2001:db8::1] SIP/2.0\r\nVia: SIP/2.0/TLS [2001:db8::2]:5061;branch=z9hG4bKq\r\nContact: *\r\nExpires: 0\r\nAuthorization: Digest username=\"a\", realm=\"r\", nonce=\"n\", uri=\"sips:[2001:db8::1]\", response=\"0123\"\r\n\r\n",
    ]

    func testMutatedMessagesNeverCrash() {
        var random = Generator(state: 0x5EED_1234_ABCD_0001)
        let alphabet = Array(" :;,<>\"\\@[]=/\r\n\tSIP0123456789%z".utf8)
        var parsed = 0, rejected = 0
        for iteration in 0..<30_000 {
            var data = Array(Self.seedMessages[iteration % Self.seedMessages.count].utf8)
            for _ in 0..<Int.random(in: 1...8, using: &random) {
                guard !data.isEmpty else { break }
                let index = Int.random(in: 0..<data.count, using: &random)
                switch Int.random(in: 0..<4, using: &random) {
                case 0: data[index] = alphabet.randomElement(using: &random)!
                case 1: data.remove(at: index)
                case 2: data.insert(alphabet.randomElement(using: &random)!, at: index)
                default: data[index] = UInt8.random(in: 0...255, using: &random)
                }
            }
            do {
                let message = try SIPParser.parse(data)
                parsed += 1
                // Whatever parses must serialize and parse again.
                let again = message.serialized()
                XCTAssertNoThrow(try SIPParser.parse(again), "iteration \(iteration): \(String(decoding: again, as: UTF8.self).debugDescription) from \(String(decoding: data, as: UTF8.self).debugDescription)")
                if case .request(let request) = message { _ = try? request.validate() }
            } catch {
                rejected += 1
            }
        }
        XCTAssertGreaterThan(parsed, 1000, "the mutations should leave many messages parseable")
        XCTAssertGreaterThan(rejected, 1000, "and break many others")
    }

    func testRandomMessagesRoundTrip() throws {
        var random = Generator(state: 0xC0FFEE)
        let tokens = ["alice", "bob", "x-1", "a.b", "Z9", "tok~en", "q!"]
        let hosts = ["example.com", "192.0.2.7", "[2001:db8::5]", "h.invalid"]
        for _ in 0..<2_000 {
            var headers = SIPHeaders()
            let via = SIPVia(transport: ["UDP", "TCP", "WS"].randomElement(using: &random)!,
                             host: hosts.randomElement(using: &random)!,
                             port: Bool.random(using: &random) ? Int.random(in: 1...65535, using: &random) : nil,
                             branch: SIPVia.magicCookie + tokens.randomElement(using: &random)!)
            headers.add("Via", via.description)
            let display = Bool.random(using: &random) ? String((0..<Int.random(in: 0...12, using: &random)).map { _ in " a\"\\é,;<>".randomElement(using: &random)! }) : nil
            var parameters = SIPParameters()
            parameters.set("tag", tokens.randomElement(using: &random)!)
            let uri = SIPURI(scheme: "sip", user: tokens.randomElement(using: &random)!, host: hosts.randomElement(using: &random)!,
                             port: Bool.random(using: &random) ? 5060 : nil)
            headers.add("From", SIPNameAddress(displayName: display, uri: uri, parameters: parameters).description)
            headers.add("To", SIPNameAddress(uri: uri).description)
            headers.add("Call-ID", tokens.randomElement(using: &random)! + "@" + hosts.randomElement(using: &random)!)
            headers.add("CSeq", SIPCSeq(number: UInt32.random(in: 0..<0x8000_0000, using: &random), method: .options).description)
            let body = (0..<Int.random(in: 0...64, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
            headers.add("Content-Length", "\(body.count)")
            let message = SIPMessage.request(SIPRequest(method: .options, uri: uri, headers: headers, body: body))
            let parsed = try SIPParser.parse(message.serialized())
            XCTAssertEqual(parsed, message)
            guard case .request(let request) = parsed else { return XCTFail() }
            XCTAssertNoThrow(try request.validate())
            XCTAssertEqual(try request.headers.from().displayName, display)
            XCTAssertEqual(try request.headers.topVia(), via)
        }
    }
}
