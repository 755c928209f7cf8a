// A browser's SIP user agent in tests: SIP over WebSocket to Tandem, with digest authentication,
// as JsSIP or SIP.js would do it. It places calls with a given SDP offer (a real WebRTC stack's),
// acknowledges the answer, hangs up, and answers the BYE Tandem sends when a call ends.

import NIOCore
import SIP

public struct CallFailure: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

public final class BrowserSIPUser: @unchecked Sendable {
    public let client: SIPWebSocketClient
    public let username: String
    private let password: String
    private let port: Int
    private var cseq: UInt32 = 1
    private let tag = "b" + String(UInt32.random(in: 1...UInt32.max), radix: 16)

    /// An established call.
    public struct Call: Sendable {
        public var callID: String
        public var answer: SIPResponse
        public var target: String
        public var to: String
    }

    public init(port: Int, username: String, password: String, group: any EventLoopGroup) async throws {
        client = try await SIPWebSocketClient.connect(port: port, group: group)
        self.username = username
        self.password = password
        self.port = port
    }

    public func request(_ method: SIPMethod, uri: String, to: String, callID: String, cseq: UInt32, body: [UInt8] = [],
                        contentType: String = "application/sdp", extra: [(String, String)] = []) -> SIPRequest {
        Self.request(method, uri: uri, from: "<sip:\(username)@127.0.0.1>;tag=\(tag)", to: to, callID: callID, cseq: cseq,
                     contact: "<sip:\(username)@abc123.invalid;transport=ws>", body: body, contentType: contentType, extra: extra)
    }

    /// A request as a browser's SIP-over-WebSocket stack sends it (Via with the `.invalid` host of
    /// RFC 7118, a `transport=ws` Contact).
    public static func request(_ method: SIPMethod, uri: String, from: String, to: String, callID: String, cseq: UInt32,
                               branch: String = TransactionLayer<String>.newBranch(), contact: String, body: [UInt8] = [],
                               contentType: String = "application/sdp", extra: [(String, String)] = []) -> SIPRequest {
        var headers = SIPHeaders()
        headers.add("Via", "SIP/2.0/WS abc123.invalid;branch=\(branch)")
        headers.add("Max-Forwards", "70")
        headers.add("From", from)
        headers.add("To", to)
        headers.add("Call-ID", callID)
        headers.add("CSeq", "\(cseq) \(method)")
        headers.add("Contact", contact)
        for (name, value) in extra { headers.add(name, value) }
        if !body.isEmpty { headers.add("Content-Type", contentType) }
        return SIPRequest(method: method, uri: try! SIPURI(parsing: uri), headers: headers, body: body)
    }

    /// Calls `number` with `offer`; returns the call once answered (200), after the digest
    /// challenge. Throws with the final response when the call fails.
    public func call(_ number: String, offer: String, callID: String = "call-" + String(UInt32.random(in: 1...UInt32.max))) async throws -> Call {
        let invite = try await sendAuthenticatedInvite(number, offer: offer, callID: callID)
        let response = try await finalResponse()
        guard response.statusCode == 200 else {
            try await client.send(ClientInviteTransaction.makeACK(for: invite, response: response))
            var text = "INVITE: \(response.statusCode) \(response.reason)"
            if let warning = response.headers["Warning"] { text += " (\(warning))" }
            throw CallFailure(text)
        }
        let target = try SIPNameAddress(parsing: response.headers["Contact"] ?? "").uri.description
        let toWithTag = response.headers["To"] ?? "<sip:\(number)@127.0.0.1>"
        try await client.send(request(.ack, uri: target, to: toWithTag, callID: callID, cseq: cseq))
        return Call(callID: callID, answer: response, target: target, to: toWithTag)
    }

    /// Sends an INVITE for `number`, answers the digest challenge, and returns the INVITE that
    /// carries the credentials (its responses are still to be read).
    public func sendAuthenticatedInvite(_ number: String, offer: String, callID: String) async throws -> SIPRequest {
        let uri = "sip:\(number)@127.0.0.1:\(port)"
        let to = "<sip:\(number)@127.0.0.1>"
        let first = request(.invite, uri: uri, to: to, callID: callID, cseq: cseq, body: Array(offer.utf8))
        try await client.send(first)
        let challenge = try await finalResponse()
        try await client.send(ClientInviteTransaction.makeACK(for: first, response: challenge))
        guard challenge.statusCode == 401 else { throw CallFailure("INVITE: \(challenge.statusCode) \(challenge.reason)") }
        var digest = DigestClient(username: username, password: password)
        guard let credentials = digest.answer(headerValues: challenge.headers.values("WWW-Authenticate"), method: "INVITE", uri: uri) else {
            throw CallFailure("no usable digest challenge")
        }
        cseq += 1
        let invite = request(.invite, uri: uri, to: to, callID: callID, cseq: cseq, body: Array(offer.utf8),
                             extra: [("Authorization", credentials.headerValue)])
        try await client.send(invite)
        return invite
    }

