// What the app's write panels (Train, Proofread) share: JSON requests with the server's error
// text, the edit token and user name kept in the browser, and waiting for Neuroglancer's layers.

/** The edit token (this tab only) and the user name (kept), shared by every panel. */
export const TOKEN_KEY = 'wiring.token';
export const USER_KEY = 'wiring.user';

export const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A JSON request; a failure throws the server's `error` text. */
export async function json<T>(url: string, init?: RequestInit): Promise<T> {
  const r = await fetch(url, init);
  const text = await r.text();
  let body: any;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`${url}: HTTP ${r.status}, not JSON`);
  }
  if (!r.ok) throw new Error(body?.error ?? body?.message ?? `${url}: HTTP ${r.status}`);
  return body as T;
}

/** Headers of a write: the token and the user; a JSON content type only with a body (Fastify refuses an empty JSON body). */
export function writeHeaders(body = true): Record<string, string> {
  const h: Record<string, string> = body ? { 'Content-Type': 'application/json' } : {};
  const t = sessionStorage.getItem(TOKEN_KEY);
  if (t) h.Authorization = `Bearer ${t}`;
  const u = localStorage.getItem(USER_KEY);
  if (u) h['X-Wiring-User'] = u;
  return h;
}

export function postJson<T>(url: string, body: unknown): Promise<T> {
  return json<T>(url, { method: 'POST', headers: writeHeaders(), body: JSON.stringify(body) });
}

/** Keep a panel's token and user fields in the browser's storage (shared by the panels). */
export function bindCredentials(token: HTMLInputElement, user: HTMLInputElement): void {
  token.value = sessionStorage.getItem(TOKEN_KEY) ?? '';
  token.addEventListener('input', () => sessionStorage.setItem(TOKEN_KEY, token.value));
  user.value = localStorage.getItem(USER_KEY) ?? '';
  user.addEventListener('input', () => localStorage.setItem(USER_KEY, user.value));
}

/** Wait until Neuroglancer's layers are ready (or `timeoutMs` passes). */
export async function layersReady(viewer: any, timeoutMs = 15_000): Promise<void> {
  const lm = viewer.layerManager;
  const end = Date.now() + timeoutMs;
  while (!lm.managedLayers.every((l: any) => l.isReady()) && Date.now() < end) await wait(50);
}
