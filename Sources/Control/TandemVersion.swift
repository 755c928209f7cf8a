// The version both executables report.

public enum TandemVersion {
    public static let current = "0.1.0"
}
