import Coordinator
import Foundation
import SpotwiseTesting
import Testing

/// docs/openapi.yaml must document every route the coordinator serves.
@Suite struct OpenAPIDocumentTests {
    @Test func everyRouteIsDocumented() throws {
        let document = try String(contentsOf: RepositoryPaths.url("docs/openapi.yaml"), encoding: .utf8)
        let lines = document.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var documented = Set<String>()
        var path: String?
        for line in lines {
            if line.hasPrefix("  /"), line.hasSuffix(":") {
                path = String(line.dropFirst(2).dropLast())
            } else if let current = path, line.hasPrefix("    "), !line.hasPrefix("     "),
                let method = ["get", "post", "put", "delete", "patch"].first(where: { line == "    \($0):" })
            {
                documented.insert("\(method.uppercased()) \(current)")
            } else if !line.hasPrefix(" ") && !line.isEmpty {
                path = nil
            }
        }
        for route in JobsAPI.routes + WorkersAPI.routes + AttemptsAPI.routes + ModelsAPI.routes + ReportsAPI.routes
            + MLflowAPI.routes + [
                "GET /health", "GET /metrics",
            ]
        {
            #expect(documented.contains(route), "\(route) is not in docs/openapi.yaml")
        }
        #expect(
            documented.count == JobsAPI.routes.count + WorkersAPI.routes.count + AttemptsAPI.routes.count
                + ModelsAPI.routes.count + ReportsAPI.routes.count + MLflowAPI.routes.count + 2,
            "documented but not served: \(documented)")
    }
}
