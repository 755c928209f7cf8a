// The B2BUA call flows (RFC 3261 §13-§15 on each leg): a browser's INVITE is authenticated and
// routed by the dial plan to a trunk; a trunk's INVITE (from an allowed source only, 403
// otherwise: never an open relay) goes to the registered browser over the WebSocket it
// registered on. Provisional responses are relayed (with SDP through the session manager), 2xx
// is acknowledged on the outgoing leg and answered on the incoming one, failures are mapped back,
// CANCEL is forwarded once the outgoing leg has a provisional response (§9.1), and BYE from
// either side ends both legs.

import MediaEngine
import NIOCore
import SIP
import TandemConfig

extension SignalingCore {
    /// Calls in progress or established.
    public var activeCalls: Int { calls.count }

    // MARK: New calls

    mutating func startCall(_ request: SIPRequest, transaction id: TransactionID, source: Destination, now: NIODeadline) -> [SignalingEffect<Destination>] {
        let tag = Self.newTag()
        var side: CallSide = (current?.transport.isWebSocket ?? false) ? .web : .trunk
        var callerTrunk: Trunk?
        var webUser: WebUser?
        var trunkName: String?
        func refuse(_ code: Int, _ reason: String? = nil, warning: String? = nil) -> [SignalingEffect<Destination>] {
            var response = request.makeResponse(code, reason: reason, toTag: tag)
            if let warning { response.headers.add("Warning", "399 \(routing?.node ?? "tandem") \(SIPGrammarQuote.quote(warning))") }
            let text = warning ?? reason ?? SIPResponse.defaultReason(code)
            let logged = recordRefusal(request, status: code, reason: text, side: side, trunk: trunkName ?? callerTrunk?.name,
                                       caller: webUser?.username, now: now)
            return respond(to: id, with: response, now: now) + [logged]
        }
        guard let routing, let inbound = current else { return refuse(503, "Service Unavailable (no routing)") }
        guard admitting else { return refuse(503, "Service Unavailable (draining)") }
        let reliable = inbound.transport.isStream

        // Who is calling: a browser (over WebSocket, authenticated) or an allowed trunk.
        if inbound.transport.isWebSocket {
            side = .web
            switch registrar.authenticate(request, source: inbound.sourceHost, toTag: tag, now: now) {
            case .user(let user): webUser = user
            case .refused(let answer):
                // A challenge is part of the attempt; refused credentials end it.
                var effects: [SignalingEffect<Destination>] = []
                if let failure = answer.failure {
                    effects += authenticationRefused(request, failure)
                    effects.append(recordRefusal(request, status: answer.response.statusCode, reason: answer.response.reason,
                                                 side: side, trunk: nil, caller: nil, now: now))
                }
                if answer.delay > .zero {
                    delayed.append((now + answer.delay.timeAmount, id, answer.response))
                    return effects
                }
                return effects + respond(to: id, with: answer.response, now: now)
            }
            guard let from = try? request.headers.from(), from.uri.user == webUser?.username else {
                return refuse(403, "Forbidden (From does not match the authenticated user)")
            }
        } else if let trunk = routing.trunk(forSource: inbound.sourceHost) {
            side = .trunk
            callerTrunk = trunk
        } else {
            return [sourceRefused(request)] + refuse(403, "Forbidden (source not allowed)")
        }

        let session = Self.requestedSessionInterval(request)
        if session.tooSmall {
            var response = request.makeResponse(422, toTag: tag)
            response.headers.add("Min-SE", String(Self.minimumSessionInterval))
            return respond(to: id, with: response, now: now)
        }

        // Where the call goes.
        let number = request.uri.user ?? ""
        let calleeSide: CallSide = side == .web ? .trunk : .web
        var destination: Destination
        var requestURI: SIPURI
        var toURI: SIPURI
        var endpoint: LocalEndpoint
        var bReliable: Bool
        var routeName: String?
        var failover: [String: String]?  // logged with the call's id once it is a call
        if side == .web {
            guard let route = routing.route(number) else { return refuse(404, "Not Found (no route)") }
            // The first trunk of the rule's list that can take the call now; a trunk known to be
            // down, full or over its call rate is passed over, and with none left the caller
            // gets 503 at once.
            var chosen: (trunk: Trunk, destination: Destination, local: LocalEndpoint)?
            var passedOver: [String] = []
            for candidate in route.trunks {
                if let why = trunkRefusal(candidate, now: now) {
                    passedOver.append("\(candidate.name) \(why)")
                    continue
                }
                guard let resolved = routing.trunkDestination(candidate), let local = routing.endpoints[candidate.transport] else {
                    passedOver.append("\(candidate.name) unreachable")
                    continue
                }
                chosen = (candidate, resolved, local)
                break
            }
            guard let chosen else {
                trunkName = route.trunks.first?.name
                return refuse(503, "Service Unavailable (no trunk available: \(passedOver.joined(separator: ", ")))")
            }
            let trunk = chosen.trunk
            routeName = route.rule
            if !passedOver.isEmpty {
                failover = ["trunk": trunk.name, "passed_over": passedOver.joined(separator: ", "), "route": route.rule, "callee": number]
            }
            destination = chosen.destination
            endpoint = chosen.local
            bReliable = trunk.transport.isStream
            requestURI = SIPURI(user: route.number, host: trunk.address, port: trunk.port)
            if trunk.transport != .udp { requestURI.parameters.set("transport", trunk.transport.rawValue) }
            toURI = SIPURI(user: route.number, host: trunk.address)
            trunkName = trunk.name
        } else {
            guard registrar.hasUser(number) else { return refuse(404, "Not Found (no such user)") }
            guard let binding = registrar.contacts(of: number, now: now).last, let connection = binding.connectionID,
                let contact = try? SIPURI(parsing: binding.contact)
            else { return refuse(480, "Temporarily Unavailable (not registered)") }
            let transport: SIPTransportKind = contact.transport == "wss" || contact.scheme == "sips" ? .wss : .ws
            guard let local = routing.endpoints[transport] ?? routing.endpoints[transport == .wss ? .ws : .wss] else {
                return refuse(503, "Service Unavailable (no WebSocket listener)")
            }
            destination = routing.connectionDestination(connection)
            endpoint = local
            bReliable = true
            requestURI = contact
            toURI = SIPURI(user: number, host: local.host)
        }

        if let trunk = callerTrunk {
            if let why = trunkRefusal(trunk, now: now, incoming: true) { return refuse(503, "Service Unavailable (trunk \(why))") }
        }

        // The offer, through the session manager.
        guard !request.body.isEmpty, (request.headers["Content-Type"] ?? "").lowercased().hasPrefix("application/sdp") else {
            return refuse(488, warning: "an INVITE without an SDP offer is not supported")
        }
        let callID = Self.newTag() + "@" + routing.node
        let offer: [UInt8]
        switch sessions.offer(request.body, call: callID, from: side, trunk: trunkName ?? callerTrunk?.name) {
        case .sdp(let sdp): offer = sdp
        case .rejected(let warning): return refuse(488, warning: warning)
        case .unavailable(let reason): return refuse(503, "Service Unavailable (\(reason))")
        }

        // The outgoing INVITE (§8.1.1).
        let from = try? request.headers.from()
        let callerUser = from?.uri.user ?? "anonymous"
        var fromAddress = SIPNameAddress(displayName: from?.displayName ?? webUser?.displayName, uri: SIPURI(user: callerUser, host: endpoint.host))
        fromAddress.tag = Self.newTag()
        var headers = SIPHeaders()
        headers.add("Via", endpoint.via().description)
        headers.add("Max-Forwards", String(max(0, ((try? request.headers.maxForwards()) ?? nil).map { $0 - 1 } ?? 69)))
        headers.add("From", fromAddress.description)
        headers.add("To", SIPNameAddress(uri: toURI).description)
        headers.add("Call-ID", callID)
        headers.add("CSeq", "1 INVITE")
        headers.add("Contact", endpoint.contact())
        headers.add("Allow", Self.allowed.map(\.rawValue).joined(separator: ", "))
        headers.add("Supported", "100rel")
        headers.add("Content-Type", "application/sdp")
        let invite = SIPRequest(method: .invite, uri: requestURI, headers: headers, body: offer)
        guard let (bTransaction, events) = try? transactions.send(invite, to: destination, reliable: bReliable, now: now) else {
            sessions.release(call: callID)
            return refuse(500)
        }
        let aEndpoint = routing.endpoints[inbound.transport] ?? endpoint
        var call = B2BCall(
            id: callID, trunk: trunkName ?? callerTrunk?.name,
            a: IncomingLeg(side: side, invite: request, transaction: id, replyTo: source, reliable: reliable, localTag: tag, endpoint: aEndpoint, dialog: nil),
            b: OutgoingLeg(side: calleeSide, invite: invite, transaction: bTransaction, destination: destination, reliable: bReliable,
                           endpoint: endpoint, dialog: nil))
        call.sessionInterval = session.interval
        call.caller = callerUser
        call.callee = number
        call.startedAt = now
        call.source = sourceText
        call.route = routeName
        if let trunk = callerTrunk ?? routing.trunks.first(where: { $0.name == trunkName }) { takeTrunkRate(trunk, now: now) }
        calls[callID] = call
        callByServerTransaction[id] = callID
        callByClientTransaction[bTransaction] = callID
        let routingLog = failover.map { fields in [SignalingEffect<Destination>.log(OperatorLog(.notice, "trunk failover", fields.merging(["call": callID]) { a, _ in a }))] } ?? []
        return routingLog + [callStarted(call, destination: requestURI)] + handle(events, now: now)
    }

