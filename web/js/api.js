// The VaultPay API client: sessions, problem+json errors, and the retry rules of a careful client.
//
// The access token lives in memory only (a reload or a new tab needs the refresh token). The
// refresh token lives in sessionStorage, so it survives a reload of this tab but not the tab
// itself, and is rotated on every use: a stolen copy dies the moment either side uses it.

const REFRESH_KEY = "vaultpay.refresh";
const REFRESH_MARGIN_SECONDS = 60;

export class ApiError extends Error {
  constructor(status, problem, headers) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
    this.code = String(problem.type || "").split("/").pop();
    this.retryAfter = Number(headers?.get("Retry-After")) || null;
  }
}

export class NetworkError extends Error {}

const session = { access: null, refreshTimer: null, refreshing: null };
const listeners = new Set();

export function onSessionEnd(listener) {
  listeners.add(listener);
}

export function isLoggedIn() {
  return session.access !== null;
}

function storeSession(tokens) {
  session.access = tokens.access;
  sessionStorage.setItem(REFRESH_KEY, tokens.refresh);
  clearTimeout(session.refreshTimer);
  const delay = Math.max(5, tokens.expires_in - REFRESH_MARGIN_SECONDS) * 1000;
  session.refreshTimer = setTimeout(() => refreshSession().catch(() => endSession()), delay);
}

export function endSession() {
  session.access = null;
  clearTimeout(session.refreshTimer);
  sessionStorage.removeItem(REFRESH_KEY);
  for (const listener of listeners) listener();
}

async function send(path, { method = "GET", body, headers = {}, auth = true } = {}) {
  const init = { method, headers: { Accept: "application/json", ...headers }, cache: "no-store" };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers["Content-Type"] = "application/json";
  }
  if (auth && session.access) init.headers.Authorization = `Bearer ${session.access}`;
  try {
    return await fetch(path, init);
  } catch (error) {
    throw new NetworkError(error.message);
  }
}

async function parse(response) {
  if (response.status === 204 || response.status === 304) return null;
  const text = await response.text();
  return text ? JSON.parse(text) : null;
}

// Calls the API; a 401 on an authenticated call refreshes the session once and retries, and
// ends the session (back to the login page) if that fails.
export async function request(path, options = {}) {
  let response = await send(path, options);
  if (response.status === 401 && options.auth !== false) {
    const refreshed = await refreshSession().then(() => true, () => false);
    if (!refreshed) {
      endSession();
      throw new ApiError(401, await parse(response).catch(() => ({})), response.headers);
    }
    response = await send(path, options);
  }
  const data = await parse(response).catch(() => null);
  if (!response.ok && response.status !== 304) {
    if (response.status === 401 && options.auth !== false) endSession();
    throw new ApiError(response.status, data || {}, response.headers);
  }
  return { status: response.status, headers: response.headers, data };
}

export function refreshSession() {
  if (!session.refreshing) {
    const refresh = sessionStorage.getItem(REFRESH_KEY);
    session.refreshing = (async () => {
      if (!refresh) throw new Error("no session");
      const { data } = await request("/api/users/token/refresh/", { method: "POST", body: { refresh }, auth: false });
      storeSession(data);
    })().finally(() => {
      session.refreshing = null;
    });
  }
  return session.refreshing;
}

export async function restoreSession() {
  if (!sessionStorage.getItem(REFRESH_KEY)) return false;
  return refreshSession().then(() => true, () => {
    sessionStorage.removeItem(REFRESH_KEY);
    return false;
  });
}

export async function login(email, password) {
  const { data } = await request("/api/users/login/", { method: "POST", body: { email, password }, auth: false });
  storeSession(data);
}

export async function register(form) {
  return (await request("/api/users/register/", { method: "POST", body: form, auth: false })).data;
}

export async function logout() {
  const refresh = sessionStorage.getItem(REFRESH_KEY);
  try {
    if (refresh && session.access) await request("/api/users/logout/", { method: "POST", body: { refresh } });
  } finally {
    endSession();
  }
}

/** Log out everywhere: every session of this person ends (other devices within a minute), this one
 * now. If the request fails, nothing ends here either, so the person sees that it did not work. */
export async function logoutEverywhere() {
  await request("/api/users/logout/all/", { method: "POST" });
  endSession();
}

export async function profile() {
  return (await request("/api/users/profile/")).data;
}

// The reveal takes the password (while no authenticator app is enrolled) or a step-up grant.
export async function revealAadhaar({ password, grant } = {}) {
  const body = password ? { password } : {};
  const headers = grant ? { "X-Step-Up": grant } : {};
  return (await request("/api/users/profile/aadhaar/", { method: "POST", body, headers })).data;
}

// Step-up: one proof ({password}, {totp} or {recovery_code}) for a grant that serves one sensitive
// operation of this session, for a few minutes. Never stored: it lives in the caller's variable.
export async function stepUp(proof) {
  return (await request("/api/users/step-up/", { method: "POST", body: proof })).data;
}

