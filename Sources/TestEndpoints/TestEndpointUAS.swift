// The SIP side of the built-in test endpoints: a small user agent server that behaves like a PBX
// offering test numbers. Sans-IO: datagrams go in with their source and the time, the returned
// actions say what to send and which media to start or stop, and `timeout(now:)` runs at
// `nextDeadline`. Retransmissions and timers are the project's transaction layer's.
//
//   INVITE sip:echo|tone|dtmf   100, 180, 200 with a PCMU (+ telephone-event) answer naming an
//                               RTP port of its own; the media starts at once
//   INVITE sip:busy             486 Busy Here
//   INVITE sip:noanswer         180 Ringing, and nothing more until CANCEL (200, then 487)
//   INVITE sip:anything-else    404
//   ACK, BYE, CANCEL, OPTIONS (200, for trunk monitoring), INFO (DTMF relay to the dtmf number)
//   anything else               405; malformed requests 400; garbage is dropped

import NIOCore
import SDP
import SIP

public struct TestEndpointUAS<Destination: Hashable & Sendable>: Sendable {
    /// What the driver must do.
    public enum Action: Sendable, Equatable {
        case send([UInt8], to: Destination)
        /// Open `localPort` and start the call's media toward the caller's RTP address.
        case startMedia(MediaStart)
        case stopMedia(callID: String)
        /// A digit from a SIP INFO, for the dtmf number's media.
        case digit(callID: String, Character)
    }

    public struct MediaStart: Sendable, Equatable {
        public var callID: String
        public var kind: TestEndpointKind
        public var localPort: Int
        public var remoteAddress: String
        public var remotePort: Int
        public var telephoneEventPayloadType: UInt8?

        public init(callID: String, kind: TestEndpointKind, localPort: Int, remoteAddress: String, remotePort: Int,
                    telephoneEventPayloadType: UInt8?) {
            self.callID = callID
            self.kind = kind
            self.localPort = localPort
            self.remoteAddress = remoteAddress
            self.remotePort = remotePort
            self.telephoneEventPayloadType = telephoneEventPayloadType
        }
    }

    private struct Call: Sendable {
        var kind: TestEndpointKind
        var localTag: String
        var invite: TransactionID
        var source: Destination
        var answered = false
        var rtpPort: Int?
        var answer: [UInt8] = []
        var dialog: Dialog?
    }

    public let address: String
    public let port: Int
    public let rtpPorts: ClosedRange<Int>
    public let userAgent: String
    private var transactions: TransactionLayer<Destination>
    private var calls: [String: Call] = [:]
    private var portsInUse: Set<Int> = []
    private let sessionID = UInt64.random(in: 1...UInt64(Int64.max))

    public init(address: String, port: Int, rtpPorts: ClosedRange<Int>, userAgent: String = "Tandem test endpoints",
                timers: SIPTimerValues = .standard) {
        self.address = address
        self.port = port
        self.rtpPorts = rtpPorts
        self.userAgent = userAgent
        transactions = TransactionLayer(timers: timers)
    }

    /// Calls ringing or answered.
    public var activeCalls: Int { calls.count }
    /// Calls answered and carrying media.
    public var answeredCalls: Int { calls.values.filter(\.answered).count }

    public var nextDeadline: NIODeadline? { transactions.nextDeadline }

    private var host: String { address.contains(":") ? "[\(address)]" : address }

    // MARK: Input

    /// A datagram that arrived on the SIP socket.
    public mutating func receive(_ datagram: [UInt8], from source: Destination, now: NIODeadline) -> [Action] {
        guard let message = try? SIPParser.parse(datagram) else { return [] }  // garbage on UDP: dropped
        return handle(transactions.receive(message, from: source, reliable: false, now: now), now: now)
    }

    public mutating func timeout(now: NIODeadline) -> [Action] {
        handle(transactions.timeout(now: now), now: now)
    }

