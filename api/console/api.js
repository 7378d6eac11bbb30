// The REST API, as the console calls it: same origin, the session cookie
// (HttpOnly, set by login) and, on every write, the CSRF cookie's value in
// X-CSRF-Token. Errors are the API's problem+json documents.

const CSRF_COOKIE = 'cairn_csrf';

/** The value of a cookie this script may read (the CSRF token). */
function readCookie(name) {
  for (const pair of document.cookie.split(';')) {
    const [key, ...rest] = pair.trim().split('=');
    if (key === name) return rest.join('=');
  }
  return '';
}

/** Whether a session is likely: login set the CSRF cookie beside it. */
export function hasSession() {
  return readCookie(CSRF_COOKIE) !== '';
}

/** An API refusal: status, detail, and the field to blame when there is one. */
export class Problem extends Error {
  constructor(status, body) {
    super(body.detail || body.title || `HTTP ${status}`);
    this.status = status;
    this.title = body.title || '';
    this.field = body.field || null;
    this.requestId = body.request_id || null;
  }
}

/** Calls the API; resolves to the parsed JSON (or null), rejects with a Problem. */
export async function request(method, path, body) {
  const headers = { Accept: 'application/json' };
  const init = { method, headers, credentials: 'same-origin' };
  if (method !== 'GET' && method !== 'HEAD') {
    headers['X-CSRF-Token'] = readCookie(CSRF_COOKIE);
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    throw new Problem(0, { detail: `the server could not be reached (${error.message})` });
  }
  const text = await response.text();
  let parsed = null;
  if (text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = { detail: text.slice(0, 200) };
    }
  }
  if (!response.ok) {
    if (response.status === 401 && !path.endsWith('/auth/login')) {
      window.dispatchEvent(new CustomEvent('cairn:unauthorized'));
    }
    // A temporary password (an admin's reset) must be changed first.
    if (response.status === 403 && String(parsed?.detail || '').startsWith('password change required')) {
      window.dispatchEvent(new CustomEvent('cairn:password-change-required'));
    }
    throw new Problem(response.status, parsed || {});
  }
  return parsed;
}

export const get = (path) => request('GET', path);
export const post = (path, body) => request('POST', path, body === undefined ? {} : body);
export const put = (path, body) => request('PUT', path, body);
export const patch = (path, body) => request('PATCH', path, body);
export const del = (path) => request('DELETE', path);

/** Every item of a paginated list (`{items, next}`), following `after`, up to `cap`. */
export async function all(path, cap = 2000) {
  const items = [];
  let after = null;
  const join = path.includes('?') ? '&' : '?';
  for (let pages = 0; pages < 50 && items.length < cap; pages += 1) {
    const page = await get(`${path}${join}limit=500${after ? `&after=${encodeURIComponent(after)}` : ''}`);
    items.push(...page.items);
    if (!page.next) break;
    after = page.next;
  }
  return items;
}

/** A query string from an object, skipping empty values. */
export function query(params) {
  const parts = Object.entries(params)
    .filter(([, value]) => value !== undefined && value !== null && value !== '')
    .map(([key, value]) => `${encodeURIComponent(key)}=${encodeURIComponent(value)}`);
  return parts.length ? `?${parts.join('&')}` : '';
}
