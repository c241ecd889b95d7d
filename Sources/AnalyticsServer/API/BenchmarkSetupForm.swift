import WebServer
/// The original code's benchmark requests, kept working beside the
/// README's: `POST /benchmarks` with `{"setup": {...}}` stores the setup as
/// sent (its members that name a README field also fill that field, see
/// Migrations/0005_benchmark_setup.sql), and `GET /benchmarks/example`
/// answers a body that can be posted as it is.
struct BenchmarkSetupForm {
    let database: APIDatabase

    func install(in router: inout Router) {
        router.addAPI("GET", "/benchmarks/example") { (_, respond) throws(APIError) in
            respond(.json(body: Array(BenchmarkSetupForm.exampleBody.utf8)))
        }
    }

    /// `body` holds a `setup` member (BenchmarksAPI's POST checked); any
    /// other member is ignored, as the original did.
    func store(_ body: JSONBody, _ respond: @escaping (HTTPResponse) -> Void) throws(APIError) {
        let setup = try body.object("setup")
        database.respondWithJSON(BenchmarkSetupForm.insertSQL, [.text(setup)], route: "POST /benchmarks", access: .write, respond)
    }

    static let insertSQL = """
        INSERT INTO benchmarks AS b (setup, ts_start, ts_end, description, chain_spec, benchmark_spec, host_system_id, peer_id)
        SELECT $1::jsonb, f.ts_start, f.ts_end, f.description, f.chain_spec, f.benchmark_spec, f.host_system_id, f.peer_id
        FROM tetcore_benchmark_from_setup($1::jsonb) f
        RETURNING \(BenchmarksAPI.object)::text
        """

    /// What a setup may say: the node's peer id where the original
    /// dashboard looked for it, and the README's fields, each optional.
    static let exampleBody = """
        {"setup":{"tetcore":{"peerId":"12D3KooWEyoppNCUx8Yx66oV9fJnriXwCcXwDDUA2kj6vnc6iDEp",\
        "name":"bench-node-1","chain":"dev","version":"2.0.0","execution":"wasm"},\
        "description":"Block import, 1000 transfers per block","ts_start":"2020-03-25T13:00:00",\
        "ts_end":"2020-03-25T14:00:00","host_system_id":1,\
        "chain_spec":{"name":"Development","id":"dev"},\
        "benchmark_spec":{"transactions_per_block":1000,"blocks":100}}}
        """
}
