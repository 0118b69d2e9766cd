import StateStore
import Synchronization

/// Sessions signed out before they expired, by nonce: a copy of the cookie kept somewhere (another
/// browser, a proxy's log) stops working at sign-out, not 8 hours later. Kept in the state store,
/// so every coordinator on it refuses the session, after a restart too; this process remembers
/// the ones it saw, so a signed-out cookie costs no second read.
final class SignedOutSessions: Sendable {
    let store: any StateStore
    private let known = Mutex<[String: Int64]>([:])

    init(store: any StateStore) { self.store = store }

    func signOut(_ session: DashboardSession, nowSeconds: Int64) async throws {
        try await store.recordSignOut(
            session: session.nonce, expiresAtSeconds: session.expiresAt, nowSeconds: nowSeconds)
        remember(session, nowSeconds: nowSeconds)
    }

    func isSignedOut(_ session: DashboardSession, nowSeconds: Int64) async throws -> Bool {
        if known.withLock({ $0[session.nonce] != nil }) { return true }
        guard try await store.isSignedOut(session: session.nonce) else { return false }
        remember(session, nowSeconds: nowSeconds)
        return true
    }

    private func remember(_ session: DashboardSession, nowSeconds: Int64) {
        known.withLock { entries in
            entries = entries.filter { $0.value > nowSeconds }
            entries[session.nonce] = session.expiresAt
        }
    }
}
