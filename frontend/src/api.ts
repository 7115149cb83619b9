// A thin fetch wrapper: bearer token, one refresh on 401, errors as ApiError.

export interface TokenPair {
  access_token: string;
  refresh_token: string;
  expires_in: number;
  /** The account's password is one-time: it must be changed before anything else. */
  password_change_required?: boolean;
}

/** The answer to a password change: this session's new tokens (every other session ended). */
export interface PasswordChanged extends TokenPair {
  detail: string;
  other_sessions_ended: boolean;
}

export class ApiError extends Error {
  readonly status: number;
  readonly body: Record<string, unknown>;

  constructor(status: number, body: Record<string, unknown>) {
    super(typeof body.detail === "string" ? body.detail : `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

const STORE_KEY = "inescape.tokens";
let tokens: TokenPair | null = readTokens();
const listeners = new Set<() => void>();

function readTokens(): TokenPair | null {
  try {
    const raw = window.sessionStorage.getItem(STORE_KEY);
    return raw ? (JSON.parse(raw) as TokenPair) : null;
  } catch {
    return null;
  }
}

export function setTokens(next: TokenPair | null): void {
  tokens = next;
  try {
    if (next) window.sessionStorage.setItem(STORE_KEY, JSON.stringify(next));
    else window.sessionStorage.removeItem(STORE_KEY);
  } catch {
    // storage unavailable: the tokens live in memory only
  }
  listeners.forEach((listener) => listener());
}

export function accessToken(): string | null {
  return tokens?.access_token ?? null;
}

/** Called when the session ends (logout, or a refresh that fails). */
export function onTokensChange(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

async function errorOf(response: Response): Promise<ApiError> {
  let body: Record<string, unknown> = {};
  try {
    body = (await response.json()) as Record<string, unknown>;
  } catch {
    body = { detail: response.statusText };
  }
  return new ApiError(response.status, body);
}

async function refresh(): Promise<boolean> {
  if (!tokens) return false;
  const response = await fetch("/api/v1/auth/refresh", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ refresh_token: tokens.refresh_token }),
  });
  if (!response.ok) {
    setTokens(null);
    return false;
  }
  setTokens((await response.json()) as TokenPair);
  return true;
}

export interface RequestOptions {
  method?: string;
  json?: unknown;
  signal?: AbortSignal;
}

/** The raw response of an authenticated request (for SVG, CSV and file downloads). */
export async function request(path: string, options: RequestOptions = {}): Promise<Response> {
  const send = () => {
    const headers: Record<string, string> = {};
    const token = accessToken();
    if (token) headers.Authorization = `Bearer ${token}`;
    if (options.json !== undefined) headers["Content-Type"] = "application/json";
    return fetch(path, {
      method: options.method ?? "GET",
      headers,
      body: options.json === undefined ? undefined : JSON.stringify(options.json),
      signal: options.signal,
    });
  };
  let response = await send();
  if (response.status === 401 && tokens && path !== "/api/v1/auth/token" && (await refresh())) {
    response = await send();
  }
  if (!response.ok) throw await errorOf(response);
  return response;
}

export async function api<T>(path: string, options: RequestOptions = {}): Promise<T> {
  const response = await request(path, options);
  if (response.status === 204) return undefined as T;
  return (await response.json()) as T;
}

export async function login(username: string, password: string): Promise<TokenPair> {
  const response = await fetch("/api/v1/auth/token", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ username, password }),
  });
  if (!response.ok) throw await errorOf(response);
  const pair = (await response.json()) as TokenPair;
  setTokens(pair);
  return pair;
}

/** Changes the signed-in user's password; this session continues with the answer's tokens. */
export async function changePassword(current: string, next: string): Promise<PasswordChanged> {
  const changed = await api<PasswordChanged>("/api/v1/auth/password", {
    method: "POST",
    json: { current_password: current, new_password: next },
  });
  setTokens({
    access_token: changed.access_token,
    refresh_token: changed.refresh_token,
    expires_in: changed.expires_in,
  });
  return changed;
}

export async function logout(): Promise<void> {
  try {
    if (tokens) await api("/api/v1/auth/logout", { method: "POST" });
  } finally {
    setTokens(null);
  }
}

/** Saves an authenticated download under `filename` (links cannot carry the bearer token). */
export async function download(path: string, filename: string): Promise<void> {
  saveBlob(await (await request(path)).blob(), filename);
}

/** Saves `blob` as a file called `filename` (a download the browser starts). */
export function saveBlob(blob: Blob, filename: string): void {
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = filename;
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export function query(params: Record<string, string | number | null | undefined>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== "") search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}
