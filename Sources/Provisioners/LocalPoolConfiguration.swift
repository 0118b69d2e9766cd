import Foundation
import SpotwiseCore
import Yams

/// `provisioners/local.yaml`: the nodes of the local provider and the simulated market's timing.
public struct LocalPoolConfiguration: Decodable, Sendable, Equatable {
    public struct Node: Decodable, Sendable, Equatable {
        public var name: String
        public var pool: WorkerPool

        enum CodingKeys: String, CodingKey { case name }

        public init(from decoder: any Decoder) throws {
            name = try decoder.container(keyedBy: CodingKeys.self).decode(String.self, forKey: .name)
            pool = try WorkerPool(from: decoder)
        }

        public init(name: String, pool: WorkerPool) {
            self.name = name
            self.pool = pool
        }
    }

    public var noticeSeconds: Double
    public var relaunchSeconds: Double
    public var nodes: [Node]

    enum CodingKeys: String, CodingKey {
        case nodes
        case noticeSeconds = "notice_seconds"
        case relaunchSeconds = "relaunch_seconds"
    }

    public init(noticeSeconds: Double, relaunchSeconds: Double, nodes: [Node]) {
        self.noticeSeconds = noticeSeconds
        self.relaunchSeconds = relaunchSeconds
        self.nodes = nodes
    }

    /// Reads and checks the file; an error names the file and what is wrong.
    public static func load(_ url: URL) throws -> LocalPoolConfiguration {
        let text: String
        do {
            text = try String(contentsOf: url, encoding: .utf8)
        } catch {
            throw ConfigurationError("\(url.path): cannot read it (\(error.localizedDescription))")
        }
        let configuration: LocalPoolConfiguration
        do {
            configuration = try YAMLDecoder().decode(LocalPoolConfiguration.self, from: text)
        } catch {
            throw ConfigurationError("\(url.path): \(error)")
        }
        guard !configuration.nodes.isEmpty else { throw ConfigurationError("\(url.path): nodes: at least one node") }
        let names = configuration.nodes.map(\.name)
        guard Set(names).count == names.count else { throw ConfigurationError("\(url.path): nodes: names must differ") }
        for name in names where !name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }) {
            throw ConfigurationError("\(url.path): nodes: '\(name)' must be letters, digits and hyphens")
        }
        guard configuration.noticeSeconds > 0, configuration.relaunchSeconds >= 0 else {
            throw ConfigurationError("\(url.path): notice_seconds must be > 0 and relaunch_seconds >= 0")
        }
        return configuration
    }
}

public struct ConfigurationError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
