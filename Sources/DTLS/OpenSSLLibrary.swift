// Facts about the linked OpenSSL, reported by `tandemctl status` and checked at start.

import COpenSSL
import CTandemShims

/// The OpenSSL library the daemon is linked with.
public enum OpenSSLLibrary {
    /// The runtime version text, e.g. "OpenSSL 3.0.19 27 Jan 2026".
    public static var version: String { String(cString: tandem_openssl_version()) }

    /// The runtime version number (OPENSSL_VERSION_NUMBER layout: 0xMNN00PP0L).
    public static var versionNumber: UInt { UInt(OpenSSL_version_num()) }
}
