import Foundation

/// What a conforming SIP *parser* must do with an RFC 4475 torture message.
///
/// The split is about the parser, not about the element built on top of it:
/// - `parses`: a well-formed message; the parser returns it. Any later rejection
///   (416, 420, 415, 483, ...) is application or transaction logic.
/// - `rejects`: the bytes break the message grammar or framing; the parser reports an error
///   (the element answers 400/505 or drops the message, never crashes).
/// - `parsesButSemanticallyInvalid`: the grammar admits the bytes, but a rule stated in prose
///   (CSeq method must match, required headers present, ...) is broken; the parser returns the
///   message and a validation step rejects it.
enum TortureExpectation: Sendable, Equatable {
    case parses
    case rejects
    case parsesButSemanticallyInvalid
}

/// One RFC 4475 message: its short name (the fixture is `Torture/<name>.dat`), its RFC section,
/// what a parser must do with it, and why.
struct TortureCase: Sendable {
    let name: String
    let section: String
    let expectation: TortureExpectation
    let note: String
}

/// Every message of RFC 4475 §3 (49 in all), in RFC order.
let tortureCases: [TortureCase] = [
    // §3.1.1 Valid messages: the parser must accept every one of these.
    TortureCase(
        name: "wsinv", section: "3.1.1.1", expectation: .parses,
        note: "Folding, odd LWS around colons and semicolons, mixed compact and long names, leading zeros, empty Subject."),
    TortureCase(
        name: "intmeth", section: "3.1.1.2", expectation: .parses,
        note: "Unusual token characters in method, URI, branch and tag; quoted NUL/BEL/DEL; UTF-8 parameter and header values."),
    TortureCase(
        name: "esc01", section: "3.1.1.3", expectation: .parses,
        note: "Legal %HH escapes in Request-URI, To/From user parts and Contact URI parameters."),
    TortureCase(
        name: "escnull", section: "3.1.1.4", expectation: .parses,
        note: "%00 in URI user parts; unescaping must not truncate the user name; two distinct Contacts."),
    TortureCase(
        name: "esc02", section: "3.1.1.5", expectation: .parses,
        note: "% outside URIs is literal: unknown method RE%47IST%45R, and C%6Fntact is an extension header, not Contact."),
    TortureCase(
        name: "lwsdisp", section: "3.1.1.6", expectation: .parses,
        note: "No LWS between token display name and '<'; a known RFC 3261 grammar bug, accept it."),
    TortureCase(
        name: "longreq", section: "3.1.1.7", expectation: .parses,
        note: "Very long display name, parameters, tag, Call-ID and branch; 34 Via values with varied name case."),
    TortureCase(
        name: "dblreq", section: "3.1.1.8", expectation: .parses,
        note: "REGISTER with Content-Length 0 followed by octets resembling an INVITE; the extra octets are datagram noise to ignore."),
    TortureCase(
        name: "semiuri", section: "3.1.1.9", expectation: .parses,
        note: "Request-URI user part contains ';par=u%40example.net'; the user is 'user;par=u@example.net'."),
    TortureCase(
        name: "transports", section: "3.1.1.10", expectation: .parses,
        note: "Via values with UDP, SCTP, TLS, an unknown transport token and TCP."),
    TortureCase(
        name: "mpart01", section: "3.1.1.11", expectation: .parses,
        note: "multipart/mixed MESSAGE whose second part is binary with NUL and bare LF octets; frame by Content-Length."),
    TortureCase(
        name: "unreason", section: "3.1.1.12", expectation: .parses,
        note: "200 response whose reason phrase has reserved characters and non-ASCII UTF-8."),
    TortureCase(
        name: "noreason", section: "3.1.1.13", expectation: .parses,
        note: "Status line 'SIP/2.0 100 ' with an empty reason phrase after the required SP."),

    // §3.1.2 Invalid messages.
    TortureCase(
        name: "badinv01", section: "3.1.2.1", expectation: .rejects,
        note: "Empty parameters and values in Via (';;,;,,') and Contact (';;;;'): syntax error, 400."),
    TortureCase(
        name: "clerr", section: "3.1.2.2", expectation: .rejects,
        note: "Content-Length 9999 exceeds the octets present; 400 over UDP, wait for more data on a stream."),
    TortureCase(
        name: "ncl", section: "3.1.2.3", expectation: .rejects,
        note: "Negative Content-Length (-999): framing error; never use the value as a count or index."),
    TortureCase(
        name: "scalar02", section: "3.1.2.4", expectation: .rejects,
        note: "CSeq number above 2**32-1 (400); Max-Forwards 300 and huge Expires values are also out of range."),
    TortureCase(
        name: "scalarlg", section: "3.1.2.5", expectation: .rejects,
        note: "Response with CSeq above 2**32-1, a huge Retry-After and a four-digit warn-code; discard it."),
    TortureCase(
        name: "quotbal", section: "3.1.2.6", expectation: .rejects,
        note: "Unterminated quoted display name in To: 400 (inferring the closing quote is risky)."),
    TortureCase(
        name: "ltgtruri", section: "3.1.2.7", expectation: .rejects,
        note: "Request-URI wrapped in '<>': 400; a liberal element may strip them but must never forward them."),
    TortureCase(
        name: "lwsruri", section: "3.1.2.8", expectation: .rejects,
        note: "LWS inside the Request-URI ('; lr'): 400."),
    TortureCase(
        name: "lwsstart", section: "3.1.2.9", expectation: .rejects,
        note: "Two SPs between Request-Line elements; the grammar has exactly one (a liberal element may tolerate it)."),
    TortureCase(
        name: "trws", section: "3.1.2.10", expectation: .rejects,
        note: "Two SPs after SIP/2.0 before CRLF ending the Request-Line (a liberal element may tolerate it)."),
    TortureCase(
        name: "escruri", section: "3.1.2.11", expectation: .parsesButSemanticallyInvalid,
        note: "SIP Request-URI carries an escaped header (?Route=...): the URI grammar admits it, RFC 3261 forbids it there; 400 or drop it."),
    TortureCase(
        name: "baddate", section: "3.1.2.12", expectation: .parsesButSemanticallyInvalid,
        note: "Date uses EST (only GMT is legal); reject only if the Date value matters, otherwise ignore it."),
    TortureCase(
        name: "regbadct", section: "3.1.2.13", expectation: .rejects,
        note: "Contact URI with '?' header part not enclosed in '<>' (name-addr required): 400."),
    TortureCase(
        name: "badaspec", section: "3.1.2.14", expectation: .rejects,
        note: "Spaces inside '< sip:... >' in To: 400; the parser must not break."),
    TortureCase(
        name: "baddn", section: "3.1.2.15", expectation: .rejects,
        note: "Unquoted display names containing ',' in To and From: 400 (the archived bytes also lack the blank line after the headers)."),
    TortureCase(
        name: "badvers", section: "3.1.2.16", expectation: .parsesButSemanticallyInvalid,
        note: "SIP/7.0 fits the SIP-Version grammar but is unsupported: answer 505."),
    TortureCase(
        name: "mismatch01", section: "3.1.2.17", expectation: .parsesButSemanticallyInvalid,
        note: "OPTIONS request with 'CSeq: 8 INVITE': method mismatch, 400."),
    TortureCase(
        name: "mismatch02", section: "3.1.2.18", expectation: .parsesButSemanticallyInvalid,
        note: "Unknown method NEWMETHOD with CSeq method INVITE: 501 preferred, 400 acceptable."),
    TortureCase(
        name: "bigcode", section: "3.1.2.19", expectation: .rejects,
        note: "Status code 4294967301 is not three digits; drop the response without overflowing."),

    // §3.2 Transaction-layer semantics.
    TortureCase(
        name: "badbranch", section: "3.2.1", expectation: .parses,
        note: "Branch is the bare magic cookie 'z9hG4bK'; parser must cope; transaction layer may 400 or fall back to RFC 2543 matching."),

    // §3.3 Application-layer semantics.
    TortureCase(
        name: "insuf", section: "3.3.1", expectation: .parsesButSemanticallyInvalid,
        note: "No Call-ID, From or To: must not crash; ideally 400."),
    TortureCase(
        name: "unkscm", section: "3.3.2", expectation: .parses,
        note: "Unknown Request-URI scheme: well formed; 416, and never route on To."),
    TortureCase(
        name: "novelsc", section: "3.3.3", expectation: .parses,
        note: "Registered but atypical Request-URI scheme (soap.beep): well formed; 416 or 404."),
    TortureCase(
        name: "unksm2", section: "3.3.4", expectation: .parses,
        note: "Non-SIP schemes in To, From and Contact: well formed; a registrar answers 400, proxies handle it normally."),
    TortureCase(
        name: "bext01", section: "3.3.5", expectation: .parses,
        note: "Unsupported Require and Proxy-Require option tags: 420 with Unsupported."),
    TortureCase(
        name: "invut", section: "3.3.6", expectation: .parses,
        note: "Body of unknown Content-Type: proxies forward it, endpoints answer 415."),
    TortureCase(
        name: "regaut01", section: "3.3.7", expectation: .parses,
        note: "Authorization with an unknown scheme is well formed: forward unchanged, ignore, or challenge with 401."),
    TortureCase(
        name: "multi01", section: "3.3.8", expectation: .parsesButSemanticallyInvalid,
        note: "Several values for single-value Call-ID, To, From, Max-Forwards and CSeq: must not break; 400."),
    TortureCase(
        name: "mcl01", section: "3.3.9", expectation: .rejects,
        note: "Two conflicting Content-Length values (13 and 5): framing is undefined; error, close a stream connection."),
    TortureCase(
        name: "bcast", section: "3.3.10", expectation: .parses,
        note: "200 OK whose second Via sent-by is 255.255.255.255: well formed; endpoints and proxies drop it."),
    TortureCase(
        name: "zeromf", section: "3.3.11", expectation: .parses,
        note: "Max-Forwards 0 is legal: a proxy answers 483, an endpoint processes it normally."),
    TortureCase(
        name: "cparam01", section: "3.3.12", expectation: .parses,
        note: "Contact in addr-spec form: ';unknownparam' is a contact parameter, not a URI parameter."),
    TortureCase(
        name: "cparam02", section: "3.3.13", expectation: .parses,
        note: "Contact in '<>': ';unknownparam' is a URI parameter and stays in the stored binding."),
    TortureCase(
        name: "regescrt", section: "3.3.14", expectation: .parses,
        note: "Contact URI in '<>' with an escaped Route header; the binding keeps it."),
    TortureCase(
        name: "sdp01", section: "3.3.15", expectation: .parses,
        note: "INVITE whose Accept omits application/sdp: well formed; answer 406 (with Warning 399) or 400."),

    // §3.4 Backward compatibility.
    TortureCase(
        name: "inv2543", section: "3.4.1", expectation: .parses,
        note: "RFC 2543 style: no branch, no From tag, no Max-Forwards, no Content-Length (body is the rest of the datagram)."),
]

/// The directory holding the fixtures, next to this source file.
let tortureDirectory: URL = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent()
    .appendingPathComponent("Torture", isDirectory: true)

/// The exact bytes of `Torture/<name>.dat`, or an empty array if the file cannot be read
/// (`TortureFixturesTests` checks separately that every file exists and is non-empty).
func tortureBytes(_ name: String) -> [UInt8] {
    let url = tortureDirectory.appendingPathComponent("\(name).dat")
    guard let data = try? Data(contentsOf: url) else { return [] }
    return [UInt8](data)
}
