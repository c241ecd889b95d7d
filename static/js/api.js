// JSON requests to this server; a failure names the endpoint and the
// server's error sentence.
export async function getJSON(path) {
  let response;
  try {
    response = await fetch(path, { headers: { Accept: "application/json" } });
  } catch {
    throw new Error(`${path}: the server cannot be reached`);
  }
  let body = null;
  try { body = await response.json(); } catch { body = null; }
  if (!response.ok) throw new Error(`${path}: ${response.status} ${body && body.error ? body.error : response.statusText}`);
  return body;
}

/** Element helper: tag, attributes ("text" sets the text), children. */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (value == null) continue;
    if (key === "text") node.textContent = value; else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}

/** Shows a state on a status element: "ok", "waiting" or "error". */
export function status(element, state, text) {
  element.className = `status ${state}`;
  element.dataset.state = state;
  element.textContent = text;
}