    /// Ends an answered call from this side (media failure, or the caller went silent): BYE.
    public mutating func hangUp(callID: String, now: NIODeadline) -> [Action] {
        guard let call = calls.removeValue(forKey: callID) else { return [] }
        release(call)
        var actions: [Action] = call.rtpPort == nil ? [] : [.stopMedia(callID: callID)]
        guard call.answered, var dialog = call.dialog else { return actions }
        let via = SIPVia(transport: "UDP", host: host, port: port, branch: TransactionLayer<Destination>.newBranch())
        var bye = dialog.makeRequest(.bye, via: via, contact: nil)
        bye.headers.add("User-Agent", userAgent)
        if let (_, events) = try? transactions.send(bye, to: call.source, reliable: false, now: now) {
            actions += handle(events, now: now)
        }
        return actions
    }

    // MARK: Transaction events

    private mutating func handle(_ events: [TransactionEvent<Destination>], now: NIODeadline) -> [Action] {
        var actions: [Action] = []
        for event in events {
            switch event {
            case .send(let message, let destination):
                actions.append(.send(message.serialized(), to: destination))
            case .request(let request, let id, let source):
                actions += handleRequest(request, id: id, source: source, now: now)
            case .cancel(let request, let id, _, let invite):
                actions += handleCancel(request, id: id, invite: invite, now: now)
            case .ack(let request, _):
                if let callID = try? request.headers.callID(), let call = calls[callID], call.answered {
                    transactions.acknowledge2xx(call.invite)
                }
            case .ackNotReceived(let id):
                // The caller never acknowledged the 200: the call did not happen.
                if let callID = calls.first(where: { $0.value.invite == id && $0.value.answered })?.key {
                    actions += forget(callID)
                }
            case .response, .strayResponse, .timedOut, .terminated:
                break
            }
        }
        return actions
    }

    private mutating func handleRequest(_ request: SIPRequest, id: TransactionID, source: Destination, now: NIODeadline) -> [Action] {
        do {
            try request.validate()
        } catch {
            return respond(id, request, 400, reason: "Bad Request (\(error))", now: now)
        }
        let callID = (try? request.headers.callID()) ?? ""
        switch request.method {
        case .invite:
            return handleInvite(request, id: id, source: source, now: now)
        case .bye:
            guard calls[callID] != nil else { return respond(id, request, 481, now: now) }
            let actions = forget(callID)
            return respond(id, request, 200, now: now) + actions
        case .options:
            return respond(id, request, 200, extra: [("Allow", allow), ("Accept", "application/sdp")], now: now)
        case .info:
            guard let call = calls[callID], call.answered else { return respond(id, request, 481, now: now) }
            var actions = respond(id, request, 200, now: now)
            if call.kind == .dtmf, let digit = TestEndpointUAS.relayedDigit(request) {
                actions.append(.digit(callID: callID, digit))
            }
            return actions
        default:
            return respond(id, request, 405, extra: [("Allow", allow)], now: now)
        }
    }

    private var allow: String { "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO" }

