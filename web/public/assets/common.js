// What both pages share: API calls with the server's error messages, who is signed in (the
// browser keeps the session cookie; its CSRF token is kept in this page's memory only), the
// sign-in dialog, the header's account area, and small formatting helpers.
export class ApiError extends Error {
  constructor(status, message, code) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// The server's JSON error {"error": {"code", "message"}} as an ApiError.
export function errorFromBody(status, text) {
  try {
    const body = JSON.parse(text);
    if (body && body.error) return new ApiError(status, body.error.message, body.error.code);
  } catch {
    // not JSON: fall through
  }
  return new ApiError(status, `the server answered ${status}`);
}

// What a page says when a read was refused for want of a session (after a cancelled dialog).
export const SIGN_IN_NEEDED_FOR_READS = 'This server shows its videos to signed-in users only: use the “Sign in” button.';

// --- the session ------------------------------------------------------------------------
// {user: {id, name, role}, csrf_token} while signed in, else null. The token is not kept in
// storage: a page that is loaded asks GET /api/v1/session for it again.
let session = null;
const listeners = new Set();

export const currentUser = () => (session ? session.user : null);
export const hasRole = (...roles) => Boolean(session && roles.includes(session.user.role));
// The header every change (not GET/HEAD) sends: the cookie alone does not authorise one.
export const csrfHeaders = () => (session && session.csrf_token ? { 'X-CSRF-Token': session.csrf_token } : {});

// `listener(user)` runs when someone signs in or out through this page (user null then),
// or their role changed: not for the first loadSession(), which the page waits for.
export function onSessionChange(listener) { listeners.add(listener); }

function setSession(next, notify = true) {
  const before = currentUser();
  session = next;
  renderAccount();
  const after = currentUser();
  const changed = (before && before.id) !== (after && after.id) || (before && before.role) !== (after && after.role);
  if (changed && notify) for (const listener of listeners) listener(after);
}

// Who this browser's cookie belongs to, and the token its changes must send; null when no
// one is signed in here (401), or the server cannot be asked.
let loaded = false;
export async function loadSession() {
  let next = null;
  try {
    const response = await fetch('/api/v1/session', { headers: { Accept: 'application/json' } });
    if (response.ok) next = await response.json();
  } catch {
    // the server did not answer: signed out, as far as this page can tell
  }
  setSession(next && next.user ? next : null, loaded);
  loaded = true;
  return currentUser();
}

const READS = new Set(['GET', 'HEAD']);

// A JSON API call. On a 401 the page asks the person to sign in once and tries again:
// changes always need a user, and reads do too when the server has
// auth.require_key_for_reads set (or the cookie's session ended). Once the dialog was
// cancelled, reads (the page's own polling and searches) no longer ask: they fail with the
// 401 until someone signs in, through the header's button or a change's dialog.
// `signIn: false` never asks (a shared link's page must not ask its visitor for a password).
export async function api(path, options = {}, { signIn = true } = {}) {
  const read = READS.has((options.method || 'GET').toUpperCase());
  let refreshed = false;
  for (let asked = false; ;) {
    const headers = { ...(options.headers || {}), ...(read ? {} : csrfHeaders()) };
    const response = await fetch(path, { ...options, headers });
    const text = await response.text();
    if (response.status === 401) {
      // The cookie no longer opens anything: the header says so. The page's own request
      // goes on below (asking, or failing), so listeners are not told.
      const ended = Boolean(session);
      if (ended) setSession(null, false);
      if (signIn && !asked && !(read && declined)) {
        asked = true;
        const reason = ended ? 'Your session has ended: sign in again.'
          : read ? 'This server shows its videos to signed-in users only.' : 'That needs you to sign in.';
        if (await askToSignIn(reason)) continue;
      }
    }
    // A token from before a sign-in in another tab (the cookie is the new session's now):
    // fetch the current one and try once more.
    if (response.status === 403 && !read && session && !refreshed) {
      refreshed = true;
      const token = session.csrf_token;
      await loadSession();
      if (session && session.csrf_token !== token) continue;
    }
    if (!response.ok) throw errorFromBody(response.status, text);
    return text ? JSON.parse(text) : null;
  }
}

// --- signing in and out -----------------------------------------------------------------
// The sign-in dialog, made once per page. Its form is not method="dialog": it stays open
// until the server took the password, and shows the server's refusal inside it.
function signInDialog() {
  let dialog = document.getElementById('sign-in-dialog');
  if (dialog) return dialog;
  const cancel = el('button', { type: 'button', value: 'cancel', text: 'Cancel' });
  const form = el('form', { id: 'sign-in-form' },
    el('h2', { id: 'sign-in-title', text: 'Sign in' }),
    el('p', { class: 'reason' }),
    el('label', { for: 'sign-in-name', text: 'User name' }),
    el('input', { id: 'sign-in-name', name: 'username', autocomplete: 'username', required: true,
      autocapitalize: 'none', spellcheck: 'false' }),
    el('label', { for: 'sign-in-password', text: 'Password' }),
    el('input', { id: 'sign-in-password', name: 'password', type: 'password', autocomplete: 'current-password',
      required: true }),
    el('p', { class: 'error', role: 'alert' }),
    el('div', { class: 'actions' }, cancel, el('button', { class: 'primary', text: 'Sign in' })));
  dialog = el('dialog', { id: 'sign-in-dialog', 'aria-labelledby': 'sign-in-title' }, form);
  cancel.addEventListener('click', () => dialog.close('cancel'));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const error = form.querySelector('.error');
    const submit = form.querySelector('button.primary');
    submit.disabled = true;
    error.textContent = '';
    try {
      const response = await fetch('/api/v1/session', {
        method: 'POST', headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ username: form.username.value.trim(), password: form.password.value }),
      });
      const text = await response.text();
      if (response.ok) {
        form.password.value = '';
        setSession(JSON.parse(text));
        dialog.close('signed-in');
        return;
      }
      const refusal = errorFromBody(response.status, text);
      const wait = Number(response.headers.get('Retry-After'));  // seconds, after failed sign-ins
      error.textContent = response.status === 429 && wait > 0
        ? `${refusal.message} (wait ${wait < 90 ? `${wait} s` : `${Math.ceil(wait / 60)} min`})` : refusal.message;
    } catch (failure) {
      error.textContent = `The server did not answer: ${failure.message}`;
    } finally {
      submit.disabled = false;
    }
  });
  document.body.append(dialog);
  return dialog;
}

