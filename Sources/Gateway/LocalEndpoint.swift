// How Tandem names itself on one transport: the host and port for Via sent-by and Contact
// (RFC 3261 §18.1.1, §8.1.1.8), taken from the listener's advertised address when it has one.

import SIP

public struct LocalEndpoint: Sendable, Hashable {
    public var transport: SIPTransportKind
    /// Advertised host (address or DNS name).
    public var host: String
    public var port: Int

    public init(transport: SIPTransportKind, host: String, port: Int) {
        self.transport = transport
        self.host = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
        self.port = port
    }

    /// A top Via for a new request from this endpoint, with rport (RFC 3581).
    public func via(branch: String = TransactionLayer<String>.newBranch()) -> SIPVia {
        var via = SIPVia(transport: transport.viaToken, host: host, port: port, branch: branch)
        via.parameters.set("rport", nil)
        return via
    }

    /// Tandem's Contact URI on this endpoint, with the transport parameter for non-UDP.
    public func contactURI(user: String = "tandem") -> SIPURI {
        var uri = SIPURI(scheme: transport == .tls || transport == .wss ? "sips" : "sip", user: user, host: host, port: port)
        if transport != .udp { uri.parameters.set("transport", transport.rawValue) }
        return uri
    }

    public func contact(user: String = "tandem") -> String { "<\(contactURI(user: user))>" }
}
