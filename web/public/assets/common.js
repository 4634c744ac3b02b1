// What both pages share: API calls with the server's error messages, the API key kept in
// this browser, and small formatting helpers.
export class ApiError extends Error {
  constructor(status, message, code) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

const KEY_STORAGE = 'cinevault.key';
export const getKey = () => localStorage.getItem(KEY_STORAGE) || '';
export const authHeaders = () => (getKey() ? { Authorization: `Bearer ${getKey()}` } : {});

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

// What a page says when a read was refused for want of a key (after a cancelled dialog).
export const KEY_NEEDED_FOR_READS = 'This server needs an API key to show its videos: enter it with the “API key” button.';

// A JSON API call. On a 401 the page asks for the key once and tries again: writes always
// need one, and reads do too when the server has auth.require_key_for_reads set. Once the
// dialog was cancelled, reads (the page's own polling and searches) no longer ask: they fail
// with the 401 until a key is saved, through the header's "API key" button or a write's dialog.
export async function api(path, options = {}) {
  for (let asked = false; ; asked = true) {
    const response = await fetch(path, { ...options, headers: { ...(options.headers || {}), ...authHeaders() } });
    const text = await response.text();
    if (response.status === 401 && !asked) {
      const read = !options.method || options.method === 'GET';
      if (!(read && declined) &&
          await askForKey(read ? 'This server needs an API key to show its videos.' : 'That needs a valid API key.')) continue;
    }
    if (!response.ok) throw errorFromBody(response.status, text);
    return text ? JSON.parse(text) : null;
  }
}

// The key dialog, made once per page.
function keyDialog() {
  let dialog = document.getElementById('key-dialog');
  if (dialog) return dialog;
  const code = (text) => el('code', { text });
  dialog = el('dialog', { id: 'key-dialog' },
    el('form', { method: 'dialog' },
      el('h2', { text: 'API key' }),
      el('p', { class: 'reason' }),
      el('p', { class: 'hint' }, 'Uploading and editing need a key (on some servers, watching too): ',
        code('cat data/admin.key'),
        ' on the server, or ', code('cinevault keys create NAME'), '. It is kept in this browser only.'),
      el('label', { for: 'key-input', text: 'Key' }),
      el('input', { id: 'key-input', type: 'password', autocomplete: 'off' }),
      el('div', { class: 'actions' }, el('button', { value: 'cancel', text: 'Cancel' }),
        el('button', { value: 'save', class: 'primary', text: 'Save' }))));
  document.body.append(dialog);
  return dialog;
}

// Asks for the API key; resolves true when one was saved. Requests refused at the same
// time (the grid's, the uploads list's) share the one dialog that is open.
let asking = null;
let declined = false;  // the last dialog was cancelled: reads do not open it again
export function askForKey(reason = '') {
  if (asking) return asking;
  const dialog = keyDialog();
  const input = dialog.querySelector('input');
  dialog.querySelector('.reason').textContent = reason;
  input.value = getKey();
  dialog.returnValue = '';  // Escape keeps the previous close's value
  dialog.showModal();
  asking = new Promise((resolve) => {
    dialog.addEventListener('close', () => {
      asking = null;
      const saved = dialog.returnValue === 'save' && input.value.trim() !== '';
      if (saved) localStorage.setItem(KEY_STORAGE, input.value.trim());
      declined = !saved;
      labelKeyButton();
      resolve(saved);
    }, { once: true });
  });
  return asking;
}

function labelKeyButton() {
  const button = document.getElementById('key-button');
  if (button) button.textContent = getKey() ? 'API key ✓' : 'API key';
}

// The header's key button; `onSaved` runs after a key is saved through it.
export function wireKeyButton(onSaved = () => {}) {
  labelKeyButton();
  document.getElementById('key-button').addEventListener('click', async () => { if (await askForKey()) onSaved(); });
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