    private mutating func handleInvite(_ request: SIPRequest, id: TransactionID, source: Destination, now: NIODeadline) -> [Action] {
        let callID = (try? request.headers.callID()) ?? ""
        if (try? request.headers.to().tag) != nil {
            // A re-INVITE (session refresh, hold): the same answer again.
            guard var call = calls[callID], call.answered else { return respond(id, request, 481, now: now) }
            _ = call.dialog?.receive(request)
            calls[callID] = call
            return respond(id, request, 200, toTag: call.localTag, contact: true, sdp: call.answer, now: now)
        }
        guard calls[callID] == nil else { return respond(id, request, 482, now: now) }
        guard let user = request.uri.user, let kind = TestEndpointKind(rawValue: user.lowercased()) else {
            return respond(id, request, 404, reason: "Not Found (test numbers: echo, tone, dtmf, busy, noanswer)", now: now)
        }
        let tag = "te" + String(UInt64.random(in: 1...UInt64.max), radix: 36)
        switch kind {
        case .busy:
            return respond(id, request, 486, toTag: tag, now: now)
        case .noanswer:
            calls[callID] = Call(kind: kind, localTag: tag, invite: id, source: source)
            return respond(id, request, 180, toTag: tag, contact: true, now: now)
        case .echo, .tone, .dtmf:
            let offer: Offer
            switch TestEndpointUAS.readOffer(request) {
            case .success(let read): offer = read
            case .failure(let problem):
                return respond(id, request, 488, toTag: tag, extra: [("Warning", "399 \(host) \"\(problem.text)\"")], now: now)
            }
            guard let rtpPort = allocatePort() else {
                return respond(id, request, 503, reason: "Service Unavailable (no RTP port free)", toTag: tag, now: now)
            }
            let answer = makeAnswer(rtpPort: rtpPort, telephoneEvent: offer.telephoneEvent)
            var call = Call(kind: kind, localTag: tag, invite: id, source: source, answered: true, rtpPort: rtpPort, answer: answer)
            var actions = respond(id, request, 180, toTag: tag, contact: true, now: now)
            let ok = response(request, 200, toTag: tag, contact: true, sdp: answer)
            call.dialog = try? Dialog(uas: request, response: ok)
            calls[callID] = call
            actions += handle(transactions.respond(to: id, with: ok, now: now), now: now)
            actions.append(.startMedia(MediaStart(
                callID: callID, kind: kind, localPort: rtpPort, remoteAddress: offer.address, remotePort: offer.port,
                telephoneEventPayloadType: offer.telephoneEvent)))
            return actions
        }
    }

    private mutating func handleCancel(_ request: SIPRequest, id: TransactionID, invite: TransactionID?, now: NIODeadline) -> [Action] {
        guard let invite else { return respond(id, request, 481, now: now) }
        var actions = respond(id, request, 200, now: now)
        if let (callID, call) = calls.first(where: { $0.value.invite == invite }), !call.answered,
            let inviteRequest = transactions.request(of: invite) {
            calls[callID] = nil
            release(call)
            actions += respond(invite, inviteRequest, 487, toTag: call.localTag, now: now)
        }
        return actions
    }

    // MARK: Calls and ports

    private mutating func forget(_ callID: String) -> [Action] {
        guard let call = calls.removeValue(forKey: callID) else { return [] }
        release(call)
        return call.rtpPort == nil ? [] : [.stopMedia(callID: callID)]
    }

    private mutating func release(_ call: Call) {
        if let port = call.rtpPort { portsInUse.remove(port) }
    }

    /// An even port of the range (its odd neighbour is left for RTCP), not in use.
    private mutating func allocatePort() -> Int? {
        var candidate = rtpPorts.lowerBound + (rtpPorts.lowerBound % 2)
        while candidate <= rtpPorts.upperBound {
            if !portsInUse.contains(candidate) {
                portsInUse.insert(candidate)
                return candidate
            }
            candidate += 2
        }
        return nil
    }

    // MARK: Messages

    private func response(_ request: SIPRequest, _ code: Int, reason: String? = nil, toTag: String? = nil, contact: Bool = false,
                          sdp: [UInt8] = [], extra: [(String, String)] = []) -> SIPResponse {
        var response = request.makeResponse(code, reason: reason, toTag: toTag)
        response.headers.add("Server", userAgent)
        if contact, let user = request.uri.user {
            response.headers.add("Contact", "<sip:\(user)@\(host):\(port)>")
        }
        for (name, value) in extra { response.headers.add(name, value) }
        if !sdp.isEmpty {
            response.headers.add("Content-Type", "application/sdp")
            response.body = sdp
        }
        return response
    }

    private mutating func respond(_ id: TransactionID, _ request: SIPRequest, _ code: Int, reason: String? = nil, toTag: String? = nil,
                                  contact: Bool = false, sdp: [UInt8] = [], extra: [(String, String)] = [], now: NIODeadline) -> [Action] {
        let message = response(request, code, reason: reason, toTag: toTag, contact: contact, sdp: sdp, extra: extra)
        return handle(transactions.respond(to: id, with: message, now: now), now: now)
    }

