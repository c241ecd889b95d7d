import CSupport
import XCTest

/// ts_json_preparse's `state`: the members that carry node and chain
/// state, picked up in the validating pass, for every form current and
/// older nodes send them in.
final class JSONStateTests: XCTestCase {
    private struct State {
        var status: Int32
        var kind = TS_JSON_STATE_NONE
        var numbers: [ts_json_state_number_id: Int64] = [:]
        var strings: [ts_json_state_string_id: String] = [:]
        var genesis: String?, os: String?, arch: String?, env: String?
        var cpu: String?, kernel: String?, distro: String?
        var memory: Int64 = -2, cores: Int64 = -2
        var vm: Int32 = -2
    }

    private static let numberIDs: [ts_json_state_number_id] = [
        TS_JSON_N_HEIGHT, TS_JSON_N_FINALIZED_HEIGHT, TS_JSON_N_NUMBER, TS_JSON_N_TXCOUNT, TS_JSON_N_PEERS,
        TS_JSON_N_BANDWIDTH_DOWNLOAD, TS_JSON_N_BANDWIDTH_UPLOAD, TS_JSON_N_USED_STATE_CACHE_SIZE,
        TS_JSON_N_CPU_HASHRATE_SCORE, TS_JSON_N_PARALLEL_CPU_HASHRATE_SCORE, TS_JSON_N_MEMORY_MEMCPY_SCORE,
        TS_JSON_N_DISK_SEQUENTIAL_WRITE_SCORE, TS_JSON_N_DISK_RANDOM_WRITE_SCORE,
    ]
    private static let stringIDs: [ts_json_state_string_id] = [TS_JSON_S_BEST, TS_JSON_S_FINALIZED_HASH, TS_JSON_S_HASH, TS_JSON_S_ORIGIN]

    private static func string(_ s: ts_json_str) -> String? {
        guard let ptr = s.ptr else { return nil }
        return String(decoding: UnsafeRawBufferPointer(start: ptr, count: s.len), as: UTF8.self)
    }

    private func preparse(_ text: String) -> State {
        let bytes = Array(text.utf8)
        var out = [CChar](repeating: 0, count: 4096)
        return bytes.withUnsafeBufferPointer { input in
            input.withMemoryRebound(to: CChar.self) { input in
                var m = ts_json_message()
                var needed = 0
                var state = State(status: ts_json_preparse(input.baseAddress, input.count, &out, out.count, &needed, &m))
                guard state.status == TS_JSON_OK.rawValue else { return state }
                defer { ts_json_message_release(&m) }
                state.kind = m.state.kind
                for id in Self.numberIDs {
                    var value: Int64 = 0
                    if ts_json_state_number(&m.state, id, &value) == 1 { state.numbers[id] = value }
                }
                for id in Self.stringIDs {
                    let text = Self.string(ts_json_state_string(&m.state, id))
                    if let text {
                        // Borrowed from the input, not copied.
                        let ptr = ts_json_state_string(&m.state, id).ptr
                        XCTAssertTrue(ptr! >= input.baseAddress! && ptr! < input.baseAddress! + input.count)
                        state.strings[id] = text
                    }
                }
                XCTAssertEqual(ts_json_read_node_info(&m), TS_JSON_OK.rawValue)
                state.genesis = Self.string(m.node.genesis_hash)
                state.os = Self.string(m.node.target_os)
                state.arch = Self.string(m.node.target_arch)
                state.env = Self.string(m.node.target_env)
                state.cpu = Self.string(m.node.cpu)
                state.kernel = Self.string(m.node.linux_kernel)
                state.distro = Self.string(m.node.linux_distro)
                state.memory = m.node.memory
                state.cores = m.node.core_count
                state.vm = m.node.is_virtual_machine
                return state
            }
        }
    }

    private let ts = #""ts":"2026-12-01T10:15:02.118350921+01:00""#
    private let best = "0x4c2f0d1e9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d"
    private let final = "0x1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f809"

