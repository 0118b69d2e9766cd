import StateStore

/// Opens the state store at `location` (migrated), runs `body` with it and closes it after, on
/// every path: a store left open when it goes away traps the process ("SQLiteConnection was not
/// closed before deinitializing") and whatever it was about to print is lost. `defer` cannot
/// await the close, so the error path closes and rethrows.
func withStore<T>(
    _ location: String, creating: Bool = false, asCoordinator: Bool = false, _ body: (SQLStateStore) async throws -> T
) async throws -> T {
    try await closing(
        try await SourceOptions.openStore(location, creating: creating, asCoordinator: asCoordinator), body)
}

/// Runs `body` with `store`, then closes the store whether `body` returned or threw.
func closing<T>(_ store: SQLStateStore, _ body: (SQLStateStore) async throws -> T) async throws -> T {
    let result: T
    do {
        result = try await body(store)
    } catch {
        try? await store.close()
        throw error
    }
    try await store.close()
    return result
}
