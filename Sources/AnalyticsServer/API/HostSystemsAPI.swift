import PostgresClient
import WebServer
/// GET and POST /host_systems: the machines benchmarks run on.
struct HostSystemsAPI {
    let database: APIDatabase
    let writes: WriteAuthorization

    func install(in router: inout Router) {
        router.addAPI("GET", "/host_systems") { (_, respond) throws(APIError) in
            database.respondWithJSON(HostSystemsAPI.listSQL, [], route: "/host_systems", respond)
        }
        router.addAPI("POST", "/host_systems") { (request, respond) throws(APIError) in
            try writes.check(request)
            let body = try JSONBody(request)
            let parameters: [PGParameter] = [
                .text(try body.string("description")), .text(try body.string("os")),
                .int32(try body.int32("cpu_qty")), .int32(try body.int32("cpu_clock")),
                .int32(try body.int32("ram_mb")), .text(try body.string("disk_info")),
            ]
            database.respondWithJSON(HostSystemsAPI.insertSQL, parameters, route: "POST /host_systems", access: .write, respond)
        }
    }

    private static let object = """
        json_build_object('id', h.id, 'description', h.description, 'os', h.os, 'cpu_qty', h.cpu_qty,
                          'cpu_clock', h.cpu_clock, 'ram_mb', h.ram_mb, 'disk_info', h.disk_info)
        """

    static let listSQL = "SELECT coalesce(json_agg(\(object) ORDER BY h.id), '[]')::text FROM host_systems h"

    static let insertSQL = """
        INSERT INTO host_systems AS h (description, os, cpu_qty, cpu_clock, ram_mb, disk_info)
        VALUES ($1, $2, $3, $4, $5, $6)
        RETURNING \(object)::text
        """
}