    /// Calls `number`, and once it rings (180) cancels the call. Returns the provisional status
    /// codes seen, the response to the CANCEL and the INVITE's final response (acknowledged).
    public func callAndCancelWhenRinging(_ number: String, offer: String,
                                         callID: String = "call-" + String(UInt32.random(in: 1...UInt32.max))) async throws
        -> (provisional: [Int], cancel: SIPResponse, final: SIPResponse) {
        let invite = try await sendAuthenticatedInvite(number, offer: offer, callID: callID)
        var provisional: [Int] = []
        while provisional.last != 180 {
            let response = try await client.nextResponse(timeout: .seconds(20))
            guard response.isProvisional else { throw CallFailure("INVITE: \(response.statusCode) \(response.reason) before ringing") }
            provisional.append(response.statusCode)
        }
        var headers = SIPHeaders()
        for name in ["Via", "Max-Forwards", "From", "To", "Call-ID"] { if let value = invite.headers[name] { headers.add(name, value) } }
        headers.add("CSeq", "\(cseq) CANCEL")
        try await client.send(SIPRequest(method: .cancel, uri: invite.uri, headers: headers))
        var cancelResponse: SIPResponse?
        var final: SIPResponse?
        while cancelResponse == nil || final == nil {
            let response = try await client.nextResponse(timeout: .seconds(20))
            let method = try response.headers.cseq().method
            if method == .cancel { cancelResponse = response } else if !response.isProvisional { final = response }
        }
        try await client.send(ClientInviteTransaction.makeACK(for: invite, response: final!))
        return (provisional, cancelResponse!, final!)
    }

    /// Registers the user's contact on this connection, through the digest challenge.
    public func register(expires: Int = 600) async throws {
        let uri = "sip:127.0.0.1:\(port)"
        let to = "<sip:\(username)@127.0.0.1>"
        let callID = "reg-" + tag
        let first = request(.register, uri: uri, to: to, callID: callID, cseq: cseq, extra: [("Expires", String(expires))])
        try await client.send(first)
        let challenge = try await finalResponse()
        guard challenge.statusCode == 401 else { throw CallFailure("REGISTER: \(challenge.statusCode) \(challenge.reason)") }
        var digest = DigestClient(username: username, password: password)
        guard let credentials = digest.answer(headerValues: challenge.headers.values("WWW-Authenticate"), method: "REGISTER", uri: uri) else {
            throw CallFailure("no usable digest challenge")
        }
        cseq += 1
        try await client.send(request(.register, uri: uri, to: to, callID: callID, cseq: cseq,
                                      extra: [("Expires", String(expires)), ("Authorization", credentials.headerValue)]))
        let ok = try await finalResponse()
        guard ok.statusCode == 200 else { throw CallFailure("REGISTER: \(ok.statusCode) \(ok.reason)") }
    }

    /// Waits for an INVITE from Tandem (a call to this user) and rings (180).
    public func awaitInvite(timeout: TimeAmount) async throws -> SIPRequest {
        let deadline = NIODeadline.now() + timeout
        while true {
            let remaining = deadline - .now()
            guard remaining > .zero else { throw CallFailure("no INVITE") }
            let request = try await client.nextRequest(timeout: remaining)
            guard request.method == .invite else { continue }
            try await client.send(request.makeResponse(180, toTag: tag))
            return request
        }
    }

    /// Answers an INVITE with `sdp` (200) and waits for the ACK.
    public func answer(_ invite: SIPRequest, sdp: String) async throws -> Call {
        var ok = invite.makeResponse(200, toTag: tag)
        ok.headers.add("Contact", "<sip:\(username)@abc123.invalid;transport=ws>")
        ok.headers.add("Content-Type", "application/sdp")
        ok.body = Array(sdp.utf8)
        try await client.send(ok)
        let deadline = NIODeadline.now() + .seconds(10)
        while true {
            let remaining = deadline - .now()
            guard remaining > .zero else { throw CallFailure("no ACK for the 200") }
            if try await client.nextRequest(timeout: remaining).method == .ack { break }
        }
        let target = try SIPNameAddress(parsing: invite.headers["Contact"] ?? "").uri.description
        return Call(callID: try invite.headers.callID(), answer: ok, target: target, to: invite.headers["From"] ?? "")
    }

    /// Hangs up: BYE, and the 200 for it.
    public func hangUp(_ call: Call) async throws -> SIPResponse {
        cseq += 1
        try await client.send(request(.bye, uri: call.target, to: call.to, callID: call.callID, cseq: cseq))
        return try await client.nextResponse(timeout: .seconds(10))
    }

    /// Sends an in-dialog INFO (e.g. application/dtmf-relay) and returns its final response.
    public func info(_ call: Call, body: String, contentType: String) async throws -> SIPResponse {
        cseq += 1
        try await client.send(request(.info, uri: call.target, to: call.to, callID: call.callID, cseq: cseq, body: Array(body.utf8),
                                      contentType: contentType))
        return try await finalResponse()
    }

    /// Waits for Tandem's BYE and answers it 200; returns the BYE.
    public func awaitBYE(timeout: TimeAmount) async throws -> SIPRequest {
        let deadline = NIODeadline.now() + timeout
        while true {
            let remaining = deadline - .now()
            guard remaining > .zero else { throw CallFailure("no BYE") }
            let request = try await client.nextRequest(timeout: remaining)
            guard request.method == .bye else { continue }
            try await client.send(request.makeResponse(200))
            return request
        }
    }

    private func finalResponse() async throws -> SIPResponse {
        while true {
            let response = try await client.nextResponse(timeout: .seconds(20))
            if !response.isProvisional { return response }
        }
    }

    public func close() async { await client.close() }
}