    // MARK: Responses on the outgoing leg

    mutating func callResponse(_ response: SIPResponse, transaction id: TransactionID, now: NIODeadline) -> [SignalingEffect<Destination>] {
        guard let callID = callByClientTransaction[id], var call = calls[callID] else {
            return []
        }
        guard id == call.b.transaction else { return [] }  // responses to our CANCEL or BYE need nothing
        var effects: [SignalingEffect<Destination>] = []
        switch response.statusCode {
        case 100:
            return []
        case 101..<200:
            call.b.provisionalSeen = true
            if call.b.dialog == nil, (try? response.headers.to().tag) != nil, let dialog = try? Dialog(uac: call.b.invite, response: response) {
                call.b.dialog = dialog
                callByDialog[dialog.id] = callID
            }
            // A reliable provisional response (RFC 3262 §4) is acknowledged with PRACK; a
            // retransmission of one already acknowledged is not relayed again.
            if let required = try? response.headers.list("Require"), required.contains(where: { $0.lowercased() == "100rel" }),
                let rseqText = response.headers["RSeq"], let rseq = UInt32(SIPGrammarNumber.leading(rseqText).map(String.init) ?? "") {
                if let last = call.b.lastRSeq, rseq <= last {
                    calls[callID] = call
                    return []
                }
                call.b.lastRSeq = rseq
                effects += sendPRACK(for: response, rseq: rseq, call: &call, now: now)
            }
            if call.cancelPending {
                call.cancelPending = false
                calls[callID] = call
                return effects + sendCancel(call, now: now)
            }
            guard call.state == .proceeding else {
                calls[callID] = call
                return effects
            }
            var relayed = call.a.invite.makeResponse(response.statusCode, reason: response.reason, toTag: call.a.localTag)
            relayed.headers.add("Contact", call.a.endpoint.contact())
            if !response.body.isEmpty && call.answerForA == nil {
                switch sessions.answer(response.body, call: callID, from: call.b.side) {
                case .sdp(let sdp):
                    call.answerForA = sdp
                    relayed.headers.add("Content-Type", "application/sdp")
                    relayed.body = sdp
                case .rejected, .unavailable:
                    break  // early media is optional; the 200 carries the answer
                }
            }
            if call.a.dialog == nil, let dialog = try? Dialog(uas: call.a.invite, response: relayed) {
                call.a.dialog = dialog
                callByDialog[dialog.id] = callID
            }
            calls[callID] = call
            return effects + respond(to: call.a.transaction, with: relayed, now: now)
        case 200..<300:
            // Acknowledge B's 2xx (§13.2.2.4); a retransmitted 2xx gets the same ACK again.
            if call.b.dialog == nil || call.b.dialog?.state == .early {
                guard var dialog = call.b.dialog ?? (try? Dialog(uac: call.b.invite, response: response)) else { return [] }
                dialog.confirm(with: response)
                call.b.dialog = dialog
                callByDialog[dialog.id] = callID
            }
            effects += sendACK(for: call, now: now)
            if call.state == .confirmed {
                calls[callID] = call
                return effects
            }
            if call.state == .cancelling || call.state == .ended {
                // Answered while being cancelled: the callee's leg ends with a BYE.
                calls[callID] = call
                return effects + sendBYE(on: .outgoing, call: callID, now: now) + endCall(callID, by: call.a.side.rawValue, reason: "cancelled", now: now)
            }
            var answer = call.answerForA
            if !response.body.isEmpty, answer == nil {
                switch sessions.answer(response.body, call: callID, from: call.b.side) {
                case .sdp(let sdp): answer = sdp
                case .rejected(let warning), .unavailable(let warning):
                    calls[callID] = call
                    var failure = call.a.invite.makeResponse(488, toTag: call.a.localTag)
                    failure.headers.add("Warning", "399 \(routing?.node ?? "tandem") \(SIPGrammarQuote.quote(warning))")
                    return effects + sendBYE(on: .outgoing, call: callID, now: now) + respond(to: call.a.transaction, with: failure, now: now)
                        + endCall(callID, by: "tandem", reason: "488 answer not acceptable: \(warning)", now: now)
                }
            }
            call.answerForA = answer
            var ok = call.a.invite.makeResponse(200, toTag: call.a.localTag)
            ok.headers.add("Contact", call.a.endpoint.contact())
            ok.headers.add("Allow", Self.allowed.map(\.rawValue).joined(separator: ", "))
            if let answer {
                ok.headers.add("Content-Type", "application/sdp")
                ok.body = answer
            }
            if let interval = call.sessionInterval {
                Self.addSessionTimer(interval, to: &ok)
                call.sessionDeadline = now + .seconds(Int64(interval))
            }
            if var dialog = call.a.dialog ?? (try? Dialog(uas: call.a.invite, response: ok)) {
                dialog.state = .confirmed
                call.a.dialog = dialog
                callByDialog[dialog.id] = callID
            }
            call.state = .confirmed
            call.answeredAt = now
            calls[callID] = call
            return effects + respond(to: call.a.transaction, with: ok, now: now) + [callAnswered(call, now: now)]
        default:
            // 401/407 from a trunk with credentials: answer the challenge once (§22.2).
            if (response.statusCode == 401 || response.statusCode == 407), !call.b.authenticated, call.state == .proceeding,
                call.b.side == .trunk, let trunk = routing?.trunks.first(where: { $0.name == call.trunk }), let credentials = trunk.credentials {
                var client = DigestClient(username: credentials.username, password: credentials.password, realm: credentials.realm)
                let challenges = response.headers.values(response.statusCode == 401 ? "WWW-Authenticate" : "Proxy-Authenticate")
                if let answer = client.answer(headerValues: challenges, method: "INVITE", uri: call.b.invite.uri.description) {
                    var invite = call.b.invite
                    invite.headers.set("Via", call.b.endpoint.via().description)
                    invite.headers.set("CSeq", "2 INVITE")
                    invite.headers.add(response.statusCode == 401 ? "Authorization" : "Proxy-Authorization", answer.headerValue)
                    if let (transaction, events) = try? transactions.send(invite, to: call.b.destination, reliable: call.b.reliable, now: now) {
                        callByClientTransaction[transaction] = callID
                        call.b.invite = invite
                        call.b.transaction = transaction
                        call.b.authenticated = true
                        calls[callID] = call
                        return handle(events, now: now)
                    }
                }
            }
            if call.state == .proceeding {
                let code = Self.mapFailure(response.statusCode)
                let relayed = call.a.invite.makeResponse(code, reason: code == response.statusCode ? response.reason : nil, toTag: call.a.localTag)
                effects += respond(to: call.a.transaction, with: relayed, now: now)
            }
            let ended = call.state == .cancelling
                ? endCall(callID, by: call.a.side.rawValue, reason: "cancelled", now: now)
                : endCall(callID, by: call.b.side.rawValue, reason: "\(response.statusCode) \(response.reason)", now: now)
            return effects + ended + [.note("call failed with \(response.statusCode)", call: callID)]
        }
    }

