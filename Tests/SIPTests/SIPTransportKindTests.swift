import SIP
import XCTest

final class SIPTransportKindTests: XCTestCase {
    func testViaTokensAndDefaultPorts() {
        XCTAssertEqual(SIPTransportKind.allCases.map(\.viaToken), ["UDP", "TCP", "TLS", "WS", "WSS"])
        XCTAssertEqual(SIPTransportKind.allCases.map(\.defaultPort), [5060, 5060, 5061, 5060, 5061])
        XCTAssertEqual(SIPTransportKind.allCases.filter(\.isSecure), [.tls, .wss])
        XCTAssertEqual(SIPTransportKind.allCases.filter(\.isWebSocket), [.ws, .wss])
        XCTAssertEqual(SIPTransportKind.allCases.filter(\.isStream), [.tcp, .tls, .ws, .wss])
    }
}
