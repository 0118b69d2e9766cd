import Reports

/// A piece of HTML whose every interpolated `String` is escaped: user text (job names, tags, log
/// lines, model names, reasons) can only ever be text. Markup is built from literals and other
/// `HTML` values; nothing else reaches the page unescaped.
struct HTML: Sendable, Equatable, ExpressibleByStringInterpolation, CustomStringConvertible {
    private(set) var text: String

    init(stringLiteral value: String) { text = value }
    init(stringInterpolation: Interpolation) { text = stringInterpolation.text }
    /// Markup the server made itself (an SVG chart, a static asset); never user text.
    init(trusted markup: String) { text = markup }

    static let empty: HTML = ""

    var description: String { text }

    static func + (left: HTML, right: HTML) -> HTML { HTML(trusted: left.text + right.text) }
    static func += (left: inout HTML, right: HTML) { left.text += right.text }

    /// Escapes `& < > " '` by Unicode scalar (`SavingsReport.escape`, shared with the report's page).
    static func escape(_ value: String) -> String { SavingsReport.escape(value) }

    struct Interpolation: StringInterpolationProtocol {
        var text = ""

        init(literalCapacity: Int, interpolationCount: Int) { text.reserveCapacity(literalCapacity * 2) }
        mutating func appendLiteral(_ literal: String) { text += literal }
        mutating func appendInterpolation(_ value: String) { text += HTML.escape(value) }
        mutating func appendInterpolation(_ value: Substring) { text += HTML.escape(String(value)) }
        mutating func appendInterpolation(_ value: HTML) { text += value.text }
        mutating func appendInterpolation(_ value: Int) { text += String(value) }
        mutating func appendInterpolation(_ values: [HTML]) { for value in values { text += value.text } }
    }
}

extension Array where Element == HTML {
    func joined() -> HTML { HTML(trusted: map(\.text).joined()) }
}
