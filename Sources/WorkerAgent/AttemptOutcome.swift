/// How an attempt ended, from the agent's side.
enum AttemptOutcome: CustomStringConvertible, Equatable, Sendable {
    case completed
    case failed(exitCode: Int32)
    case preempted(committedStep: Int?)
    /// The coordinator fenced the attempt off (stale epoch, cancelled): the trainer was stopped.
    case fenced(String)
    case infrastructure(String)
    /// A gang member stopped with its gang (a peer's notice or loss); its node stays.
    case gangStopped(String)

    var description: String {
        switch self {
        case .completed: "completed"
        case .failed(let code): "trainer exited with code \(code)"
        case .preempted(let step): "preempted with notice; committed step \(step.map(String.init) ?? "none")"
        case .fenced(let why): "stopped: \(why)"
        case .infrastructure(let why): "infrastructure error: \(why)"
        case .gangStopped(let why): why
        }
    }
}
