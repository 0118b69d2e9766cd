/// The version `spotwise --version` prints and workers report when they register.
public enum SpotwiseVersion {
    public static let current = "0.1.0"
}