    func testWrappedIntervalFormsAAndB() {
        let a = preparse(#"{"id":1,\#(ts),"payload":{"msg":"system.interval","height":23811042,"best":"\#(best)","txcount":4,"finalized_height":23811040,"finalized_hash":"\#(final)","used_state_cache_size":876543210}}"#)
        XCTAssertEqual(a.kind, TS_JSON_STATE_INTERVAL)
        XCTAssertEqual(a.numbers, [TS_JSON_N_HEIGHT: 23_811_042, TS_JSON_N_TXCOUNT: 4, TS_JSON_N_FINALIZED_HEIGHT: 23_811_040,
                                   TS_JSON_N_USED_STATE_CACHE_SIZE: 876_543_210])
        XCTAssertEqual(a.strings, [TS_JSON_S_BEST: best, TS_JSON_S_FINALIZED_HASH: final])
        let b = preparse(#"{"id":1,\#(ts),"payload":{"msg":"system.interval","peers":42,"bandwidth_download":183214,"bandwidth_upload":97321}}"#)
        XCTAssertEqual(b.numbers, [TS_JSON_N_PEERS: 42, TS_JSON_N_BANDWIDTH_DOWNLOAD: 183_214, TS_JSON_N_BANDWIDTH_UPLOAD: 97_321])
        XCTAssertTrue(b.strings.isEmpty)
    }

    func testOlderFlatIntervalWithEverythingInOneMessage() {
        let s = preparse(#"{"bandwidth_download":18374.5,"best":"\#(best)","cpu":11.29,"finalized_height":1853478,"height":1853481,"msg":"system.interval","peers":39,\#(ts),"txcount":0}"#)
        XCTAssertEqual(s.kind, TS_JSON_STATE_INTERVAL)
        XCTAssertEqual(s.numbers[TS_JSON_N_BANDWIDTH_DOWNLOAD], 18_374, "a fraction is dropped")
        XCTAssertEqual(s.numbers[TS_JSON_N_HEIGHT], 1_853_481)
        XCTAssertEqual(s.numbers[TS_JSON_N_PEERS], 39)
        XCTAssertEqual(s.numbers[TS_JSON_N_TXCOUNT], 0)
    }

    /// The integer part is read from the text, not through a double, which
    /// above 2^53 would round it (26666666666666666 becomes ...664).
    func testAFractionAbove2To53KeepsTheExactIntegerPart() {
        let s = preparse(#"{"msg":"sysinfo.hwbench",\#(ts),"disk_sequential_write_score":26666666666666666.67}"#)
        XCTAssertEqual(s.numbers[TS_JSON_N_DISK_SEQUENTIAL_WRITE_SCORE], 26_666_666_666_666_666)
    }

    func testBlockImportFinalizedAndTheAFGForm() {
        let imported = preparse(#"{"id":1,\#(ts),"payload":{"msg":"block.import","height":23811043,"best":"\#(best)","origin":"NetworkBroadcast"}}"#)
        XCTAssertEqual(imported.kind, TS_JSON_STATE_BLOCK_IMPORT)
        XCTAssertEqual(imported.numbers, [TS_JSON_N_HEIGHT: 23_811_043])
        XCTAssertEqual(imported.strings, [TS_JSON_S_BEST: best, TS_JSON_S_ORIGIN: "NetworkBroadcast"])
        let finalized = preparse(#"{"id":1,\#(ts),"payload":{"msg":"notify.finalized","height":"23811041","best":"\#(final)"}}"#)
        XCTAssertEqual(finalized.kind, TS_JSON_STATE_FINALIZED)
        XCTAssertEqual(finalized.numbers, [TS_JSON_N_HEIGHT: 23_811_041], "a height sent as a string")
        let afg = preparse(#"{"msg":"afg.finalized_blocks_up_to","number":"1853247","hash":"\#(final)",\#(ts)}"#)
        XCTAssertEqual(afg.kind, TS_JSON_STATE_FINALIZED_UP_TO)
        XCTAssertEqual(afg.numbers, [TS_JSON_N_NUMBER: 1_853_247])
        XCTAssertEqual(afg.strings, [TS_JSON_S_HASH: final])
    }

    func testHardwareBenchWithAndWithoutTheDiskScores() {
        let full = preparse(#"{"id":1,\#(ts),"payload":{"msg":"sysinfo.hwbench","cpu_hashrate_score":1712,"parallel_cpu_hashrate_score":21540,"memory_memcpy_score":24880,"disk_sequential_write_score":2210,"disk_random_write_score":640}}"#)
        XCTAssertEqual(full.kind, TS_JSON_STATE_HWBENCH)
        XCTAssertEqual(full.numbers, [TS_JSON_N_CPU_HASHRATE_SCORE: 1712, TS_JSON_N_PARALLEL_CPU_HASHRATE_SCORE: 21_540,
                                      TS_JSON_N_MEMORY_MEMCPY_SCORE: 24_880, TS_JSON_N_DISK_SEQUENTIAL_WRITE_SCORE: 2210,
                                      TS_JSON_N_DISK_RANDOM_WRITE_SCORE: 640])
        let noDisk = preparse(#"{"msg":"sysinfo.hwbench","cpu_hashrate_score":900,"parallel_cpu_hashrate_score":3000,"memory_memcpy_score":9000,\#(ts)}"#)
        XCTAssertEqual(noDisk.numbers.count, 3)
    }

    func testSystemConnectedGivesGenesisTargetAndSysinfo() {
        let s = preparse(#"{"id":1,\#(ts),"payload":{"msg":"system.connected","name":"n","implementation":"Tetcore Node","version":"0.9.43-5a1f7c2e9b4","config":"","chain":"Tetcore","genesis_hash":"0x91b1","authority":true,"startup_time":"1764580000123","network_id":"12D3KooWJr7","target_os":"linux","target_arch":"x86_64","target_env":"","sysinfo":{"cpu":"AMD Ryzen 9 7950X3D 16-Core Processor","memory":67108864000,"core_count":16,"linux_kernel":"6.1.0-27-amd64","linux_distro":"Debian GNU/Linux 12 (bookworm)","is_virtual_machine":false}}}"#)
        XCTAssertEqual(s.kind, TS_JSON_STATE_CONNECTED)
        XCTAssertEqual([s.genesis, s.os, s.arch, s.env], ["0x91b1", "linux", "x86_64", ""])
        XCTAssertEqual(s.cpu, "AMD Ryzen 9 7950X3D 16-Core Processor")
        XCTAssertEqual([s.memory, s.cores], [67_108_864_000, 16])
        XCTAssertEqual([s.kernel, s.distro], ["6.1.0-27-amd64", "Debian GNU/Linux 12 (bookworm)"])
        XCTAssertEqual(s.vm, 0)
        let mac = preparse(#"{"msg":"system.connected","network_id":"P",\#(ts),"sysinfo":{"cpu":null,"memory":null,"core_count":null,"linux_kernel":null,"linux_distro":null,"is_virtual_machine":null}}"#)
        XCTAssertEqual([mac.memory, mac.cores], [-1, -1], "macOS sends every sysinfo field null")
        XCTAssertEqual(mac.vm, -1)
        XCTAssertNil(mac.cpu)
        XCTAssertNil(mac.genesis, "an old node sends no genesis hash")
    }

    func testMalformedAndNestedMembersAreAbsent() {
        // A nested `height`, an exponent, a non-numeric string, an escaped
        // hash, an overflow, null and an object are all absent.
        let s = preparse(#"{"msg":"system.interval","inner":{"height":5,"best":"0x1"},"height":1e3,"txcount":"4x","best":"0x\u0041","peers":99999999999999999999,"finalized_height":null,"finalized_hash":{},\#(ts)}"#)
        XCTAssertEqual(s.status, TS_JSON_OK.rawValue)
        XCTAssertTrue(s.numbers.isEmpty, "\(s.numbers)")
        XCTAssertTrue(s.strings.isEmpty, "\(s.strings)")
        let negative = preparse(#"{"msg":"system.interval","peers":-3,"height":"-7",\#(ts)}"#)
        XCTAssertEqual(negative.numbers, [TS_JSON_N_PEERS: -3, TS_JSON_N_HEIGHT: -7], "the caller judges the range")
    }

    func testTheLastOfDuplicateMembersWinsAsInJSONB() {
        let s = preparse(#"{"msg":"block.import","height":5,"height":6,"best":"0xa","best":null,\#(ts)}"#)
        XCTAssertEqual(s.numbers, [TS_JSON_N_HEIGHT: 6])
        XCTAssertTrue(s.strings.isEmpty)
    }

    func testAWrappedMessageTakesThePayloadsMembersNotTheEnvelopes() {
        let s = preparse(#"{"id":2,"height":1,\#(ts),"payload":{"msg":"block.import","height":7,"best":"0xb"}}"#)
        XCTAssertEqual(s.numbers, [TS_JSON_N_HEIGHT: 7])
        XCTAssertEqual(s.strings, [TS_JSON_S_BEST: "0xb"])
    }

    func testOtherKindsHaveNoStateKindAndAccessorsRefuseBadIndexes() {
        let s = preparse(#"{"msg":"txpool.import","ready":1,"future":0,\#(ts)}"#)
        XCTAssertEqual(s.kind, TS_JSON_STATE_NONE)
        var state = ts_json_state()
        var value: Int64 = 5
        XCTAssertEqual(ts_json_state_number(&state, TS_JSON_N_COUNT, &value), 0)
        XCTAssertEqual(value, 5)
        XCTAssertNil(ts_json_state_string(&state, TS_JSON_S_COUNT).ptr)
    }
}