    /// How a failure on the outgoing leg is told to the caller: redirections are not followed
    /// (480), authentication the gateway could not satisfy is its own failure (502), the rest
    /// (busy, decline, not found, timeouts, server errors) passes through.
    static func mapFailure(_ code: Int) -> Int {
        switch code {
        case 300..<400: return 480
        case 401, 407: return 502
        default: return code
        }
    }

    // MARK: Requests inside a dialog

    mutating func inDialog(_ request: SIPRequest, transaction id: TransactionID, now: NIODeadline) -> [SignalingEffect<Destination>] {
        guard let dialogID = DialogID(incoming: request), let callID = callByDialog[dialogID], var call = calls[callID] else {
            return respond(to: id, with: request.makeResponse(481), now: now)
        }
        let leg: LegRole = call.a.dialog?.id == dialogID ? .incoming : .outgoing
        var accepted = true
        if leg == .incoming { accepted = call.a.dialog?.receive(request) ?? false } else { accepted = call.b.dialog?.receive(request) ?? false }
        calls[callID] = call
        guard accepted else { return respond(to: id, with: request.makeResponse(500, reason: "Server Internal Error (CSeq out of order)"), now: now) }
        switch request.method {
        case .bye:
            let other: LegRole = leg == .incoming ? .outgoing : .incoming
            return respond(to: id, with: request.makeResponse(200), now: now) + sendBYE(on: other, call: callID, now: now)
                + endCall(callID, by: (leg == .incoming ? call.a.side : call.b.side).rawValue, reason: "BYE", now: now)
                + [.note("call ended by the \(leg == .incoming ? call.a.side : call.b.side) side", call: callID)]
        case .invite, .update, .info:
            return relay(request, transaction: id, from: leg, call: callID, dialog: dialogID, now: now)
        default:
            var response = request.makeResponse(501)
            response.headers.add("Allow", Self.allowed.map(\.rawValue).joined(separator: ", "))
            return respond(to: id, with: response, now: now)
        }
    }

