@testable import AnalyticsServer
@testable import TestSupport
import XCTest

/// DATABASE_URL syntax and the masking of passwords in both libpq forms.
final class DatabaseURLTests: XCTestCase {
    func testAcceptedForms() {
        for text in ["postgres://localhost", "postgresql://alice:pw@db.example:5432/analytics?sslmode=require",
                     "postgresql:///analytics?host=/var/run/postgresql", "host=db dbname=analytics",
                     "dbname = analytics", "host=/tmp password='two words' port=5432", "password=it\\'s",
                     "application_name=''"] {
            XCTAssertTrue(DatabaseURL.isValid(text), text)
        }
    }

    /// libpq's multi-host forms (a pg_auto_failover formation's URL): the
    /// server takes them as they are and libpq picks the host.
    func testMultiHostFormsAcceptedAndMasked() {
        let url = "postgres://tetcore:s3cret@10.0.0.1:5432,10.0.0.2:5432/analytics?target_session_attrs=read-write"
        XCTAssertTrue(DatabaseURL.isValid(url))
        XCTAssertEqual(DatabaseURL.masked(url),
                       "postgres://tetcore:***@10.0.0.1:5432,10.0.0.2:5432/analytics?target_session_attrs=read-write")
        let conninfo = "host=10.0.0.1,10.0.0.2 port=5432,5433 target_session_attrs=prefer-standby password=s3cret"
        XCTAssertTrue(DatabaseURL.isValid(conninfo))
        XCTAssertEqual(DatabaseURL.masked(conninfo),
                       "host=10.0.0.1,10.0.0.2 port=5432,5433 target_session_attrs=prefer-standby password=***")
    }

    func testRejectedForms() {
        for text in ["", "   ", "localhost:5432", "mysql://root@db/x", "Postgres://db", "postgres://db x",
                     "host=db dbname", "host", "Host=db", "host=db =x", "password='unterminated", "host=db\\"] {
            XCTAssertFalse(DatabaseURL.isValid(text), text)
        }
    }

    func testURLPasswordsAreMasked() {
        let cases = [
            ("postgres://alice:s3cret@db.example:5432/analytics", "postgres://alice:***@db.example:5432/analytics"),
            ("postgresql://alice@db/x", "postgresql://alice@db/x"),
            ("postgresql://db:5432/x", "postgresql://db:5432/x"),
            ("postgres://alice:@db/x", "postgres://alice:@db/x"),
            ("postgres://alice:p@ss/w?rd@db/x", "postgres://alice:***@db/x"),
            ("postgres://db/x?sslmode=require&password=s3cret&connect_timeout=5",
             "postgres://db/x?sslmode=require&password=***&connect_timeout=5"),
            ("postgres://u:a@db/x?sslpassword=k", "postgres://u:***@db/x?sslpassword=***"),
            ("mysql://root:hunter2@db/x", "mysql://root:***@db/x"),
        ]
        for (text, masked) in cases {
            XCTAssertEqual(DatabaseURL.masked(text), masked, text)
        }
    }

    func testConninfoPasswordsAreMasked() {
        let cases = [
            ("host=db user=alice password=s3cret dbname=x", "host=db user=alice password=*** dbname=x"),
            ("host=db password = 'two words' port=5432", "host=db password = *** port=5432"),
            (#"password='it\'s' host=db"#, "password=*** host=db"),
            ("password=", "password="),
            ("sslpassword=k host=db", "sslpassword=*** host=db"),
            ("host=db application_name=http://x password=s3cret", "host=db application_name=http://x password=***"),
            ("host=db oops password=s3cret", "host=db oops password=***"),
            ("host=db password='unterminated", "host=db password=***"),
        ]
        for (text, masked) in cases {
            XCTAssertEqual(DatabaseURL.masked(text), masked, text)
        }
    }
}
