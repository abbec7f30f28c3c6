/// A problem with something the user gave: a file, a folder, an option. Its description is one
/// line that names the file (or option) and the problem.
public struct InputError: Error, CustomStringConvertible, Equatable {
    /// The file, folder or option at fault.
    public var subject: String
    /// What is wrong with it, and where possible what to do.
    public var problem: String

    public init(_ subject: String, _ problem: String) {
        self.subject = subject
        self.problem = problem
    }

    public var description: String {
        "\(subject): \(problem)".replacingOccurrences(of: "\n", with: " ")
    }
}
