import Synchronization

/// Sessions signed out before they expired, by nonce: a copy of the cookie kept somewhere (another
/// browser, a proxy's log) stops working at sign-out, not 8 hours later. Held by this coordinator
/// process; an entry is dropped once its session would have expired anyway. (A restart forgets
/// them: the signed cookie then works again until it expires, unless the admin token changed.)
final class SignedOutSessions: Sendable {
    private let revoked = Mutex<[String: Int64]>([:])

    func signOut(_ session: DashboardSession, nowSeconds: Int64) {
        revoked.withLock { entries in
            entries = entries.filter { $0.value > nowSeconds }
            entries[session.nonce] = session.expiresAt
        }
    }

    func isSignedOut(_ session: DashboardSession) -> Bool { revoked.withLock { $0[session.nonce] != nil } }
}
