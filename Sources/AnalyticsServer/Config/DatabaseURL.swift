/// Hides the password of a database URL or key=value conninfo.
enum DatabaseURL {
    static func masked(_ url: String) -> String {
        if url.hasPrefix("postgres://") || url.hasPrefix("postgresql://") {
            // scheme://user:password@host → scheme://user:***@host
            guard let schemeEnd = url.range(of: "://"),
                  let at = url[schemeEnd.upperBound...].lastIndex(of: "@") else { return url }
            let userInfo = url[schemeEnd.upperBound..<at]
            guard let colon = userInfo.firstIndex(of: ":") else { return url }
            return String(url[..<colon]) + ":***" + String(url[at...])
        }
        return url.split(separator: " ").map { pair in
            pair.lowercased().hasPrefix("password=") ? "password=***" : String(pair)
        }.joined(separator: " ")
    }
}