    /// Relays a re-INVITE (hold, unhold, codec change), UPDATE or INFO (DTMF) to the other leg's
    /// dialog; SDP goes through the session manager as a new offer.
    mutating func relay(_ request: SIPRequest, transaction id: TransactionID, from leg: LegRole, call callID: String, dialog dialogID: DialogID,
                        now: NIODeadline) -> [SignalingEffect<Destination>] {
        guard var call = calls[callID], call.state == .confirmed else {
            return respond(to: id, with: request.makeResponse(491), now: now)  // Request Pending: the call is not set up yet
        }
        let fromSide = leg == .incoming ? call.a.side : call.b.side
        // DTMF by SIP INFO from a browser goes to the trunk as RFC 4733 events when it can.
        if request.method == .info, fromSide == .web, let (digit, duration) = Self.dtmfRelay(request),
            sessions.dtmf(call: callID, digit: digit, durationMilliseconds: duration) {
            return respond(to: id, with: request.makeResponse(200), now: now) + [.note("DTMF \(digit) from SIP INFO", call: callID)]
        }
        let endpoint = leg == .incoming ? call.b.endpoint : call.a.endpoint
        let destination = leg == .incoming ? call.b.destination : call.a.replyTo
        let reliable = leg == .incoming ? call.b.reliable : call.a.reliable
        guard var otherDialog = leg == .incoming ? call.b.dialog : call.a.dialog, otherDialog.state == .confirmed else {
            return respond(to: id, with: request.makeResponse(491), now: now)
        }
        var relayed = otherDialog.makeRequest(request.method, via: endpoint.via(), contact: endpoint.contact())
        relayed.headers.add("User-Agent", userAgent)
        if !request.body.isEmpty {
            let type = request.headers["Content-Type"] ?? "application/octet-stream"
            if request.method != .info && type.lowercased().hasPrefix("application/sdp") {
                switch sessions.offer(request.body, call: callID, from: fromSide, trunk: call.trunk) {
                case .sdp(let sdp): relayed.body = sdp
                case .unavailable(let warning), .rejected(let warning):
                    var response = request.makeResponse(488)
                    response.headers.add("Warning", "399 \(routing?.node ?? "tandem") \(SIPGrammarQuote.quote(warning))")
                    return respond(to: id, with: response, now: now)
                }
            } else {
                relayed.body = request.body
            }
            relayed.headers.add("Content-Type", type)
        }
        for name in ["Info-Package", "Event"] { if let value = request.headers[name] { relayed.headers.add(name, value) } }
        if leg == .incoming { call.b.dialog = otherDialog } else { call.a.dialog = otherDialog }
        calls[callID] = call
        guard let (clientID, events) = try? transactions.send(relayed, to: destination, reliable: reliable, now: now) else {
            return respond(to: id, with: request.makeResponse(500), now: now)
        }
        relays[clientID] = Relay(call: callID, origin: id, request: request, from: fromSide, relayed: relayed)
        if request.method == .invite { reinviteByDialog[dialogID] = id }
        return handle(events, now: now)
    }

