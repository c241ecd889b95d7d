// The page's shareable state (chain, node, window) in its query string.
export const get = (name, fallback = "") => new URLSearchParams(location.search).get(name) || fallback;

/** Replaces the given parameters (null removes one) without a reload. */
export function set(values) {
  const query = new URLSearchParams(location.search);
  for (const [key, value] of Object.entries(values)) {
    if (value == null || value === "") query.delete(key); else query.set(key, value);
  }
  const text = query.toString();
  history.replaceState(null, "", text ? `?${text}` : location.pathname);
}
