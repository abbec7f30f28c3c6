/// The version of this package, as `csd --version` prints it.
public enum CSDVersion {
    public static let current = "0.1.0"
}