    /// The digit and duration of an INFO carrying `application/dtmf-relay` (`Signal=5`,
    /// `Duration=160`) or `application/dtmf` (the digit alone).
    static func dtmfRelay(_ request: SIPRequest) -> (Character, Int)? {
        let type = (request.headers["Content-Type"] ?? "").lowercased()
        let text = String(decoding: request.body, as: UTF8.self)
        var signal: Character?
        var duration = 160
        if type.hasPrefix("application/dtmf-relay") {
            for line in text.split(whereSeparator: { $0 == "\n" || $0 == "\r" }) {
                let parts = line.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                guard parts.count == 2 else { continue }
                switch parts[0].lowercased() {
                case "signal": signal = parts[1].uppercased().first
                case "duration": duration = Int(parts[1]) ?? duration
                default: break
                }
            }
        } else if type.hasPrefix("application/dtmf") {
            signal = text.trimmingCharacters(in: .whitespacesAndNewlines).uppercased().first
        }
        guard let signal, "0123456789*#ABCD".contains(signal) else { return nil }
        return (signal, min(max(duration, 40), 5000))
    }

    /// The other leg's response to a relayed request, passed back to the originator.
    mutating func relayResponse(_ response: SIPResponse, transaction id: TransactionID, now: NIODeadline) -> [SignalingEffect<Destination>]? {
        guard let relay = relays[id] else { return nil }
        if response.statusCode == 100 { return [] }
        var effects: [SignalingEffect<Destination>] = []
        var back = relay.request.makeResponse(response.statusCode, reason: response.reason)
        if let call = calls[relay.call] {
            let originEndpoint = relay.from == call.a.side ? call.a.endpoint : call.b.endpoint
            back.headers.add("Contact", originEndpoint.contact())
        }
        if response.isSuccess && !response.body.isEmpty && relay.request.method != .info {
            let answeringSide: CallSide = relay.from == .web ? .trunk : .web
            switch sessions.answer(response.body, call: relay.call, from: answeringSide) {
            case .sdp(let sdp):
                back.body = sdp
                back.headers.add("Content-Type", "application/sdp")
            case .rejected, .unavailable:
                back = relay.request.makeResponse(488)
            }
        } else if !response.body.isEmpty {
            back.body = response.body
            if let type = response.headers["Content-Type"] { back.headers.add("Content-Type", type) }
        }
        if response.isSuccess, relay.request.method == .invite || relay.request.method == .update,
            var call = calls[relay.call], relay.from == call.a.side, let interval = call.sessionInterval {
            // A refresh from the caller (RFC 4028 §10): the session lives another interval.
            let requested = Self.requestedSessionInterval(relay.request).interval ?? interval
            call.sessionInterval = max(requested, Self.minimumSessionInterval)
            call.sessionDeadline = now + .seconds(Int64(call.sessionInterval!))
            calls[relay.call] = call
            Self.addSessionTimer(call.sessionInterval!, to: &back)
        }
        if !response.isProvisional {
            relays[id] = nil
            // The 2xx of a relayed re-INVITE is acknowledged on its leg at once.
            if response.isSuccess, relay.relayed.method == .invite, let call = calls[relay.call] {
                let toIncoming = relay.from != call.a.side
                let endpoint = toIncoming ? call.a.endpoint : call.b.endpoint
                let destination = toIncoming ? call.a.replyTo : call.b.destination
                if var dialog = toIncoming ? call.a.dialog : call.b.dialog, let sequence = try? relay.relayed.headers.cseq().number {
                    let ack = dialog.makeRequest(.ack, via: endpoint.via(), contact: nil, sequence: sequence)
                    effects += handle(transactions.sendStateless(.request(ack), to: destination), now: now)
                }
            }
        }
        return effects + respond(to: relay.origin, with: back, now: now)
    }

    /// A relayed request the other leg never answered.
    mutating func relayTimedOut(_ id: TransactionID, now: NIODeadline) -> [SignalingEffect<Destination>]? {
        guard let relay = relays.removeValue(forKey: id) else { return nil }
        return respond(to: relay.origin, with: relay.request.makeResponse(408), now: now)
    }