// Asks the person to sign in; resolves true once someone has. Requests refused at the same
// time (the grid's, the uploads list's) share the one dialog that is open.
let asking = null;
let declined = false;  // the last dialog was cancelled: reads do not open it again
export function askToSignIn(reason = '') {
  if (asking) return asking;
  const dialog = signInDialog();
  dialog.querySelector('.reason').textContent = reason;
  dialog.querySelector('.error').textContent = '';
  dialog.returnValue = '';  // Escape keeps the previous close's value
  dialog.showModal();
  asking = new Promise((resolve) => {
    dialog.addEventListener('close', () => {
      asking = null;
      const signedIn = dialog.returnValue === 'signed-in';
      declined = !signedIn;
      resolve(signedIn);
    }, { once: true });
  });
  return asking;
}

// DELETE /api/v1/session: the server forgets the session and clears the cookie. Then the
// sign-in dialog: someone else may want to use this browser.
export async function signOut() {
  try {
    const response = await fetch('/api/v1/session', { method: 'DELETE', headers: csrfHeaders() });
    // 401: the session had ended already. Anything else leaves it signed in.
    if (!response.ok && response.status !== 401) {
      throw errorFromBody(response.status, await response.text());
    }
  } catch (error) {
    setAccountError(`Not signed out: ${error.message}`);
    return;
  }
  setSession(null);
  askToSignIn('Signed out.');
}

// The header's account area: the user's name and role with "Sign out", or "Sign in".
function renderAccount() {
  const account = document.getElementById('account');
  if (!account) return;
  const user = currentUser();
  if (!user) {
    const signIn = el('button', { type: 'button', id: 'sign-in', text: 'Sign in' });
    signIn.addEventListener('click', () => askToSignIn());
    account.replaceChildren(signIn);
    return;
  }
  const signOutButton = el('button', { type: 'button', id: 'sign-out', text: 'Sign out' });
  signOutButton.addEventListener('click', signOut);
  account.replaceChildren(
    el('span', { class: 'who' }, el('span', { id: 'user-name', text: user.name }),
      el('span', { class: 'role', id: 'user-role', text: user.role })),
    signOutButton);
}

function setAccountError(text) {
  const account = document.getElementById('account');
  if (account) account.prepend(el('span', { class: 'error', role: 'alert', text }));
}

export function formatTime(seconds) {
  if (!Number.isFinite(seconds) || seconds < 0) return '0:00';
  const s = Math.floor(seconds % 60).toString().padStart(2, '0');
  const m = Math.floor(seconds / 60) % 60;
  const h = Math.floor(seconds / 3600);
  return h ? `${h}:${m.toString().padStart(2, '0')}:${s}` : `${m}:${s}`;
}

export function formatBytes(bytes) {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (bytes >= 1000 && i < units.length - 1) { bytes /= 1000; ++i; }
  return `${bytes.toFixed(i ? 1 : 0)} ${units[i]}`;
}

// The four visibilities, in the order of who sees a video, with what each means.
export const VISIBILITIES = [
  ['private', 'Private: you and admins'],
  ['unlisted', 'Unlisted: anyone with the link'],
  ['library', 'Library: every signed-in user'],
  ['public', 'Public: anyone, signed in or not'],
];

// Gives a <select> the visibilities as its options, `value` chosen.
export function fillVisibilities(select, value = 'library') {
  select.replaceChildren(...VISIBILITIES.map(([name, label]) => el('option', { value: name, text: label })));
  select.value = value;
}

// document.createElement with attributes and children, so no HTML strings are built.
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value === null || value === undefined) continue;
    if (name === 'class') node.className = value;
    else if (name === 'text') node.textContent = value;
    else node.setAttribute(name, value === true ? '' : value);
  }
  for (const child of children) if (child) node.append(child);
  return node;
}
