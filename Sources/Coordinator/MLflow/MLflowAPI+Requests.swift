import Foundation
import Hummingbird
import Registry
import SpotwiseCore
import StateStore

/// Reading MLflow requests: query fields, JSON bodies, filters, paging and `order_by`; every bad
/// value is a 400 that names the field and what is allowed (rendered as INVALID_PARAMETER_VALUE).
extension MLflowAPI {
    static func json(_ value: some Encodable) throws -> Response {
        Response(
            status: .ok, headers: [.contentType: "application/json; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: try MLflowWire.encoder.encode(value))))
    }

    static func invalid(_ message: String) -> APIError { APIError.badRequest("invalid_parameter_value", message) }

    /// A query field that must be present and non-empty, at most 1,000 bytes.
    static func required(_ field: String, _ request: Request) throws -> String {
        guard let value = MLflowQuery(request.uri.query)[field], !value.isEmpty else {
            throw invalid("missing value for required parameter '\(field)'")
        }
        guard value.utf8.count <= 1_000 else { throw invalid("'\(field)' is over 1,000 bytes") }
        return value
    }

    static func nameAndVersion(_ request: Request) throws -> (String, Int) {
        let name = try required("name", request)
        let text = try required("version", request)
        guard let number = MLflowPage.wholeNumber(text), number >= 1 else {
            throw invalid("version is '\(text.prefix(40))'; it must be a version number from 1")
        }
        return (name, number)
    }

    /// `run_id` (or the older `run_uuid`): a job id.
    static func runID(_ request: Request) throws -> JobID {
        let id =
            try MLflowQuery(request.uri.query)["run_id"].flatMap { $0.isEmpty ? nil : $0 }
            ?? required("run_uuid", request)
        guard id.count <= 100 else { throw invalid("run_id is 1-100 characters (a Spotwise job id)") }
        return JobID(id)
    }

    static func filter(_ request: Request, keys: [String]) throws -> MLflowSearchFilter {
        do {
            return try MLflowSearchFilter(
                parsing: MLflowQuery(request.uri.query)["filter"] ?? "", keys: keys)
        } catch {
            throw invalid(error.message)
        }
    }

    static func page(_ request: Request, defaultSize: Int, largest: Int) throws -> MLflowPage {
        do {
            return try MLflowPage(
                maxResults: MLflowQuery(request.uri.query)["max_results"],
                pageToken: MLflowQuery(request.uri.query)["page_token"], defaultSize: defaultSize,
                largest: largest)
        } catch {
            throw invalid(error.message)
        }
    }

    /// A JSON body of at most 64 KiB, decoded strictly (a missing field names itself).
    static func decode<T: Decodable>(_ request: Request, context: CoordinatorContext) async throws -> T {
        let body = try await request.body(upTo: 65_536, context: context)
        try WorkersAPI.refuseDeepNesting(body)
        do {
            return try JSONDecoder().decode(T.self, from: Data(buffer: body))
        } catch DecodingError.keyNotFound(let key, _) {
            throw invalid("missing value for required parameter '\(key.stringValue)'")
        } catch DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context) {
            let field = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw invalid("'\(field)' has the wrong type: \(context.debugDescription)")
        } catch {
            throw invalid("the body is not a JSON object of this request's fields")
        }
    }

    /// Registry and store errors as the API's errors: `ModelsAPI`'s mapping, shared.
    static func mapping<T>(_ body: () async throws -> T) async throws -> T {
        try await ModelsAPI.mapping(body)
    }

    // MARK: order_by

    /// A value one `order_by` key sorts by.
    enum SortValue: Comparable {
        case number(Int64)
        case text(String)
    }

    static func modelOrderKey(_ model: MLflowWire.RegisteredModel, _ key: String) -> SortValue? {
        switch key {
        case "name": .text(model.name)
        case "creation_timestamp": .number(model.creationTimestamp)
        case "last_updated_timestamp", "timestamp": .number(model.lastUpdatedTimestamp)
        default: nil
        }
    }

    static func versionOrderKey(_ version: MLflowWire.ModelVersion, _ key: String) -> SortValue? {
        switch key {
        case "name": .text(version.name)
        case "version_number": .number(Int64(version.version) ?? 0)
        case "creation_timestamp": .number(version.creationTimestamp)
        case "last_updated_timestamp", "timestamp": .number(version.lastUpdatedTimestamp)
        case "run_id": .text(version.runId)
        default: nil
        }
    }

    static let modelOrderKeys = ["name", "creation_timestamp", "last_updated_timestamp", "timestamp"]
    static let versionOrderKeys = modelOrderKeys + ["version_number", "run_id"]

    /// Sorts by each `order_by` (`KEY [ASC|DESC]`, repeated) in turn; by name, then newest
    /// version first, when none is given. An unknown key or direction is refused.
    static func ordered<T>(
        _ items: [T], _ request: Request, keys: [String], key: (T, String) -> SortValue?
    ) throws -> [T] {
        let orders = try sortOrders(MLflowQuery(request.uri.query).all("order_by"), keys: keys)
        return items.sorted { left, right in
            for order in orders {
                guard let a = key(left, order.key), let b = key(right, order.key), a != b else { continue }
                return order.ascending ? a < b : b < a
            }
            return false
        }
    }

    /// The sort keys `order_by` clauses ask for, each key once (a repeat could never decide a
    /// comparison its first use left tied, so it is dropped: thousands of repeats cost one), then
    /// name and newest version as tiebreakers: a total order, so that pages neither repeat nor
    /// skip items that tie.
    static func sortOrders(_ clauses: [String], keys: [String]) throws -> [(key: String, ascending: Bool)] {
        var orders: [(key: String, ascending: Bool)] = []
        for clause in clauses {
            let words = clause.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            let direction = words.count == 2 ? words[1].uppercased() : "ASC"
            guard (1...2).contains(words.count), keys.contains(words[0]), direction == "ASC" || direction == "DESC"
            else {
                throw invalid(
                    "order_by '\(clause.prefix(60))' is not KEY, KEY ASC or KEY DESC with KEY one of \(keys.joined(separator: ", "))"
                )
            }
            guard !orders.contains(where: { $0.key == words[0] }) else { continue }
            orders.append((words[0], direction == "ASC"))
        }
        for tiebreaker in [("name", true), ("version_number", false)]
        where !orders.contains(where: { $0.key == tiebreaker.0 }) {
            orders.append(tiebreaker)
        }
        return orders
    }
}
