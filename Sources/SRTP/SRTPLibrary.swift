// Facts about the linked libsrtp2, reported by `tandemctl status`.

import CSRTP

/// The libsrtp2 library the daemon is linked with.
public enum SRTPLibrary {
    /// The version text, e.g. "libsrtp2 2.5.0".
    public static var version: String { String(cString: srtp_get_version_string()) }
}
