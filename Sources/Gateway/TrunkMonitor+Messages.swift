// The requests a TrunkMonitor sends and what it reads from responses: OPTIONS pings (RFC 3261
// §11.1), REGISTER with Expires and digest credentials (§10.2, §22.2–§22.3), the granted expiry
// of Tandem's contact (§10.2.4), and Retry-After (§20.33). The core adds User-Agent and routes
// the requests to the trunk.

import NIOCore
import SIP
import TandemConfig

extension TrunkMonitor {
    /// The trunk's host as a URI host: IPv6 literals in brackets (RFC 3261 §19.1.1, RFC 5118).
    var trunkHost: String {
        trunk.address.contains(":") && !trunk.address.hasPrefix("[") ? "[\(trunk.address)]" : trunk.address
    }

    /// `sip:<address>:<port>`, with the transport parameter for TCP and TLS.
    var optionsRequestURI: SIPURI {
        var uri = SIPURI(host: trunkHost, port: trunk.port)
        if trunk.transport != .udp { uri.parameters.set("transport", trunk.transport.rawValue) }
        return uri
    }

    /// `sip:<address>`: the registrar's domain, without user part (§10.2).
    var registerRequestURI: SIPURI { SIPURI(host: trunkHost) }

    /// `sip:<username>@<address>`, the address-of-record registered.
    var addressOfRecord: SIPURI {
        SIPURI(user: Self.escapedUser(trunk.credentials?.username ?? "tandem"), host: trunkHost)
    }

    mutating func makeOptions() -> SIPRequest {
        optionsCSeq += 1
        var headers = SIPHeaders()
        headers.add("Via", local.via().description)
        headers.add("Max-Forwards", "70")
        headers.add("From", SIPNameAddress(uri: SIPURI(user: "tandem", host: local.host), parameters: tagParameters).description)
        headers.add("To", SIPNameAddress(uri: SIPURI(host: trunkHost)).description)
        headers.add("Call-ID", optionsCallID)
        headers.add("CSeq", SIPCSeq(number: optionsCSeq, method: .options).description)
        headers.add("Contact", local.contact())
        headers.add("Accept", "application/sdp")
        return SIPRequest(method: .options, uri: optionsRequestURI, headers: headers)
    }

    /// A REGISTER with a new branch; `credentials` are Authorization / Proxy-Authorization fields.
    func makeRegister(cseq: UInt32, expires: Int, credentials: [(header: String, value: String)]) -> SIPRequest {
        var headers = SIPHeaders()
        headers.add("Via", local.via().description)
        headers.add("Max-Forwards", "70")
        headers.add("From", SIPNameAddress(uri: addressOfRecord, parameters: tagParameters).description)
        headers.add("To", SIPNameAddress(uri: addressOfRecord).description)
        headers.add("Call-ID", registerCallID)
        headers.add("CSeq", SIPCSeq(number: cseq, method: .register).description)
        headers.add("Contact", local.contact())
        headers.add("Expires", String(expires))
        for field in credentials { headers.add(field.header, field.value) }
        return SIPRequest(method: .register, uri: registerRequestURI, headers: headers)
    }

    private var tagParameters: SIPParameters {
        var parameters = SIPParameters()
        parameters.set("tag", fromTag)
        return parameters
    }

    /// The seconds granted to Tandem's contact: its `expires` parameter in the 200's Contact list,
    /// else the Expires header, else what was asked for (§10.2.4).
    func grantedExpiry(_ response: SIPResponse, requested: Int) -> Int {
        let ours = local.contactURI()
        for text in (try? response.headers.list("Contact")) ?? [] {
            guard let contact = try? SIPNameAddress(parsing: text), contact.uri.isEquivalent(to: ours) else { continue }
            if let value = contact.parameters["expires"], let seconds = Self.seconds(value) { return seconds }
        }
        if let header = response.headers["Expires"], let seconds = Self.seconds(header) { return seconds }
        return requested
    }

    /// The seconds of a Retry-After header (`120 (maintenance);duration=60`), if any.
    static func retryAfter(_ response: SIPResponse) -> Int? {
        guard let value = response.headers["Retry-After"] else { return nil }
        let trimmed = value.drop { $0 == " " || $0 == "\t" }
        return seconds(String(trimmed.prefix { $0.isASCII && $0.isNumber }))
    }

    /// A delta-seconds value; nil when not a plain number. Large values are capped.
    static func seconds(_ text: String) -> Int? {
        let parts = text.split(whereSeparator: { $0 == " " || $0 == "\t" })
        guard parts.count == 1, let digits = parts.first, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        // RFC 3261 §20.19 allows up to 2**32-1; a year is plenty here.
        return digits.count > 9 ? 86_400 * 365 : min(Int(digits)!, 86_400 * 365)
    }

    /// A user part with the characters not allowed unescaped percent-encoded (§25.1 `user`).
    static func escapedUser(_ user: String) -> String {
        var result = ""
        for byte in user.utf8 {
            let c = Character(Unicode.Scalar(byte))
            if byte < 0x80 && (c.isLetter || c.isNumber || "-_.!~*'()&=+$,;?/".contains(c)) {
                result.append(c)
            } else {
                result += "%" + (byte < 16 ? "0" : "") + String(byte, radix: 16, uppercase: true)
            }
        }
        return result
    }

    static func digestClient(for trunk: Trunk) -> DigestClient? {
        trunk.credentials.map { DigestClient(username: $0.username, password: $0.password, realm: $0.realm) }
    }

    static func randomToken() -> String { String(UInt64.random(in: .min ... .max), radix: 36) }

    /// A globally unique Call-ID (§8.1.1.4).
    static func newCallID() -> String { randomToken() + randomToken() + "@tandem" }
}
