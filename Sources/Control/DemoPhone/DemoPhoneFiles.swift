// The demo web phone's files, compiled into the binary so an installed tandemd serves them with
// no resource bundle beside it. The page, its style and its script are plain files without a
// build step, each kept readable in its own Swift file as a raw string literal:
// DemoPhonePage.swift (index.html, phone.css) and DemoPhoneScript.swift (phone.js).

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
    struct File {
        var body: String
        var contentType: String
    }

    /// The file at `name` (the path below `/phone/`), or nil for anything else.
    static func file(at name: String, settings: DemoPhoneSettings) -> File? {
        switch name {
        case "", "index.html": return File(body: DemoPhonePage.html, contentType: "text/html; charset=utf-8")
        case "phone.css": return File(body: DemoPhonePage.css, contentType: "text/css; charset=utf-8")
        case "phone.js": return File(body: DemoPhoneScript.source, contentType: "text/javascript; charset=utf-8")
        case "config.json": return File(body: settings.json, contentType: "application/json")
        default: return nil
        }
    }
}
