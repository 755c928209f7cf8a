// Registrar bindings for web users (RFC 3261 §10.3): for each address-of-record, its contacts
// with their expiry and the connection they arrived on, so requests to a browser go back over
// the WebSocket it registered on (RFC 7118 §5.3). Sans-IO: time is passed in.

import NIOCore

/// One registered contact of a web user.
public struct RegistrationBinding: Sendable, Equatable {
    public var contact: String
    /// The stream connection the REGISTER arrived on (requests go back over it); nil for UDP.
    public var connectionID: UInt64?
    public var expires: NIODeadline
    /// Call-ID and CSeq of the REGISTER that set it (RFC 3261 §10.3 step 7).
    public var callID: String
    public var cseq: UInt32

    public init(contact: String, connectionID: UInt64?, expires: NIODeadline, callID: String, cseq: UInt32) {
        self.contact = contact
        self.connectionID = connectionID
        self.expires = expires
        self.callID = callID
        self.cseq = cseq
    }
}

/// Bindings of every address-of-record, with a per-user contact limit.
public struct RegistrationBindings: Sendable {
    private var bindings: [String: [RegistrationBinding]] = [:]

    public init() {}

    /// Contacts currently bound, over all users.
    public var count: Int { bindings.values.reduce(0) { $0 + $1.count } }

    public func contacts(of aor: String, now: NIODeadline) -> [RegistrationBinding] {
        (bindings[aor] ?? []).filter { $0.expires > now }
    }

    public enum UpdateResult: Sendable, Equatable {
        case updated
        /// The user already has `limit` other contacts.
        case tooManyContacts(limit: Int)
        /// Same Call-ID with a CSeq not higher than the stored one: an out-of-order REGISTER.
        case outOfOrder
    }

    /// Adds or refreshes `binding` for `aor` (matched by contact URI).
    public mutating func update(aor: String, binding: RegistrationBinding, limit: Int, now: NIODeadline) -> UpdateResult {
        var current = contacts(of: aor, now: now)
        if let index = current.firstIndex(where: { $0.contact == binding.contact }) {
            if current[index].callID == binding.callID && binding.cseq <= current[index].cseq { return .outOfOrder }
            current[index] = binding
        } else {
            guard current.count < limit else { return .tooManyContacts(limit: limit) }
            current.append(binding)
        }
        bindings[aor] = current
        return .updated
    }

    /// Removes one contact (REGISTER with Expires: 0).
    public mutating func remove(aor: String, contact: String) {
        bindings[aor]?.removeAll { $0.contact == contact }
        if bindings[aor]?.isEmpty == true { bindings[aor] = nil }
    }

    /// Removes every contact of `aor` (Contact: * with Expires: 0).
    public mutating func removeAll(aor: String) { bindings[aor] = nil }

    /// Every address-of-record with at least one binding.
    public var addressesOfRecord: [String] { Array(bindings.keys) }

    /// Removes every binding that arrived on a connection that has closed.
    public mutating func connectionClosed(_ connectionID: UInt64) {
        for aor in Array(bindings.keys) {
            bindings[aor]?.removeAll { $0.connectionID == connectionID }
            if bindings[aor]?.isEmpty == true { bindings[aor] = nil }
        }
    }

    /// Drops expired bindings; returns how many were dropped.
    @discardableResult
    public mutating func expire(now: NIODeadline) -> Int {
        var dropped = 0
        for aor in Array(bindings.keys) {
            let before = bindings[aor]?.count ?? 0
            bindings[aor]?.removeAll { $0.expires <= now }
            dropped += before - (bindings[aor]?.count ?? 0)
            if bindings[aor]?.isEmpty == true { bindings[aor] = nil }
        }
        return dropped
    }
}