    struct Offer: Equatable {
        var address: String
        var port: Int
        var telephoneEvent: UInt8?
    }

    struct OfferProblem: Error, Equatable {
        var text: String
    }

    /// The caller's RTP address and its telephone-event payload type, from an offer that has
    /// PCMU in an RTP/AVP audio stream.
    static func readOffer(_ request: SIPRequest) -> Result<Offer, OfferProblem> {
        guard !request.body.isEmpty else { return .failure(OfferProblem(text: "an SDP offer is required")) }
        guard let sdp = try? SessionDescription(parsing: String(decoding: request.body, as: UTF8.self)) else {
            return .failure(OfferProblem(text: "the SDP offer does not parse"))
        }
        guard let audio = sdp.media.first(where: { $0.media == "audio" && $0.port != 0 }) else {
            return .failure(OfferProblem(text: "no audio stream offered"))
        }
        guard audio.proto == "RTP/AVP", audio.formats.contains("0") else {
            return .failure(OfferProblem(text: "only PCMU over RTP/AVP is answered"))
        }
        guard let connection = audio.connections.first ?? sdp.connection else {
            return .failure(OfferProblem(text: "no connection address"))
        }
        var telephoneEvent: UInt8?
        for value in audio.attributeValues("rtpmap") {
            let parts = value.split(separator: " ", maxSplits: 1)
            if parts.count == 2, parts[1].lowercased() == "telephone-event/8000", let type = UInt8(parts[0]), type < 128,
                audio.formats.contains(String(parts[0])) {
                telephoneEvent = type
                break
            }
        }
        return .success(Offer(address: connection.address, port: audio.port, telephoneEvent: telephoneEvent))
    }

    private func makeAnswer(rtpPort: Int, telephoneEvent: UInt8?) -> [UInt8] {
        let type = SDPConnection.addressType(of: address)
        var lines = [
            "v=0", "o=tandem-test \(sessionID) 1 IN \(type) \(address)", "s=Tandem test endpoint", "c=IN \(type) \(address)", "t=0 0",
            "m=audio \(rtpPort) RTP/AVP 0" + (telephoneEvent.map { " \($0)" } ?? ""), "a=rtpmap:0 PCMU/8000",
        ]
        if let telephoneEvent {
            lines += ["a=rtpmap:\(telephoneEvent) telephone-event/8000", "a=fmtp:\(telephoneEvent) 0-15"]
        }
        lines += ["a=ptime:20", "a=sendrecv"]
        return Array((lines.joined(separator: "\r\n") + "\r\n").utf8)
    }

    /// The digit of an INFO with `application/dtmf-relay` (`Signal=5`) or `application/dtmf` (`5`).
    static func relayedDigit(_ request: SIPRequest) -> Character? {
        let type = request.headers["Content-Type"]?.lowercased().split(separator: ";").first.map { $0.trimmingSpaces } ?? ""
        let body = String(decoding: request.body, as: UTF8.self)
        var value: Substring?
        if type == "application/dtmf-relay" {
            for line in body.split(whereSeparator: \.isNewline) {
                let pair = line.split(separator: "=", maxSplits: 1)
                if pair.count == 2, pair[0].trimmingSpaces.lowercased() == "signal" { value = Substring(pair[1].trimmingSpaces) }
            }
        } else if type == "application/dtmf" {
            value = Substring(body.trimmingSpaces.filter { !$0.isNewline })
        }
        guard let value, value.count == 1, let digit = value.first, TelephoneEventDigits.valid(digit) else { return nil }
        return digit
    }
}

enum TelephoneEventDigits {
    static func valid(_ digit: Character) -> Bool { "0123456789*#ABCDabcd".contains(digit) }
}

extension StringProtocol {
    var trimmingSpaces: String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}