    /// An ACK outside a transaction: the ACK for a 2xx Tandem sent (the call's answer on the
    /// incoming leg, or the answer to a relayed re-INVITE on either leg).
    mutating func acknowledge(_ request: SIPRequest) {
        guard let dialogID = DialogID(incoming: request), let callID = callByDialog[dialogID], let call = calls[callID] else { return }
        if let reinvite = reinviteByDialog.removeValue(forKey: dialogID) {
            transactions.acknowledge2xx(reinvite)
        } else {
            transactions.acknowledge2xx(call.a.transaction)
        }
    }

    mutating func strayResponse(_ response: SIPResponse, now: NIODeadline) -> [SignalingEffect<Destination>] {
        // A 2xx for an INVITE whose transaction has ended: ACK it again (§13.2.2.4).
        guard response.isSuccess, let cseq = try? response.headers.cseq(), cseq.method == .invite,
            let dialogID = DialogID(response: response), let callID = callByDialog[dialogID], let call = calls[callID]
        else { return [] }
        return sendACK(for: call, now: now)
    }

    // MARK: Cancel, timeouts, teardown

    mutating func cancelCall(invite: TransactionID, now: NIODeadline) -> [SignalingEffect<Destination>] {
        guard let callID = callByServerTransaction[invite], var call = calls[callID], call.state == .proceeding else { return [] }
        call.state = .cancelling
        let terminated = call.a.invite.makeResponse(487, toTag: call.a.localTag)
        var effects = respond(to: call.a.transaction, with: terminated, now: now)
        if call.b.provisionalSeen {
            calls[callID] = call
            effects += sendCancel(call, now: now)
        } else {
            call.cancelPending = true
            calls[callID] = call
        }
        return effects + [.note("call cancelled by the caller", call: callID)]
    }

    /// CANCEL for the outgoing INVITE (§9.1): same Request-URI, Call-ID, From, To, CSeq number and
    /// top Via as the INVITE.
    mutating func sendCancel(_ call: B2BCall<Destination>, now: NIODeadline) -> [SignalingEffect<Destination>] {
        var headers = SIPHeaders()
        for name in ["Via", "Max-Forwards", "From", "To", "Call-ID"] {
            if let value = call.b.invite.headers[name] { headers.add(name, value) }
        }
        let number = (try? call.b.invite.headers.cseq().number) ?? 1
        headers.add("CSeq", SIPCSeq(number: number, method: .cancel).description)
        for route in call.b.invite.headers.values("Route") { headers.add("Route", route) }
        let cancel = SIPRequest(method: .cancel, uri: call.b.invite.uri, headers: headers)
        guard let (transaction, events) = try? transactions.send(cancel, to: call.b.destination, reliable: call.b.reliable, now: now) else { return [] }
        callByClientTransaction[transaction] = call.id
        return handle(events, now: now)
    }

    mutating func callTimedOut(_ id: TransactionID, now: NIODeadline) -> [SignalingEffect<Destination>] {
        guard let callID = callByClientTransaction[id], let call = calls[callID], id == call.b.transaction else { return [] }
        var effects: [SignalingEffect<Destination>] = []
        if call.state == .proceeding {
            effects += respond(to: call.a.transaction, with: call.a.invite.makeResponse(408, toTag: call.a.localTag), now: now)
        }
        return effects + endCall(callID, by: "tandem", reason: "408 no answer from the callee side", now: now)
            + [.note("no answer from the callee side (timeout)", call: callID)]
    }

    mutating func callNotAcknowledged(_ id: TransactionID, now: NIODeadline) -> [SignalingEffect<Destination>] {
        guard let callID = callByServerTransaction[id], calls[callID]?.state == .confirmed else { return [] }
        return sendBYE(on: .incoming, call: callID, now: now) + sendBYE(on: .outgoing, call: callID, now: now)
            + endCall(callID, by: "tandem", reason: "the caller never acknowledged the answer", now: now)
            + [.note("the caller never acknowledged the answer; ended", call: callID)]
    }

    /// Ends every call (drain deadline, shutdown): BYE on confirmed legs, 503 on unanswered ones.
    public mutating func endAllCalls(now: NIODeadline) -> [SignalingEffect<Destination>] {
        var effects: [SignalingEffect<Destination>] = []
        for (callID, call) in calls {
            switch call.state {
            case .confirmed:
                effects += sendBYE(on: .incoming, call: callID, now: now) + sendBYE(on: .outgoing, call: callID, now: now)
            case .proceeding:
                effects += respond(to: call.a.transaction, with: call.a.invite.makeResponse(503, toTag: call.a.localTag), now: now)
                if call.b.provisionalSeen { effects += sendCancel(call, now: now) }
            case .cancelling, .ended:
                break
            }
            effects += endCall(callID, by: "tandem", reason: "drain", now: now)
        }
        return effects
    }

    enum LegRole { case incoming, outgoing }

    /// BYE on one leg's dialog (§15.1.1), when it is confirmed.
    mutating func sendBYE(on leg: LegRole, call callID: String, reason: String? = nil, now: NIODeadline) -> [SignalingEffect<Destination>] {
        guard let (request, destination, reliable) = makeBYE(on: leg, call: callID, reason: reason) else { return [] }
        guard let (transaction, events) = try? transactions.send(request, to: destination, reliable: reliable, now: now) else { return [] }
        callByClientTransaction[transaction] = callID
        return handle(events, now: now)
    }

