// The node's API, with the session of the person signed in and the purpose they declared.
const SESSION = "limes.session";

export function session() {
  try {
    return JSON.parse(sessionStorage.getItem(SESSION) ?? "null");
  } catch {
    return null;
  }
}

export function setSession(s) {
  if (s) sessionStorage.setItem(SESSION, JSON.stringify(s));
  else sessionStorage.removeItem(SESSION);
}

/// Whether the person signed in holds `role`.
export function hasRole(role) {
  return (session()?.roles ?? []).includes(role);
}

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.message ?? `HTTP ${status}`);
    this.status = status;
  }
}

/// The request headers: the session, and the purpose declared at sign-in or, for one act,
/// the one declared in the purpose dialog (`purpose`: {purpose, legal_basis, case_ref}).
export function headers(extra = {}, purpose = undefined) {
  const s = session();
  const h = { ...extra };
  if (s?.token) h.authorization = `Bearer ${s.token}`;
  const p = purpose ?? s?.purpose;
  if (p) {
    h["limes-purpose"] = p.purpose;
    h["limes-legal-basis"] = p.legal_basis;
    if (p.case_ref) h["limes-case"] = p.case_ref;
  }
  return h;
}

export async function api(path, { method = "GET", body, purpose } = {}) {
  const init = { method, headers: headers(body === undefined ? {} : { "content-type": "application/json" }, purpose) };
  if (body !== undefined) init.body = JSON.stringify(body);
  const r = await fetch(`/api/v1${path}`, init);
  const text = await r.text();
  const json = text ? JSON.parse(text) : null;
  if (!r.ok) throw new ApiError(r.status, json);
  return json;
}

/// Follows a Server-Sent Events stream (`EventSource` cannot send the session header): calls
/// `onEvent(type, data, id)` for each event until `signal` aborts; reconnects after a broken
/// connection with the last id seen.
export async function follow(path, onEvent, signal, onState = () => {}) {
  let last = null;
  while (!signal.aborted) {
    try {
      const h = headers({ accept: "text/event-stream" });
      if (last) h["last-event-id"] = last;
      const r = await fetch(`/api/v1${path}`, { headers: h, signal });
      if (!r.ok) throw new ApiError(r.status, null);
      onState("live");
      const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          let type = "message", data = "", id = null;
          for (const line of block.split("\n")) {
            if (line.startsWith("event:")) type = line.slice(6).trim();
            else if (line.startsWith("data:")) data += line.slice(5).trim();
            else if (line.startsWith("id:")) id = line.slice(3).trim();
          }
          if (id) last = id;
          if (data) onEvent(type, data, id);
        }
      }
    } catch (e) {
      if (signal.aborted) return;
      onState(e instanceof ApiError && e.status === 401 ? "signed-out" : "reconnecting");
      if (e instanceof ApiError && (e.status === 401 || e.status === 403)) return;
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}
