@testable import AnalyticsServer
@testable import TestSupport
import XCTest

/// The `.env` file: syntax, errors with file and line, and its place below
/// the environment.
final class DotEnvTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("dotenv-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try FileManager.default.removeItem(at: directory)
    }

    func testSyntax() throws {
        let variables = try DotEnv.parse(#"""
            # a comment line

            PLAIN=value
            SPACED = spaced value   
            export EXPORTED=1
            export	TABBED=2
            EMPTY=
            TRAILING=abc # a comment after a blank
            HASH=a#b
            SINGLE='it is "literal" \n # here'
            DOUBLE="line one\nline \"two\" \\ back\slash" # comment
            EQUALS=a=b=c
            QUOTE_INSIDE=don't
            export=3
            """#, file: ".env")
        XCTAssertEqual(variables, [
            "PLAIN": "value",
            "SPACED": "spaced value",
            "EXPORTED": "1",
            "TABBED": "2",
            "EMPTY": "",
            "TRAILING": "abc",
            "HASH": "a#b",
            "SINGLE": #"it is "literal" \n # here"#,
            "DOUBLE": "line one\nline \"two\" \\ back\\slash",
            "EQUALS": "a=b=c",
            "QUOTE_INSIDE": "don't",
            "export": "3",
        ])
    }

    func testLineEndingsByteOrderMarkAndRepeatedKeys() throws {
        XCTAssertEqual(try DotEnv.parse("\u{FEFF}A=1\r\nB=\"2\"\r\nA=3\r\n", file: ".env"), ["A": "3", "B": "2"])
    }

    func testMalformedLinesNameFileAndLine() {
        let cases: [(String, String)] = [
            ("A=1\n\nNO_EQUALS_SIGN\n", "f.env:3: expected KEY=VALUE"),
            ("1ABC=x", #"f.env:1: "1ABC" is not a variable name (letters, digits and _, not starting with a digit)"#),
            ("MY-KEY=x", #"f.env:1: "MY-KEY" is not a variable name (letters, digits and _, not starting with a digit)"#),
            ("=x", #"f.env:1: "" is not a variable name (letters, digits and _, not starting with a digit)"#),
            ("A=1\nB=\"open", "f.env:2: the value's opening \" is never closed on this line"),
            ("B='open", "f.env:1: the value's opening ' is never closed on this line"),
            ("B=\"ends in escape\\\"", "f.env:1: the value's opening \" is never closed on this line"),
            ("B=\"x\" y", #"f.env:1: unexpected text after the closing ": "y""#),
            ("B='x'y", #"f.env:1: unexpected text after the closing ': "y""#),
        ]
        for (text, message) in cases {
            XCTAssertThrowsError(try DotEnv.parse(text, file: "f.env"), text) { error in
                XCTAssertEqual((error as? ConfigError)?.description, message)
            }
        }
    }

    func testSettingsLoadReadsTheFileAndTheEnvironmentWins() throws {
        let path = try write("""
            PORT=9000
            export LOG_EXPIRY_H=1_000
            DATABASE_URL="postgres://a:b@db/x"
            HOST='127.0.0.1'
            """)
        let settings = try Settings.load(environment: ["PORT": "7000", "PATH": "/bin"], dotEnvPath: path)
        XCTAssertEqual(settings.port, 7000, "the environment wins over the file")
        XCTAssertEqual(settings.logExpiryH, 1000)
        XCTAssertEqual(settings.databaseURL, "postgres://a:b@db/x")
        XCTAssertEqual(settings.host, "127.0.0.1")
    }

    func testValuesFromTheFileAreCheckedLikeTheEnvironment() throws {
        let path = try write("PORT=eighty\n")
        XCTAssertThrowsError(try Settings.load(environment: [:], dotEnvPath: path)) { error in
            XCTAssertEqual((error as? ConfigError)?.description, #"PORT="eighty": expected an integer from 1 to 65535"#)
        }
        XCTAssertEqual(try Settings.load(environment: ["PORT": "81"], dotEnvPath: path).port, 81,
                       "a bad value the environment overrides is never parsed")
    }

    func testMalformedFileStopsLoading() throws {
        let path = try write("PORT=1\nthis is not a setting\n")
        XCTAssertThrowsError(try Settings.load(environment: [:], dotEnvPath: path)) { error in
            XCTAssertEqual((error as? ConfigError)?.description, "\(path):2: expected KEY=VALUE")
        }
    }

    func testMissingFileAndNoFile() throws {
        let missing = directory.appendingPathComponent("absent.env").path
        XCTAssertEqual(try Settings.load(environment: [:], dotEnvPath: missing), Settings.defaults)
        XCTAssertEqual(try Settings.load(environment: ["PORT": "1"], dotEnvPath: nil).port, 1)
    }

    func testUnreadableFileIsAnError() throws {
        let path = directory.appendingPathComponent("binary.env").path
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data([0x41, 0x3D, 0xFF, 0xFE])))
        XCTAssertThrowsError(try Settings.load(environment: [:], dotEnvPath: path)) { error in
            XCTAssertEqual((error as? ConfigError)?.description, "\(path): is not UTF-8 text")
        }
        XCTAssertThrowsError(try Settings.load(environment: [:], dotEnvPath: directory.path)) { error in
            XCTAssertEqual((error as? ConfigError)?.description, "\(self.directory.path): cannot be read")
        }
    }

    private func write(_ text: String) throws -> String {
        let url = directory.appendingPathComponent(".env")
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }
}
