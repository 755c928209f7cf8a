// The demo web phone's files: index.html, phone.css and phone.js beside this file, plain HTML,
// CSS and JavaScript with no build step. They are compiled into the binary as byte arrays
// (SwiftPM's `.embedInCode` resource rule, `PackageResources`), so an installed tandemd serves
// them with no resource bundle beside it. phone.js is a small SIP user agent over WebSocket
// (RFC 7118, sub-protocol "sip") with digest authentication (MD5 written there, SHA-256 through
// WebCrypto), one call at a time on an RTCPeerConnection with ICE gathered before the offer or
// answer is sent (no trickle), and `window.tandemPhone` for scripts and tests.

/// What the page needs to know from the running daemon: where browsers register.
public struct DemoPhoneSettings: Sendable, Equatable {
    /// A WebSocket SIP listener as bound: `ws` or `wss`, and its real port.
    public struct Socket: Sendable, Equatable {
        public var scheme: String
        public var port: Int
        public init(scheme: String, port: Int) {
            self.scheme = scheme
            self.port = port
        }
    }

    public var sockets: [Socket]

    public init(sockets: [Socket]) { self.sockets = sockets }

    /// `config.json`: the listeners, secure first, so the page can build `ws(s)://<its host>:<port>`.
    var json: String {
        let ordered = sockets.filter { $0.scheme == "wss" } + sockets.filter { $0.scheme != "wss" }
        let items = ordered.map { "{\"scheme\":\"\($0.scheme)\",\"port\":\($0.port)}" }
        return "{\"sockets\":[\(items.joined(separator: ","))]}\n"
    }
}

enum DemoPhoneFiles {
    // Decoded once; the files are UTF-8, so the served bytes are the files' bytes.
    static let html = String(decoding: PackageResources.index_html, as: UTF8.self)
    static let css = String(decoding: PackageResources.phone_css, as: UTF8.self)
    static let script = String(decoding: PackageResources.phone_js, as: UTF8.self)

    struct File {
        var body: String
        var contentType: String
    }

    /// The file at `name` (the path below `/phone/`), or nil for anything else.
    static func file(at name: String, settings: DemoPhoneSettings) -> File? {
        switch name {
        case "", "index.html": return File(body: html, contentType: "text/html; charset=utf-8")
        case "phone.css": return File(body: css, contentType: "text/css; charset=utf-8")
        case "phone.js": return File(body: script, contentType: "text/javascript; charset=utf-8")
        case "config.json": return File(body: settings.json, contentType: "application/json")
        default: return nil
        }
    }
}