export async function beginTotp(grant) {
  return (await request("/api/users/totp/", { method: "POST", headers: { "X-Step-Up": grant } })).data;
}

export async function confirmTotp(code) {
  return (await request("/api/users/totp/confirm/", { method: "POST", body: { code } })).data;
}

export async function limits() {
  return (await request("/api/wallet/limits/")).data;
}

// Balance with its ETag: returns null when unchanged since `etag` (a cheap 304).
export async function balance(etag) {
  const response = await request("/api/wallet/balance/", { headers: etag ? { "If-None-Match": etag } : {} });
  if (response.status === 304) return null;
  return { ...response.data, etag: response.headers.get("ETag") };
}

export async function history(cursor, limit = 10) {
  const query = new URLSearchParams({ limit: String(limit) });
  if (cursor) query.set("cursor", cursor);
  return (await request(`/api/wallet/history/?${query}`)).data;
}

const RETRYABLE = new Set([409, 429, 500, 502, 503, 504]);

export function isRetryable(error) {
  return error instanceof NetworkError || (error instanceof ApiError && RETRYABLE.has(error.status));
}

// POSTs a money-moving request under its Idempotency-Key, retrying the same key on network
// failures, 409 (still in flight), 429 and 5xx: the server acts at most once whatever happens.
export async function idempotentPost(path, body, idempotencyKey, { attempts = 4, onRetry = () => {}, headers = {} } = {}) {
  for (let attempt = 1; ; attempt += 1) {
    try {
      const response = await request(path, { method: "POST", body, headers: { ...headers, "Idempotency-Key": idempotencyKey } });
      return { ...response.data, replayed: response.headers.get("Idempotent-Replayed") === "true" };
    } catch (error) {
      if (!isRetryable(error) || attempt >= attempts) throw error;
      onRetry(attempt);
      const wait = (error.retryAfter ?? 0.5 * 2 ** (attempt - 1)) * 1000 * (0.5 + Math.random());
      await new Promise((resolve) => setTimeout(resolve, Math.min(wait, 5000)));
    }
  }
}

// Sends a payment under its Idempotency-Key (see idempotentPost). A step-up grant (`stepUpGrant`)
// goes in X-Step-Up; the transfer that commits spends it.
export async function transfer(payment, idempotencyKey, { attempts = 4, onRetry = () => {}, stepUpGrant = null } = {}) {
  const headers = stepUpGrant ? { "X-Step-Up": stepUpGrant } : {};
  return idempotentPost("/api/wallet/transfer/", payment, idempotencyKey, { attempts, onRetry, headers });
}

// ---------------------------------------------------------------- statements
// A month's statement as CSV: a Blob and the file name the server gives it.
export async function statementCsv(month) {
  const path = `/api/wallet/statements/${encodeURIComponent(month)}/`;
  let response = await send(path, { headers: { Accept: "text/csv" } });
  if (response.status === 401) {
    await refreshSession().catch(() => endSession());
    response = await send(path, { headers: { Accept: "text/csv" } });
  }
  if (!response.ok) {
    const problem = await parse(response).catch(() => ({}));
    if (response.status === 401) endSession();
    throw new ApiError(response.status, problem || {}, response.headers);
  }
  const disposition = response.headers.get("Content-Disposition") || "";
  const named = /filename="([^"]+)"/.exec(disposition);
  return { blob: await response.blob(), filename: named ? named[1] : `vaultpay-statement-${month}.csv` };
}

// ---------------------------------------------------------------- lending
export async function quote({ amount, tenure_months, annual_rate }) {
  const query = new URLSearchParams({ amount, tenure_months: String(tenure_months), annual_rate });
  return (await request(`/api/loans/quote/?${query}`)).data;
}

export function requestLoan(loan, key, options) {
  return idempotentPost("/api/loans/", loan, key, options);
}

export async function openLoans({ order = "newest", cursor = null, limit = 5 } = {}) {
  const query = new URLSearchParams({ order, limit: String(limit) });
  if (cursor) query.set("cursor", cursor);
  return (await request(`/api/loans/open/?${query}`)).data;
}

export async function myLoans(role, { cursor = null, limit = 20 } = {}) {
  const query = new URLSearchParams({ role, limit: String(limit) });
  if (cursor) query.set("cursor", cursor);
  return (await request(`/api/loans/?${query}`)).data;
}

export async function loan(id) {
  return (await request(`/api/loans/${encodeURIComponent(id)}/`)).data;
}

export function commit(loanId, amount, key, options) {
  return idempotentPost(`/api/loans/${encodeURIComponent(loanId)}/commitments/`, { amount }, key, options);
}

export async function cancelLoan(loanId) {
  return (await request(`/api/loans/${encodeURIComponent(loanId)}/cancel/`, { method: "POST" })).data;
}

// The next installment ({}), or everything outstanding ({prepay: true}), once per key.
export function repay(loanId, prepay, key, options) {
  return idempotentPost(`/api/loans/${encodeURIComponent(loanId)}/repayments/`, prepay ? { prepay: true } : {}, key, options);
}
