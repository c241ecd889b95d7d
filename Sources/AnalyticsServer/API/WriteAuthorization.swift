import WebServer
/// The bearer token the write endpoints (POST /host_systems, /benchmarks,
/// /benchmarks/events) ask for when API_TOKEN is set. Unset keeps the
/// original's open behaviour.
struct WriteAuthorization {
    private let token: [UInt8]?

    init(token: String?) {
        self.token = token.map { Array($0.utf8) }
    }

    /// Throws 401 (with a WWW-Authenticate challenge) unless the request
    /// carries `Authorization: Bearer <token>`.
    func check(_ request: HTTPRequest) throws(APIError) {
        guard let token else { return }
        let header = request.header("authorization") ?? ""
        let scheme = "bearer "
        let given = header.lowercased().hasPrefix(scheme) ? Array(header.utf8.dropFirst(scheme.count)) : []
        guard Self.constantTimeEqual(given, token) else {
            throw APIError(401, "this endpoint needs Authorization: Bearer <API_TOKEN>",
                           headers: [("WWW-Authenticate", #"Bearer realm="tetcore-analytics""#)])
        }
    }

    /// Compares every byte whatever the first difference, so the time taken
    /// does not tell how much of a guess was right (only its length).
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt8(truncatingIfNeeded: a.count ^ b.count)
        for index in 0..<max(a.count, b.count) {
            difference |= (index < a.count ? a[index] : 0) ^ (index < b.count ? b[index] : 0)
        }
        return difference == 0 && a.count == b.count
    }
}
