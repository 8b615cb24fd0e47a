// The JSON API (docs/api.md) with the bearer token. The token lives in localStorage: every
// tab of this browser shares one sign-in, no cookie authenticates anything (so there is no
// CSRF to defend against), and signing out revokes it on the server (POST /auth/logout).

const KEY = "switchboard.session";

/** The stored sign-in ({token, expires_at, staff_id}) or null when absent or expired. */
export function session() {
  try {
    const value = JSON.parse(localStorage.getItem(KEY) || "null");
    if (value && value.token && value.staff_id && value.expires_at * 1000 > Date.now()) return value;
  } catch {
    // A damaged entry is no session.
  }
  return null;
}

export function saveSession(value) {
  localStorage.setItem(KEY, JSON.stringify(value));
}

export function clearSession() {
  localStorage.removeItem(KEY);
}

/** The storage key, so other tabs can follow a sign-out. */
export const SESSION_KEY = KEY;

/** An answer that was not 2xx, with the API's error code (docs/api.md, "Errors"). */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || code || `HTTP ${status}`);
    this.status = status;
    this.code = code;
  }
}

async function errorOf(response) {
  let code = "";
  let message = "";
  try {
    const body = await response.json();
    code = body?.error?.code || "";
    message = body?.error?.message || "";
  } catch {
    // Not our JSON (a proxy's page): the status says enough.
  }
  return new ApiError(response.status, code, message);
}

function headers(extra) {
  const s = session();
  const out = { ...extra };
  if (s) out.Authorization = `Bearer ${s.token}`;
  return out;
}

/** A signed-out answer anywhere ends the session in this tab (the app listens for it). */
function unauthorized() {
  window.dispatchEvent(new Event("switchboard:unauthorized"));
}

async function request(method, path, { body, raw, contentType, signal } = {}) {
  let response;
  try {
    response = await fetch(path, {
      method,
      headers: headers(body !== undefined ? { "Content-Type": contentType || "application/json" } : {}),
      body: body === undefined ? undefined : raw ? body : JSON.stringify(body),
      cache: "no-store",
      signal,
    });
  } catch (error) {
    throw new ApiError(0, "network", error.message);
  }
  if (response.status === 401) {
    unauthorized();
  }
  if (!response.ok) throw await errorOf(response);
  return response;
}

/** A JSON call; resolves with the body (null for 204). */
export async function api(method, path, body) {
  const response = await request(method, path, { body });
  if (response.status === 204) return null;
  return response.json();
}

export const get = (path) => api("GET", path);
export const post = (path, body) => api("POST", path, body);

/** Signs in; stores and returns the session. */
export async function login(name, password) {
  const response = await fetch("/api/v1/auth/login", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ login: name, password }),
    cache: "no-store",
  }).catch((error) => {
    throw new ApiError(0, "network", error.message);
  });
  if (!response.ok) throw await errorOf(response);
  const body = await response.json();
  if (!body.staff_id) throw new ApiError(403, "not_a_person", "");
  const value = { token: body.token, expires_at: body.expires_at, staff_id: body.staff_id };
  saveSession(value);
  return value;
}

/** Ends the session on the server (every token of the account) and here. */
export async function logout() {
  try {
    await request("POST", "/api/v1/auth/logout");
  } catch {
    // Already revoked or offline: forgetting it here is what matters now.
  }
  clearSession();
}

/** A file of a conversation as a Blob (the download needs the token, so no plain <img src>). */
export async function blob(path) {
  const response = await request("GET", path);
  return response.blob();
}

/** Uploads a file into a conversation (docs/protocol.md, "Files"). */
export async function upload(conversation, file) {
  const query = new URLSearchParams({ conversation, name: file.name || "file" });
  const response = await request("POST", `/api/v1/im/files?${query}`, {
    body: file,
    raw: true,
    contentType: file.type || "application/octet-stream",
  });
  return response.json();
}
