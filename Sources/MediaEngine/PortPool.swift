// UDP port allocation for media sockets on one interface. Ports are handed out as even/odd
// pairs (RTP on the even port, RTCP on the next, RFC 3550 §11; with rtcp-mux only the even one
// is opened) and reused least-recently-freed first, so a late packet for an ended call does not
// land in a new one.

/// The free RTP ports of one media interface.
public struct PortPool: Sendable {
    public let portMin: Int
    public let portMax: Int
    /// Free even ports, oldest-freed first; `head` indexes the next one to hand out.
    private var ring: [UInt16]
    private var head = 0
    private var freeCount: Int
    private var inUse: Set<UInt16> = []

    /// A pool over `portMin...portMax`; only even ports whose odd partner is in range are used.
    public init(portMin: Int, portMax: Int) {
        precondition(portMin > 0 && portMin <= portMax && portMax <= 65535, "invalid media port range")
        self.portMin = portMin
        self.portMax = portMax
        let firstEven = portMin % 2 == 0 ? portMin : portMin + 1
        let ports = stride(from: firstEven, to: portMax, by: 2).map { UInt16($0) }
        ring = ports
        freeCount = ports.count
    }

    /// Port pairs the range holds.
    public var capacity: Int { ring.count }
    /// Pairs free now.
    public var available: Int { freeCount }

    /// Takes the next free even port, or nil when the range is exhausted.
    public mutating func allocate() -> UInt16? {
        guard freeCount > 0 else { return nil }
        let port = ring[head]
        head = (head + 1) % ring.count
        freeCount -= 1
        inUse.insert(port)
        return port
    }

    /// Returns a port taken with `allocate()`. Returning a port twice, or one never taken, is
    /// ignored (and reported as false) so a teardown path cannot corrupt the pool.
    @discardableResult
    public mutating func release(_ port: UInt16) -> Bool {
        guard inUse.remove(port) != nil else { return false }
        let tail = (head + freeCount) % ring.count
        ring[tail] = port
        freeCount += 1
        return true
    }
}