    /// The BYE for one leg's confirmed dialog, its CSeq taken from the dialog.
    mutating func makeBYE(on leg: LegRole, call callID: String, reason: String?) -> (SIPRequest, Destination, reliable: Bool)? {
        guard var call = calls[callID] else { return nil }
        let result: (SIPRequest, Destination, reliable: Bool)
        switch leg {
        case .incoming:
            guard var dialog = call.a.dialog, dialog.state == .confirmed else { return nil }
            result = (Self.withReason(dialog.makeRequest(.bye, via: call.a.endpoint.via(), contact: nil), reason), call.a.replyTo, call.a.reliable)
            call.a.dialog = dialog
        case .outgoing:
            guard var dialog = call.b.dialog, dialog.state == .confirmed else { return nil }
            result = (Self.withReason(dialog.makeRequest(.bye, via: call.b.endpoint.via(), contact: nil), reason), call.b.destination, call.b.reliable)
            call.b.dialog = dialog
        }
        calls[callID] = call
        return result
    }

    // MARK: A browser's connection closed

    /// How long a browser whose WebSocket closed mid-call has to register again and get the
    /// BYE for that call: JsSIP retries after 2 to 30 s, SIP.js SimpleUser after 4 s.
    static var reconnectionWindow: TimeAmount { .seconds(32) }

    /// Ends every call whose browser leg ran over `connection`: the trunk gets a BYE (a CANCEL or a
    /// 480 before the answer) with `Reason: SIP;cause=480;text="connection lost: ..."`.
    /// The browser gets its BYE once it registers again over a new connection: JsSIP keeps an
    /// established session when its WebSocket drops (only transactions in progress fail), so
    /// without it the library would show the call up forever.
    mutating func browserConnectionLost(_ connection: UInt64, now: NIODeadline) -> [SignalingEffect<Destination>] {
        byesAwaitingReconnection = byesAwaitingReconnection.filter { $0.value.until > now }
        guard let lost = routing?.connectionDestination(connection) else { return [] }
        let text = "connection lost: the browser's WebSocket closed"
        var effects: [SignalingEffect<Destination>] = []
        for (callID, call) in calls {
            let webLeg: LegRole
            if call.a.side == .web && call.a.replyTo == lost { webLeg = .incoming }
            else if call.b.side == .web && call.b.destination == lost { webLeg = .outgoing }
            else { continue }
            guard call.state == .confirmed else {
                effects += terminate(callID, cause: 480, text: text, by: "web", now: now)
                continue
            }
            let reason = "SIP;cause=480;text=\(SIPGrammarQuote.quote(text))"
            if let (bye, _, reliable) = makeBYE(on: webLeg, call: callID, reason: reason),
                let key = (webLeg == .incoming ? call.a.dialog : call.b.dialog).map({ Self.contactKey($0.remoteTarget) }) {
                if byesAwaitingReconnection.count < 10_000 {
                    byesAwaitingReconnection[key] = (bye, reliable, now + Self.reconnectionWindow)
                }
            }
            effects += sendBYE(on: webLeg == .incoming ? .outgoing : .incoming, call: callID, reason: reason, now: now)
            effects += endCall(callID, by: "web", reason: text, now: now) + [.note("call ended: \(text)", call: callID)]
        }
        return effects
    }

    /// A browser registered over `connection`: the BYEs waiting for one of its contacts go out.
    mutating func sendByesAwaitingReconnection(registered response: SIPResponse, over connection: UInt64, now: NIODeadline)
        -> [SignalingEffect<Destination>]
    {
        guard !byesAwaitingReconnection.isEmpty, let routing else { return [] }
        var effects: [SignalingEffect<Destination>] = []
        for value in response.headers.values("Contact") {
            guard let contact = try? SIPNameAddress(parsing: value),
                let waiting = byesAwaitingReconnection.removeValue(forKey: Self.contactKey(contact.uri))
            else { continue }
            guard waiting.until > now,
                let (_, events) = try? transactions.send(waiting.request, to: routing.connectionDestination(connection), reliable: waiting.reliable, now: now)
            else { continue }
            effects += handle(events, now: now) + [.note("BYE of a call whose connection closed, sent over the browser's new connection")]
        }
        return effects
    }

    /// A browser contact as user@host, the part that stays when a library reconnects (its
    /// parameters, such as `ob`, may differ between REGISTER and INVITE).
    static func contactKey(_ uri: SIPURI) -> String { "\(uri.user ?? "")@\(uri.host)".lowercased() }

    /// Adds `Reason: <value>` (RFC 3326) when one is given.
    static func withReason(_ request: SIPRequest, _ reason: String?) -> SIPRequest {
        guard let reason else { return request }
        var request = request
        request.headers.add("Reason", reason)
        return request
    }

    /// The media side ended a call (ICE consent lost, DTLS fingerprint mismatch, media timeout):
    /// BYE on both legs with a Reason header (RFC 3326) saying why, or for a call not yet answered,
    /// 500 toward the caller and CANCEL toward the callee.
    /// The cause gives the Reason's code and text, and the record's `endCause` (its label).
    public mutating func endCall(_ callID: String, mediaFailure cause: MediaFailureCause, now: NIODeadline) -> [SignalingEffect<Destination>] {
        terminate(callID, cause: cause.sipCause, text: cause.text, by: "media", endCause: cause.label, now: now)
    }

