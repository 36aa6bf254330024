// The service's REST API as the page uses it: the access token lives in memory only and is renewed with the
// refresh flow; the refresh token is kept for this tab (sessionStorage) so a reload keeps the sign-in.
const REFRESH_KEY = 'nanobanana.refreshToken';

/** An answer that was not 2xx, with the service's problem details told in words. */
export class ApiError extends Error {
  constructor(status, problem) {
    super(describe(status, problem));
    this.status = status;
    this.code = problem?.code;
    this.fields = problem?.errors ?? {};
  }
}

function describe(status, problem) {
  if (problem?.errors && Object.keys(problem.errors).length) {
    return Object.values(problem.errors).flat().join(' ');
  }
  if (problem?.message || problem?.detail) return problem.message ?? problem.detail;
  if (status === 0) return 'The service could not be reached. Check your connection and try again.';
  return `The service answered ${status}${problem?.title ? `: ${problem.title}` : ''}.`;
}

let token = null;
let refreshTimer = 0;
let refreshing = null;
const tokenListeners = new Set();
let signedOutListener = () => {};

export const auth = {
  get token() { return token; },
  get hasRefreshToken() { return !!sessionStorage.getItem(REFRESH_KEY); },
  onToken(listener) { tokenListeners.add(listener); },
  onSignedOut(listener) { signedOutListener = listener; },

  async register(email, username, password) {
    return accept(await send('POST', '/api/auth/register', { email, username, password }, { anonymous: true }));
  },
  async login(email, password) {
    return accept(await send('POST', '/api/auth/login', { email, password }, { anonymous: true }));
  },
  /** Renews the access token with the kept refresh token; one renewal at a time. */
  refresh() {
    refreshing ??= (async () => {
      const refreshToken = sessionStorage.getItem(REFRESH_KEY);
      if (!refreshToken) throw new ApiError(401, { message: 'Please sign in.' });
      try {
        return accept(await send('POST', '/api/auth/refresh', { refreshToken }, { anonymous: true }));
      } catch (e) {
        if (e.status === 401 || e.status === 403) forget();
        throw e;
      }
    })().finally(() => { refreshing = null; });
    return refreshing;
  },
  async logout() {
    const refreshToken = sessionStorage.getItem(REFRESH_KEY);
    try {
      if (token) await send('POST', '/api/auth/logout', refreshToken ? { refreshToken } : {});
    } finally {
      forget();
    }
  },
};

function accept(body) {
  token = body.token;
  if (body.refreshToken) sessionStorage.setItem(REFRESH_KEY, body.refreshToken);
  clearTimeout(refreshTimer);
  // Renew a minute before the access token ends (at least 5 s from now).
  const wait = Math.max(5_000, new Date(body.expiresAt).getTime() - Date.now() - 60_000);
  refreshTimer = setTimeout(() => auth.refresh().catch(() => {}), wait);
  for (const listener of tokenListeners) listener(token);
  return body;
}

function forget() {
  const wasSignedIn = token !== null;
  token = null;
  clearTimeout(refreshTimer);
  sessionStorage.removeItem(REFRESH_KEY);
  if (wasSignedIn) signedOutListener();
}

async function send(method, path, body, { anonymous = false, retried = false } = {}) {
  const headers = {};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (!anonymous && token) headers.Authorization = `Bearer ${token}`;
  let response;
  try {
    response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw new ApiError(0, null);
  }
  if (response.status === 401 && !anonymous && !retried && auth.hasRefreshToken) {
    await auth.refresh();
    return send(method, path, body, { anonymous, retried: true });
  }
  const text = await response.text();
  let parsed = null;
  try { parsed = text ? JSON.parse(text) : null; } catch { /* not JSON: described by status */ }
  if (!response.ok) {
    if (response.status === 401 && !anonymous) forget();
    throw new ApiError(response.status, parsed);
  }
  return parsed;
}

export const api = {
  get: (path) => send('GET', path),
  post: (path, body = {}) => send('POST', path, body),
  put: (path, body) => send('PUT', path, body),
  del: (path) => send('DELETE', path),
};

/** Uploads one picture with progress (fetch cannot report upload progress; XMLHttpRequest can). */
export function upload(file, sessionId, onProgress, retried = false) {
  return new Promise((resolve, reject) => {
    const form = new FormData();
    form.append('image', file);
    form.append('sessionId', sessionId);
    form.append('type', 'uploaded');
    const xhr = new XMLHttpRequest();
    xhr.open('POST', '/api/images/upload');
    xhr.setRequestHeader('Authorization', `Bearer ${token}`);
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) onProgress(e.loaded / e.total); };
    xhr.onerror = () => reject(new ApiError(0, null));
    xhr.onload = () => {
      let parsed = null;
      try { parsed = JSON.parse(xhr.responseText); } catch { /* described by status */ }
      if (xhr.status === 401 && !retried && auth.hasRefreshToken) {
        auth.refresh().then(() => upload(file, sessionId, onProgress, true)).then(resolve, reject);
      } else if (xhr.status >= 200 && xhr.status < 300) {
        resolve(parsed.image);
      } else {
        reject(new ApiError(xhr.status, parsed));
      }
    };
    xhr.send(form);
  });
}
