import Gateway
import Synchronization

/// TEST STAND-IN for the media legs (which arrive with the WebRTC and RTP leg work): passes SDP
/// through unchanged and records what it saw, so signaling tests can check that every SDP goes
/// through the session manager. Lives in Tests/ only.
final class MediaStandIn: SessionManager {
    private let log = Mutex<[String]>([])
    private let callIDs = Mutex<[String]>([])

    var events: [String] { log.withLock { $0 } }
    /// Calls seen, in order.
    var calls: [String] { callIDs.withLock { $0 } }

    func offer(_ sdp: [UInt8], call: String, from side: CallSide, trunk: String?) -> SessionResult {
        log.withLock { $0.append("offer from \(side)") }
        callIDs.withLock { if !$0.contains(call) { $0.append(call) } }
        return .sdp(Array("v=0 relayed-offer-from-\(side)".utf8))
    }

    func answer(_ sdp: [UInt8], call: String, from side: CallSide) -> SessionResult {
        log.withLock { $0.append("answer from \(side)") }
        return .sdp(Array("v=0 relayed-answer-from-\(side)".utf8))
    }

    func release(call: String) {
        log.withLock { $0.append("release") }
    }
}
