// Talking to `newsflow api`: JSON GETs that never throw, and what an answer means.

/**
 * GET path?params as JSON. Resolves to {status, data, detail}: status 0 when the API did not
 * answer at all (network error, timeout), data the parsed body of a 2xx, detail the
 * server's `detail` for anything else.
 */
export async function getJson(path, params = {}, { timeoutMs = 15000 } = {}) {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    for (const one of Array.isArray(value) ? value : [value]) {
      if (one !== undefined && one !== null && one !== "") query.append(name, String(one));
    }
  }
  const text = query.toString();
  const url = text ? `${path}?${text}` : path;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    const response = await fetch(url, { headers: { Accept: "application/json" },
                                         signal: controller.signal });
    let body = null;
    try {
      body = await response.json();
    } catch {
      body = null;
    }
    if (response.ok) return { status: response.status, data: body, body, detail: null };
    const detail = body && typeof body.detail === "string" ? body.detail
      : body && body.detail ? JSON.stringify(body.detail) : response.statusText;
    return { status: response.status, data: null, body, detail };
  } catch {
    return { status: 0, data: null, body: null, detail: "the API did not answer" };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * True when a 404 says the route itself does not exist on this server (FastAPI's own
 * "Not Found"), as opposed to a route that exists saying "no such thing". Alerts, stories and
 * watch streams arrive in later versions: the page shows "not available yet" for them.
 */
export function routeMissing(result) {
  return result.status === 404 && result.detail === "Not Found";
}

/** A short, human reason for a failed answer. */
export function reason(result) {
  if (result.status === 0) return "the newsflow API is not answering";
  if (result.status === 503) return result.detail || "a backing service is unavailable";
  return `${result.status}: ${result.detail || "request failed"}`;
}
