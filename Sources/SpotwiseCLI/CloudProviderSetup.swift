import ArgumentParser
import CloudAuth
import Coordinator
import Foundation
import Provisioners
import SpotwiseCore

/// The coordinator's cloud providers from its flags: each configured one can launch capacity.
struct CloudProviderSetup {
    var sagemaker: String?
    var vertex: String?
    var modalEndpoint: String?
    var modalPrices: String
    var publicURL: String?

    func launcher(bootstrapToken: String) throws -> CapacityLauncher? {
        var providers: [any CapacityProvider] = []
        let environment = ProcessInfo.processInfo.environment
        if let sagemaker {
            let configuration = try SageMakerConfiguration.parse(
                try String(contentsOfFile: sagemaker, encoding: .utf8), file: sagemaker)
            let credentials = AWSCredentialCache(chain: .live())
            providers.append(
                SageMakerCapacity(
                    client: SageMakerClient(
                        region: configuration.region,
                        endpoint: configuration.endpoint ?? AWSEnvironment.endpoint(service: "sagemaker"),
                        credentials: { try await credentials.current() }),
                    configuration: configuration))
        }
        if let vertex {
            let configuration = try VertexConfiguration.parse(
                try String(contentsOfFile: vertex, encoding: .utf8), file: vertex)
            let source: GoogleAccessTokens.Source
            if let keyFile = configuration.keyFile {
                let path = (keyFile as NSString).expandingTildeInPath
                source = .serviceAccount(
                    try GoogleServiceAccountKey.load(try Data(contentsOf: URL(fileURLWithPath: path)), from: path))
            } else {
                source = .metadataServer(URL(string: "http://metadata.google.internal")!)
            }
            let tokens = GoogleAccessTokens(source: source)
            providers.append(
                VertexCapacity(
                    client: VertexClient(
                        project: configuration.project, region: configuration.region, endpoint: configuration.endpoint,
                        token: { try await tokens.current() }),
                    configuration: configuration))
        }
        if let modalEndpoint {
            guard let url = URL(string: modalEndpoint), let token = environment["SPOTWISE_MODAL_TOKEN"] else {
                throw ValidationError("--modal-endpoint needs an URL and SPOTWISE_MODAL_TOKEN (the app's secret)")
            }
            var prices: [String: Money] = [:]
            for pair in modalPrices.split(separator: ",") {
                let parts = pair.split(separator: "=")
                guard parts.count == 2, ModalAPI.gpus.contains(String(parts[0])),
                    let price = Money(decimalDollars: String(parts[1]))
                else { throw ValidationError("--modal-prices is GPU=DOLLARS,..., e.g. A100=2.10; not '\(pair)'") }
                prices[String(parts[0])] = price
            }
            providers.append(ModalCapacity(client: ModalClient(endpoint: url, token: token), prices: prices))
        }
        guard !providers.isEmpty else { return nil }
        guard let publicURL else {
            throw ValidationError("launched workers must reach the coordinator: pass --public-url https://HOST:PORT")
        }
        return CapacityLauncher(providers: providers, coordinatorURL: publicURL, bootstrapToken: bootstrapToken)
    }
}
