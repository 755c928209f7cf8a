// Facts about the linked codec libraries (libopus, spandsp), reported by `tandemctl status`.

import COpus
import CTandemShims

/// The libopus library the daemon is linked with.
public enum OpusLibrary {
    /// The version text, e.g. "libopus 1.3.1".
    public static var version: String { String(cString: opus_get_version_string()) }
}

/// The spandsp library the daemon is built against.
public enum SpanDSPLibrary {
    /// The release stamp spandsp publishes ("YYYYMMDD HHMMSS"): it has no version number.
    public static var release: String { String(cString: tandem_spandsp_release()) }
}
