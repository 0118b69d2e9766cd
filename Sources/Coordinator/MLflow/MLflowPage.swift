import Foundation

/// Paging of MLflow's search and history routes: `max_results` (1 to the route's largest, its
/// default when absent) and an opaque `page_token` that is the base64 of `offset:N`, given back
/// as `next_page_token` while more remain.
struct MLflowPage: Equatable, Sendable {
    var offset: Int
    var size: Int

    struct Refusal: Error, Equatable, Sendable {
        var message: String
    }

    init(offset: Int, size: Int) {
        self.offset = offset
        self.size = size
    }

    /// Reads `max_results` and `page_token` as the client sent them (query text).
    init(maxResults: String?, pageToken: String?, defaultSize: Int, largest: Int) throws(Refusal) {
        // Absent is the default; present but empty is not a number (a page token may be empty).
        if let text = maxResults {
            guard let value = Self.wholeNumber(text), (1...largest).contains(value) else {
                throw Refusal(
                    message: "max_results is '\(text.prefix(40))'; it must be a whole number from 1 to \(largest)")
            }
            size = value
        } else {
            size = defaultSize
        }
        if let token = pageToken, !token.isEmpty {
            guard let offset = Self.offset(of: token) else {
                throw Refusal(
                    message: "page_token is not one this server gave; pass the next_page_token of the previous page")
            }
            self.offset = offset
        } else {
            offset = 0
        }
    }

    /// A whole number written plainly: ASCII digits, no sign, no leading zero, at most 18 digits.
    static func wholeNumber(_ text: some StringProtocol) -> Int? {
        guard (1...18).contains(text.utf8.count), text.utf8.allSatisfy({ (48...57).contains($0) }),
            text == "0" || text.utf8.first != 48
        else { return nil }
        return Int(text)
    }

    static func token(offset: Int) -> String { Data("offset:\(offset)".utf8).base64EncodedString() }

    static func offset(of token: String) -> Int? {
        guard token.utf8.count <= 64, let data = Data(base64Encoded: token),
            let text = String(data: data, encoding: .utf8), text.hasPrefix("offset:"),
            let offset = wholeNumber(text.dropFirst("offset:".count)), offset <= 1_000_000_000
        else { return nil }
        return offset
    }

    /// This page of `items`, and the token of the next page when there is one.
    func slice<T>(_ items: [T]) -> (items: [T], next: String?) {
        guard offset < items.count else { return ([], nil) }
        let end = min(items.count, offset + size)
        return (Array(items[offset..<end]), end < items.count ? Self.token(offset: end) : nil)
    }
}