    /// An operator ends a call (`tandemctl hangup`): BYE with `Reason: SIP;cause=200`.
    public mutating func hangUp(_ callID: String, now: NIODeadline) -> [SignalingEffect<Destination>] {
        terminate(callID, cause: 200, text: "ended by the operator", by: "operator", now: now)
    }

    mutating func terminate(_ callID: String, cause: Int, text: String, by: String, endCause: String? = nil,
                            now: NIODeadline) -> [SignalingEffect<Destination>] {
        guard let call = calls[callID] else { return [] }
        let reason = "SIP;cause=\(cause);text=\(SIPGrammarQuote.quote(text))"
        var effects: [SignalingEffect<Destination>] = []
        switch call.state {
        case .confirmed:
            effects += sendBYE(on: .incoming, call: callID, reason: reason, now: now) + sendBYE(on: .outgoing, call: callID, reason: reason, now: now)
        case .proceeding:
            let code = cause >= 500 ? 500 : 480
            var failure = call.a.invite.makeResponse(code, reason: code == 480 ? "Temporarily Unavailable (\(text))" : "Server Internal Error (\(text))",
                                                     toTag: call.a.localTag)
            failure.headers.add("Reason", reason)
            effects += respond(to: call.a.transaction, with: failure, now: now)
            if call.b.provisionalSeen { effects += sendCancel(call, now: now) }
        case .cancelling, .ended:
            break
        }
        return effects + endCall(callID, by: by, reason: text, cause: endCause, now: now) + [.note("call ended by \(by): \(text)", call: callID)]
    }

    /// Calls in progress, for `tandemctl calls`.
    public var callRecords: [CallRecord] {
        calls.values.map { record(of: $0) }.sorted { $0.startedAt < $1.startedAt }
    }

    /// Calls ended since the last time this was called.
    public mutating func takeEndedCalls() -> [CallRecord] {
        defer { endedCalls.removeAll() }
        return endedCalls
    }

    func record(of call: B2BCall<Destination>) -> CallRecord {
        let state: String
        switch call.state {
        case .proceeding: state = "ringing"
        case .confirmed: state = "answered"
        case .cancelling: state = "cancelling"
        case .ended: state = "ended"
        }
        var record = CallRecord(id: call.id, from: call.a.side, caller: call.caller, callee: call.callee, trunk: call.trunk, state: state,
                                startedAt: call.startedAt, answeredAt: call.answeredAt)
        record.sipCallID = (try? call.a.invite.headers.callID()) ?? ""
        record.source = call.source
        record.route = call.route
        return record
    }

    /// PRACK for a reliable provisional response on the outgoing leg's early dialog (RFC 3262 §7.2).
    mutating func sendPRACK(for response: SIPResponse, rseq: UInt32, call: inout B2BCall<Destination>, now: NIODeadline) -> [SignalingEffect<Destination>] {
        guard var dialog = call.b.dialog, let cseq = try? call.b.invite.headers.cseq() else { return [] }
        var prack = dialog.makeRequest(.prack, via: call.b.endpoint.via(), contact: nil)
        prack.headers.add("RAck", "\(rseq) \(cseq.number) INVITE")
        call.b.dialog = dialog
        guard let (transaction, events) = try? transactions.send(prack, to: call.b.destination, reliable: call.b.reliable, now: now) else { return [] }
        callByClientTransaction[transaction] = call.id
        return handle(events, now: now)
    }

    /// The ACK for the outgoing leg's 2xx (§13.2.2.4): a new transaction-less request in the
    /// dialog with the INVITE's CSeq number.
    mutating func sendACK(for call: B2BCall<Destination>, now: NIODeadline) -> [SignalingEffect<Destination>] {
        guard var dialog = call.b.dialog else { return [] }
        let sequence = (try? call.b.invite.headers.cseq().number) ?? 1
        let ack = dialog.makeRequest(.ack, via: call.b.endpoint.via(), contact: nil, sequence: sequence)
        return handle(transactions.sendStateless(.request(ack), to: call.b.destination), now: now)
    }

    /// Forgets a call and frees its media. Transactions still running finish on their own.
    mutating func endCall(_ callID: String, by: String, reason: String, cause: String? = nil, now: NIODeadline) -> [SignalingEffect<Destination>] {
        guard let call = calls.removeValue(forKey: callID) else { return [] }
        var ended = record(of: call)
        ended.state = "ended"
        ended.endedAt = now
        ended.endedBy = by
        ended.endReason = reason
        ended.endCause = cause
        ended.status = finalStatusByCall.removeValue(forKey: callID) ?? (call.answeredAt != nil ? 200 : nil)
        record(ended: ended)
        callByServerTransaction = callByServerTransaction.filter { $0.value != callID }
        callByClientTransaction = callByClientTransaction.filter { $0.value != callID }
        callByDialog = callByDialog.filter { $0.value != callID }
        relays = relays.filter { $0.value.call != callID }
        sessions.release(call: call.id)
        return []
    }
}

/// Quoting for Warning texts.
enum SIPGrammarQuote {
    static func quote(_ text: String) -> String {
        "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
}
