// RFC 4475 torture messages against the parser and the request checks: valid messages parse and
// pass `validate()`, invalid ones are refused by one or the other.

import SIP
import XCTest

final class TortureTests: XCTestCase {
    private func outcome(_ name: String) -> (parsed: SIPMessage?, parseError: SIPParseError?, validationError: SIPParseError?) {
        do {
            let message = try SIPParser.parse(tortureBytes(name))
            do {
                switch message {
                case .request(let request): try request.validate()
                case .response(let response): try response.validate()
                }
                return (message, nil, nil)
            } catch {
                return (message, nil, error as? SIPParseError)
            }
        } catch {
            return (nil, error as? SIPParseError, nil)
        }
    }

    func testEveryTortureMessage() {
        for testCase in tortureCases {
            let result = outcome(testCase.name)
            let label = "\(testCase.name) (§\(testCase.section)): \(testCase.note)"
            switch testCase.expectation {
            case .parses:
                XCTAssertNil(result.parseError, "\(label) — parse error: \(result.parseError?.reason ?? "")")
                XCTAssertNil(result.validationError, "\(label) — validation error: \(result.validationError?.reason ?? "")")
            case .rejects:
                XCTAssertTrue(result.parseError != nil || result.validationError != nil, "\(label) — accepted")
            case .parsesButSemanticallyInvalid:
                XCTAssertNil(result.parseError, "\(label) — parse error: \(result.parseError?.reason ?? "")")
            }
        }
    }
}
