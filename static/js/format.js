// Formatting of the figures the dashboards show: short, unit included,
// "–" for an unknown value.
export const unknown = "–";

export const integer = (value) => (value == null ? unknown : Math.round(value).toLocaleString("en-US"));

/** Milliseconds as "850 ms", "6.0 s", "3 min", "2.5 h", "4 d". */
export function duration(ms) {
  if (ms == null) return unknown;
  const abs = Math.abs(ms);
  if (abs < 1000) return `${Math.round(ms)} ms`;
  if (abs < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  if (abs < 3_600_000) return `${Math.round(ms / 60_000)} min`;
  if (abs < 86_400_000) return `${(ms / 3_600_000).toFixed(1)} h`;
  return `${(ms / 86_400_000).toFixed(1)} d`;
}

/** Bytes (or bytes/s with the suffix) as "1.2 MB". */
export function bytes(value, suffix = "") {
  if (value == null) return unknown;
  const units = ["B", "kB", "MB", "GB", "TB"];
  let scaled = value, index = 0;
  while (Math.abs(scaled) >= 1000 && index < units.length - 1) { scaled /= 1000; index += 1; }
  return `${scaled.toFixed(index === 0 ? 0 : 1)} ${units[index]}${suffix}`;
}

/** "0x1234…abcd" for a long hash; the whole one belongs in a title. */
export const shortHash = (hash) => (hash == null ? unknown : hash.length > 14 ? `${hash.slice(0, 6)}…${hash.slice(-4)}` : hash);

/** "2020-03-25T13:17:09.008533" (UTC, no zone) or RFC 3339 → ms. */
export const parseTime = (text) => (text == null ? null : Date.parse(/[zZ]|[+-]\d\d:\d\d$/.test(text) ? text : `${text}Z`));

/** ms → "2026-12-07 03:30:44" UTC. */
export const utc = (ms) => new Date(ms).toISOString().replace("T", " ").slice(0, 19);

/** ms → the API's naive-UTC timestamp "2026-12-07T03:30:44.000". */
export const apiTime = (ms) => new Date(ms).toISOString().slice(0, 23);
