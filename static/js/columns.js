// The node table's columns: the reference server's defaults first, then
// the optional ones (/work/shared/spec/node-messages.md lists both).
// text(node, now) is what a cell shows, sort(node, now) what it sorts by
// (null sorts last), hover(node) its title; `ticking` cells change with
// the clock alone.
import { bytes, duration, integer, shortHash, parseTime, unknown } from "./format.js";

const since = (text, now) => (text == null ? null : now - parseTime(text));
const sys = (node, key) => (node.sysinfo ? node.sysinfo[key] : null);
const yesNo = (value) => (value == null ? unknown : value ? "yes" : "no");

export const columns = [
  { id: "name", title: "Name", default: true, text: (n) => n.name ?? n.peer_id, sort: (n) => (n.name ?? n.peer_id).toLowerCase(), hover: (n) => n.peer_id },
  { id: "validator", title: "Validator", default: true, text: (n) => (n.authority ? "✓" : ""), sort: (n) => (n.authority ? 0 : 1) },
  { id: "implementation", title: "Implementation", default: true, text: (n) => [n.implementation, n.version].filter(Boolean).join(" ") || unknown, sort: (n) => `${n.implementation ?? ""} ${n.version ?? ""}` },
  { id: "peers", title: "Peers", default: true, num: true, text: (n) => integer(n.peers), sort: (n) => n.peers },
  { id: "txcount", title: "Txs", default: true, num: true, text: (n) => integer(n.txcount), sort: (n) => n.txcount },
  { id: "best_height", title: "Best block", default: true, num: true, text: (n) => integer(n.best_height), sort: (n) => n.best_height, hover: (n) => (n.best_lag ? `${n.best_lag} behind the chain` : null) },
  { id: "best_hash", title: "Block hash", default: true, mono: true, text: (n) => shortHash(n.best_hash), sort: (n) => n.best_hash, hover: (n) => n.best_hash },
  { id: "block_time_ms", title: "Block time", default: true, num: true, text: (n) => duration(n.block_time_ms), sort: (n) => n.block_time_ms },
  { id: "propagation_ms", title: "Propagation", default: true, num: true, text: (n) => duration(n.propagation_ms), sort: (n) => n.propagation_ms },
  { id: "since_block", title: "Last block", default: true, num: true, ticking: true, text: (n, now) => duration(since(n.best_at, now)), sort: (n, now) => since(n.best_at, now) },
  { id: "uptime", title: "Uptime", default: true, num: true, ticking: true, text: (n, now) => duration(n.startup_time == null ? null : now - n.startup_time), sort: (n) => (n.startup_time == null ? null : -n.startup_time) },
  { id: "peer_id", title: "Network id", mono: true, text: (n) => shortHash(n.peer_id), sort: (n) => n.peer_id, hover: (n) => n.peer_id },
  { id: "bandwidth", title: "Bandwidth ↓ / ↑", spark: true, num: true, text: (n) => `${bytes(n.bandwidth_download, "/s")} / ${bytes(n.bandwidth_upload, "/s")}`, sort: (n) => n.bandwidth_download },
  { id: "state_cache_size", title: "State cache", num: true, text: (n) => bytes(n.state_cache_size), sort: (n) => n.state_cache_size },
  { id: "finalized_height", title: "Finalized", num: true, text: (n) => integer(n.finalized_height), sort: (n) => n.finalized_height, hover: (n) => n.finalized_hash },
  { id: "os", title: "OS", text: (n) => n.os ?? unknown, sort: (n) => n.os },
  { id: "arch", title: "Arch", text: (n) => n.arch ?? unknown, sort: (n) => n.arch },
  { id: "cpu", title: "CPU", text: (n) => sys(n, "cpu") ?? unknown, sort: (n) => sys(n, "cpu") },
  { id: "core_count", title: "Cores", num: true, text: (n) => integer(sys(n, "core_count")), sort: (n) => sys(n, "core_count") },
  { id: "memory", title: "Memory", num: true, text: (n) => bytes(sys(n, "memory")), sort: (n) => sys(n, "memory") },
  { id: "linux_distro", title: "Distro", text: (n) => sys(n, "linux_distro") ?? unknown, sort: (n) => sys(n, "linux_distro") },
  { id: "linux_kernel", title: "Kernel", text: (n) => sys(n, "linux_kernel") ?? unknown, sort: (n) => sys(n, "linux_kernel") },
  { id: "vm", title: "VM", text: (n) => yesNo(sys(n, "is_virtual_machine")), sort: (n) => sys(n, "is_virtual_machine") },
];

export const byId = new Map(columns.map((column) => [column.id, column]));
export const defaultIds = columns.filter((column) => column.default).map((column) => column.id);

/** 0 online, 1 stale, 2 offline: stale and offline nodes sort last. */
export const rank = (node) => (!node.online ? 2 : node.stale ? 1 : 0);
