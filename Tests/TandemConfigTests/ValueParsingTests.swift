import XCTest

@testable import TandemConfig

final class ValueParsingTests: XCTestCase {
    func testDurations() {
        XCTAssertEqual(MappingReader.parseDuration("30"), .seconds(30))
        XCTAssertEqual(MappingReader.parseDuration("30s"), .seconds(30))
        XCTAssertEqual(MappingReader.parseDuration("500ms"), .milliseconds(500))
        XCTAssertEqual(MappingReader.parseDuration("2m"), .seconds(120))
        XCTAssertEqual(MappingReader.parseDuration("1h"), .seconds(3600))
        XCTAssertEqual(MappingReader.parseDuration("0.25"), .milliseconds(250))
        XCTAssertNil(MappingReader.parseDuration("soon"))
        XCTAssertNil(MappingReader.parseDuration("-5s"))
        XCTAssertNil(MappingReader.parseDuration("5d"))
    }

    func testSuggestionsAreOnlyForNearMisses() {
        XCTAssertEqual(MappingReader.nearest("drain_timout", in: ["node", "drain_timeout"]), "drain_timeout")
        XCTAssertEqual(MappingReader.nearest("listners", in: ["listeners", "user_agent"]), "listeners")
        XCTAssertNil(MappingReader.nearest("colour", in: ["node", "workers"]))
    }

    func testNetworks() throws {
        let v4 = try XCTUnwrap(IPNetwork(cidr: "192.0.2.0/24"))
        XCTAssertTrue(v4.contains(try XCTUnwrap(IPAddressBytes("192.0.2.200"))))
        XCTAssertFalse(v4.contains(try XCTUnwrap(IPAddressBytes("192.0.3.1"))))
        XCTAssertFalse(v4.contains(try XCTUnwrap(IPAddressBytes("::ffff:192.0.2.1"))), "families never mix")
        let v6 = try XCTUnwrap(IPNetwork(cidr: "2001:db8::/33"))
        XCTAssertTrue(v6.contains(try XCTUnwrap(IPAddressBytes("[2001:db8:7fff::1]"))))
        XCTAssertFalse(v6.contains(try XCTUnwrap(IPAddressBytes("2001:db8:8000::1"))))
        XCTAssertEqual(IPNetwork(cidr: "10.1.2.3")?.prefixLength, 32)
        XCTAssertNil(IPNetwork(cidr: "10.0.0.0/40"))
        XCTAssertNil(IPNetwork(cidr: "example.net/24"))
        XCTAssertTrue(try XCTUnwrap(IPAddressBytes("0.0.0.0")).isUnspecified)
        XCTAssertEqual(IPAddressBytes("2001:db8::1")?.description, "2001:db8::1")
    }

    func testRewriteGroupReferences() {
        XCTAssertEqual(DialPlanRewrite.groupReferences(in: "+33$1"), [1])
        XCTAssertEqual(DialPlanRewrite.groupReferences(in: "$12-$3$"), [12, 3])
        XCTAssertEqual(DialPlanRewrite.groupReferences(in: "plain"), [])
    }
}
