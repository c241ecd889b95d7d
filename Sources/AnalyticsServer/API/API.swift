import Logging
import PostgresClient
import WebServer

/// Installs every JSON query endpoint on a router; their statements go
/// through `reads` (the read replica or the primary's query pool), and
/// the writes to the primary's query pool, once `gate` lets them.
struct API {
    let database: APIDatabase
    let assetsPath: String
    let writes: WriteAuthorization
    /// The network's view and its node lists (NETWORK_STATE); nil when off.
    let network: (view: NetworkView, lists: NodeLists)?
    let seriesStepS: Int64

    init(reads: ReadRoute, gate: APIQueryGate, assetsPath: String, apiToken: String?,
         network: (view: NetworkView, lists: NodeLists)?, seriesStepS: Int64, logger: Logger) {
        database = APIDatabase(reads: reads, gate: gate, logger: logger)
        self.assetsPath = assetsPath
        writes = WriteAuthorization(token: apiToken)
        self.network = network
        self.seriesStepS = seriesStepS
    }

    func install(in router: inout Router) {
        NodesAPI(database: database).install(in: &router)
        ReputationAPI(database: database).install(in: &router)
        StatsAPI(database: database).install(in: &router)
        HostSystemsAPI(database: database, writes: writes).install(in: &router)
        BenchmarksAPI(database: database, writes: writes).install(in: &router)
        BenchmarkSetupForm(database: database).install(in: &router)
        if let network { NetworkAPI(database: database, view: network.view, lists: network.lists, seriesStepS: seriesStepS).install(in: &router) }
        OpenAPIDocument.install(in: &router, assetsPath: assetsPath, logger: database.logger)
    }
}
