import Foundation

/// Whether this run is a sanitizer build of the suite (`SANITIZE=address
/// scripts/test` exports TEST_SANITIZER). AddressSanitizer keeps freed
/// memory in quarantine and adds shadow memory, so resident-memory bounds
/// say nothing about the server there; tests skip only those assertions.
enum SanitizedBuild {
    static var name: String? { ProcessInfo.processInfo.environment["TEST_SANITIZER"].flatMap { $0.isEmpty ? nil : $0 } }
}
