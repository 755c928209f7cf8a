// What the call logic needs to know about the node to route calls: trunks and the dial plan, how
// Tandem names itself per transport, and how to turn a trunk or a registered connection into a
// transport destination. Rebuilt from the configuration at start and on reload.

import Foundation
import SIP
import TandemConfig

public struct CallRouting<Destination: Hashable & Sendable>: Sendable {
    public var node: String
    public var trunks: [Trunk]
    public var dialPlan: [DialPlanRule]
    public var endpoints: [SIPTransportKind: LocalEndpoint]
    /// Where a trunk is reached (nil when its address cannot be resolved).
    public var trunkDestination: @Sendable (Trunk) -> Destination?
    /// The destination of an open stream connection (a registered browser's WebSocket).
    public var connectionDestination: @Sendable (UInt64) -> Destination

    public init(
        node: String, trunks: [Trunk], dialPlan: [DialPlanRule], endpoints: [SIPTransportKind: LocalEndpoint],
        trunkDestination: @escaping @Sendable (Trunk) -> Destination?, connectionDestination: @escaping @Sendable (UInt64) -> Destination
    ) {
        self.node = node
        self.trunks = trunks
        self.dialPlan = dialPlan
        self.endpoints = endpoints
        self.trunkDestination = trunkDestination
        self.connectionDestination = connectionDestination
    }

    /// The trunk whose allowed sources contain `host`.
    public func trunk(forSource host: String) -> Trunk? {
        guard let address = IPAddressBytes(host) else { return nil }
        return trunks.first { trunk in trunk.allowedSources.contains { $0.contains(address) } }
    }

    /// The first dial-plan rule matching the whole dialled number: its trunks in the order they
    /// are tried, and the rewritten number.
    public func route(_ number: String) -> (trunks: [Trunk], number: String, rule: String)? {
        let range = NSRange(number.startIndex..., in: number)
        for rule in dialPlan {
            let candidates = rule.trunks.compactMap { name in trunks.first { $0.name == name } }
            guard !candidates.isEmpty, let expression = try? NSRegularExpression(pattern: rule.pattern),
                let match = expression.firstMatch(in: number, range: range), match.range == range
            else { continue }
            let rewritten = rule.rewrite.map { expression.replacementString(for: match, in: number, offset: 0, template: $0) } ?? number
            return (candidates, rewritten, rule.name)
        }
        return nil
    }
}
