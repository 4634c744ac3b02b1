// The library page: "Continue watching", the grid (search, paging, live progress), uploads
// through tus for those who may upload, and the admins' Users dialog (users.js).
import {
  api, askToSignIn, csrfHeaders, currentUser, el, errorFromBody, fillVisibilities, formatBytes, formatTime,
  hasRole, loadSession, onSessionChange, SIGN_IN_NEEDED_FOR_READS,
} from './common.js';
import './users.js';

const PAGE_SIZE = 24;
const grid = document.getElementById('grid');
const more = document.getElementById('more');
const status = document.getElementById('library-status');
const search = document.getElementById('q');
const cards = new Map();  // video id → card element
let cursor = null;
let query = '';
let latest = 0;  // the number of the newest loadPage() call: only its answer is shown

function poster(video) {
  const small = video.thumbnails && video.thumbnails.poster && video.thumbnails.poster[0];
  if (!small) return el('div', { class: 'poster placeholder', text: video.state === 'failed' ? 'Failed' : 'Processing…' });
  return el('picture', { class: 'poster' },
    el('source', { type: 'image/webp', srcset: small.webp }),
    el('img', { src: small.jpeg, alt: '', width: small.width, height: small.height, loading: 'lazy' }));
}

// "queued, #4": its place in the queue (people's uploads go before imported files).
function queuedText(video) {
  const position = video.job && video.job.queue_position;
  return position ? `queued, #${position}` : 'queued';
}

function progressText(video) {
  const job = video.job;
  if (video.state === 'queued') return queuedText(video);
  if (!job || !job.progress || video.state !== 'processing') return '';
  const p = job.progress;
  const eta = p.eta_s > 0 ? ` · ${formatTime(p.eta_s)} left` : '';
  return `${p.stage || 'processing'} ${Math.round(p.percent)}%${eta}`;
}

// Who may see the video, on its card: a private or unlisted one should not surprise its owner.
function visibilityBadge(video) {
  if (!video.visibility) return null;
  return el('span', { class: `badge ${video.visibility}`, title: `Visibility: ${video.visibility}`, text: video.visibility });
}

function renderCard(video) {
  const duration = video.media && video.media.duration_s ? formatTime(video.media.duration_s) : '';
  const busy = video.state === 'queued' || video.state === 'processing';
  const percent = busy && video.job && video.job.progress ? video.job.progress.percent : 0;
  const card = el('li', { class: `card ${video.state}`, 'data-id': video.id, 'data-state': video.state,
    'data-visibility': video.visibility },
    el('a', { href: `/watch/${video.id}` },
      poster(video),
      el('h3', { text: video.title }),
      el('p', { class: 'meta' }, el('span', { text: duration }),
        el('span', { class: 'state', text: video.state === 'ready' ? '' : video.state }),
        visibilityBadge(video))),
    busy ? el('div', { class: 'job' },
      el('progress', { max: 100, value: percent, 'aria-label': `Processing ${video.title}` }),
      el('span', { class: 'job-text', text: progressText(video) })) : null);
  const old = cards.get(video.id);
  if (old) old.replaceWith(card);
  cards.set(video.id, card);
  followUpload(video);
  return card;
}

// What an empty library says depends on who looks: someone signed out sees public videos only.
function emptyLibrary() {
  if (!currentUser()) return 'No public videos: sign in to see the library.';
  return hasRole('admin', 'uploader') ? 'No videos yet: upload one above.' : 'No videos yet.';
}

// The first page for the current query (reset) or the next one. Answers can arrive out of
// order (a slow "a" after a quick "ab", a "More" after a new search): only the answer to
// the newest call is shown.
async function loadPage(reset) {
  const ticket = ++latest;
  const q = query;
  const params = new URLSearchParams({ limit: PAGE_SIZE });
  if (q) params.set('q', q);
  if (!reset && cursor) params.set('cursor', cursor);
  if (reset) more.hidden = true;  // its cursor belongs to the previous query
  try {
    const page = await api(`/api/v1/videos?${params}`);
    if (ticket !== latest) return;
    if (reset) {
      cards.clear();
      grid.replaceChildren();
    }
    for (const video of page.videos) grid.append(renderCard(video));
    cursor = page.next_cursor;
    more.hidden = !cursor;
    status.textContent = page.total === 0 ? (q ? `Nothing matches “${q}”.` : emptyLibrary())
      : `${page.total} video${page.total === 1 ? '' : 's'}${q ? ` matching “${q}”` : ''}`;
  } catch (error) {
    if (ticket !== latest) return;
    status.textContent = error.status === 401
      ? SIGN_IN_NEEDED_FOR_READS
      : `Could not load the library: ${error.message}`;
  }
}

// Videos still being made are polled, every second while there are any: those with a
// card, and those of this page's uploads (whose card a search may hide). Not ready or
// failed ones: a ready video's thumbnails are stored before it turns ready, so the answer
// that says "ready" was its chance to bring the poster; a failed one stays failed.
async function refreshBusy() {
  const busy = [...cards.values()].filter((card) => ['queued', 'processing'].includes(card.dataset.state));
  const ids = new Set([...busy.map((card) => card.dataset.id), ...following.keys()]);
  for (const id of ids) {
    const card = cards.get(id);
    try {
      const video = await api(`/api/v1/videos/${id}`);
      followUpload(video);
      if (card && cards.get(id) === card) renderCard(video);  // else a new search replaced the grid meanwhile
    } catch (error) {
      if (error.status !== 404) continue;
      if (card && cards.get(id) === card) { card.remove(); cards.delete(id); }
      followUpload({ id, state: 'deleted' });
    }
  }
  setTimeout(refreshBusy, ids.size ? 1000 : 5000);
}

// --- imports (admins) -------------------------------------------------------------------
// One line while imported files wait for their transcodes: how many are ready, about how
// long the rest takes, and when outside library.hours, the hours they wait for.
const importStatus = document.getElementById('import-status');
let importTimer;
let importTicket = 0;  // as with loadPage: only the newest answer is shown and polls again

// "3 h 10 min", "25 min", "under a minute": an estimate, not a clock.
function roughDuration(seconds) {
  const minutes = Math.round(seconds / 60);
  if (minutes < 1) return 'under a minute';
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  return h ? `${h} h${m ? ` ${m} min` : ''}` : `${m} min`;
}

// "01-07" → "01:00–07:00".
const hoursText = (hours) => hours.split('-').map((hour) => `${hour}:00`).join('–');

async function refreshImports() {
  const ticket = ++importTicket;
  clearTimeout(importTimer);
  let line = '';
  if (hasRole('admin')) {
    try {
      const status = await api('/api/v1/library/status', {}, { signIn: false });
      const { queued, running, done, failed } = status.imports;
      if (queued + running > 0) {
        line = `Importing your library: ${done} of ${queued + running + done + failed} ready`;
        if (status.paused_until && status.hours) line += `, waiting for ${hoursText(status.hours)}`;
        else if (status.eta_s != null) line += `, about ${roughDuration(status.eta_s)} left`;
      }
    } catch {
      line = '';  // the library's own line says what is wrong with the server
    }
  }
  if (ticket !== importTicket) return;
  importStatus.textContent = line;
  importStatus.hidden = !line;
  importTimer = setTimeout(refreshImports, line ? 5000 : 30000);
}

let searchTimer;
search.addEventListener('input', () => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(() => { query = search.value.trim(); loadPage(true); }, 250);
});
document.getElementById('search').addEventListener('submit', (event) => {
  event.preventDefault();
  clearTimeout(searchTimer);
  query = search.value.trim();
  loadPage(true);
});
more.addEventListener('click', () => loadPage(false));

// --- continue watching ---------------------------------------------------------------
// The signed-in user's started, unfinished videos, most recent first, each with a bar of
// how far they got. Hidden when there are none, and when no one is signed in.
const continueSection = document.getElementById('continue');
const continueList = document.getElementById('continue-list');
let continueTicket = 0;  // as with loadPage: only the newest answer is shown

function continueCard(video) {
  const position = video.progress ? video.progress.position_s : 0;
  const duration = video.media && video.media.duration_s;
  return el('li', { class: 'card', 'data-id': video.id },
    el('a', { href: `/watch/${video.id}` },
      poster(video),
      el('h3', { text: video.title }),
      duration ? el('progress', { class: 'watched', max: duration, value: Math.min(position, duration),
        'aria-label': `Watched ${formatTime(position)} of ${formatTime(duration)}` }) : null,
      el('p', { class: 'meta' }, el('span', { class: 'position',
        text: `${formatTime(position)}${duration ? ` of ${formatTime(duration)}` : ''}` }))));
}

async function loadContinue() {
  const ticket = ++continueTicket;
  let videos = [];
  if (currentUser()) {
    try {
      // Not worth a sign-in dialog of its own: the grid's request asks when one is needed.
      ({ videos } = await api('/api/v1/progress?limit=12', {}, { signIn: false }));
    } catch {
      videos = [];
    }
  }
  if (ticket !== continueTicket) return;
  continueList.replaceChildren(...videos.map(continueCard));
  continueSection.hidden = videos.length === 0;
}

// --- uploads -------------------------------------------------------------------------
const uploads = document.getElementById('uploads');
const uploadVisibility = document.getElementById('upload-visibility');
fillVisibilities(uploadVisibility);
const urlStorage = tus.defaultOptions.urlStorage;  // where tus keeps the URLs of unfinished uploads
const running = new Set();  // this page's tus uploads until they end: not "unfinished"

// Upload rows whose video is still being made, by video id: they follow its state as its
// card does, until it is ready or failed.
const following = new Map();  // video id → { row, text } of uploadRow()

function followUpload(video) {
  const ui = following.get(video.id);
  if (!ui) return;
  if (video.state === 'queued' || video.state === 'processing') {
    ui.text.textContent = `Uploaded · ${video.state === 'queued' ? queuedText(video) : progressText(video) || 'processing'}`;
    return;
  }
  following.delete(video.id);
  if (video.state === 'ready') {
    ui.text.replaceChildren('Ready · ', el('a', { href: `/watch/${video.id}`, text: 'Watch' }));
    return;
  }
  ui.row.classList.replace('done', 'failed');
  const reason = video.job && video.job.error && video.job.error.message;
  ui.text.textContent = video.state === 'deleted' ? 'Deleted' : `Processing failed${reason ? `: ${reason}` : ''}`;
}

// A 4xx other than 409/423 (conflict, locked) is the server's final word: the media (415,
// 422), the key (401), the size (413) will not change on a retry.
const refusedForGood = (status) => status >= 400 && status < 500 && status !== 409 && status !== 423;

function uploadRow(file) {
  const bar = el('progress', { max: 100, value: 0, 'aria-label': `Upload of ${file.name}` });
  const text = el('span', { class: 'upload-text', text: 'Starting…' });
  const cancel = el('button', { type: 'button', class: 'small', text: 'Cancel' });
  const row = el('li', { class: 'upload-item', 'data-name': file.name }, el('strong', { text: file.name }), bar, text, cancel);
  uploads.prepend(row);
  return { row, bar, text, cancel };
}

// tus keeps an upload's URL until the upload succeeds; a refused one can never be resumed.
async function forgetStored(upload) {
  if (!upload.url) return;  // refused before it was created: nothing was kept
  for (const previous of await upload.findPreviousUploads()) {
    if (previous.uploadUrl === upload.url) await urlStorage.removeUpload(previous.urlStorageKey);
  }
}

async function startUpload(file) {
  const ui = uploadRow(file);
  let last = { at: performance.now(), bytes: 0 }, speed = 0;
  const upload = new tus.Upload(file, {
    endpoint: '/api/v1/uploads',
    chunkSize: 8 * 1024 * 1024,
    retryDelays: [0, 1000, 2000, 3000, 5000, 10000, 10000, 20000, 30000],
    // No title: the server makes one from the file's name ("Holiday.2019.1080p.mkv" → "Holiday (2019)").
    metadata: { filename: file.name, visibility: uploadVisibility.value },
    // The session cookie goes by itself; a change needs the session's token as well.
    headers: csrfHeaders(),
    storeFingerprintForResuming: true,
    removeFingerprintOnSuccess: true,
    onProgress(sent, total) {
      const now = performance.now();
      if (now - last.at > 500) {
        speed = (sent - last.bytes) / ((now - last.at) / 1000);
        last = { at: now, bytes: sent };
      }
      const percent = total ? (sent / total) * 100 : 0;
      ui.bar.value = percent;
      const left = speed > 0 ? ` · ${formatTime((total - sent) / speed)} left` : '';
      ui.text.textContent = `${Math.floor(percent)}% · ${formatBytes(sent)} of ${formatBytes(total)}` +
        (speed > 0 ? ` · ${formatBytes(speed)}/s` : '') + left;
    },
    onSuccess(payload) {
      running.delete(upload);
      ui.bar.value = 100;
      ui.row.classList.add('done');
      ui.cancel.remove();
      const id = payload && payload.lastResponse && payload.lastResponse.getHeader('Cinevault-Video-Id');
      ui.text.textContent = 'Uploaded 100% · processing';
      if (!id) return;
      following.set(id, ui);  // its state comes with the grid's answers, or refreshBusy's
      if (!cards.has(id)) loadPage(true);  // newest first: it is at the top
    },
    async onError(error) {
      running.delete(upload);
      ui.row.classList.add('failed');
      ui.cancel.remove();
      const response = error.originalResponse;
      const message = response ? errorFromBody(response.getStatus(), response.getBody()).message : error.message;
      ui.text.textContent = `Refused: ${message}`;
      ui.text.setAttribute('role', 'alert');
      if (response && refusedForGood(response.getStatus())) await forgetStored(upload).catch(() => {});
      showResumable();  // one that gave up on a network error can still be resumed
    },
    onShouldRetry(error) {
      return !refusedForGood(error.originalResponse ? error.originalResponse.getStatus() : 0);
    },
  });
  ui.cancel.addEventListener('click', () => {
    running.delete(upload);
    upload.abort(true);  // terminates it on the server and forgets its URL
    ui.text.textContent = 'Cancelled';
    ui.cancel.remove();
  });
  const previous = await upload.findPreviousUploads();
  if (previous.length) upload.resumeFromPreviousUpload(previous[0]);
  running.add(upload);
  upload.start();
}

async function startUploads(files) {
  if (!files.length) return;
  if (!currentUser() && !(await askToSignIn('Uploading needs you to sign in.'))) return;
  if (!hasRole('admin', 'uploader')) return;  // a viewer who signed in: the form hides itself
  await Promise.all(files.map(startUpload));
  showResumable();  // a resumed one is running now
}

const input = document.getElementById('file-input');
input.addEventListener('change', () => { startUploads([...input.files]); input.value = ''; });
const drop = document.getElementById('drop');
drop.addEventListener('dragover', (event) => { event.preventDefault(); drop.classList.add('over'); });
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (event) => {
  event.preventDefault();
  drop.classList.remove('over');
  startUploads([...event.dataTransfer.files]);
});

// --- unfinished uploads from earlier visits ---------------------------------------------
// Each with what the server still has of it; choosing the same file again resumes it.
const resumable = document.getElementById('resumable');
const resumableList = document.getElementById('resumable-list');
let listing = 0;  // as with loadPage: only the newest listing is shown

// tus requests by hand: the protocol version header is required on every one of them, and
// a DELETE is a change, which needs the session's token.
const tusRequest = (method, url) => fetch(url, {
  method, headers: { 'Tus-Resumable': '1.0.0', ...(method === 'HEAD' ? {} : csrfHeaders()) },
});

function resumableRow(stored) {
  const name = (stored.metadata && stored.metadata.filename) || 'Unnamed file';
  const bar = el('progress', { max: 100, value: 0, 'aria-label': `Sent of ${name}`, hidden: true });
  const text = el('span', { class: 'upload-text', text: 'Asking the server…' });
  const discard = el('button', { type: 'button', class: 'small', text: 'Discard' });
  const row = el('li', { class: 'upload-item', 'data-name': name }, el('strong', { text: name }), bar, text, discard);
  const forget = async () => {
    await urlStorage.removeUpload(stored.urlStorageKey);
    row.remove();
    resumable.hidden = resumableList.children.length === 0;
  };

  tusRequest('HEAD', stored.uploadUrl).then((response) => {
    if (response.status === 404 || response.status === 410) return forget();  // expired or removed
    const offset = Number(response.headers.get('Upload-Offset') ?? NaN);
    const length = Number(response.headers.get('Upload-Length') ?? NaN);
    if (!response.ok || !Number.isFinite(offset) || !(length > 0)) {
      text.textContent = `The server did not say how much it has (${response.status}).`;
    } else if (offset >= length) {
      return forget();  // complete: its video exists
    } else {
      bar.value = (offset / length) * 100;
      bar.hidden = false;
      text.textContent = `${formatBytes(offset)} of ${formatBytes(length)} sent`;
    }
  }).catch(() => { text.textContent = 'The server did not answer.'; });

  discard.addEventListener('click', async () => {
    discard.disabled = true;
    try {
      let response = await tusRequest('DELETE', stored.uploadUrl);
      if (response.status === 401 && await askToSignIn('Discarding an upload needs you to sign in.')) {
        response = await tusRequest('DELETE', stored.uploadUrl);
      }
      if ([204, 404, 410].includes(response.status)) return await forget();
      text.textContent = `Not discarded: ${errorFromBody(response.status, await response.text()).message}`;
    } catch (error) {
      text.textContent = `Not discarded: ${error.message}`;
    }
    discard.disabled = false;
  });
  return row;
}

async function showResumable() {
  const ticket = ++listing;
  // Uploads are their uploader's: asked about by someone else, they would look gone and be
  // forgotten here.
  const stored = hasRole('admin', 'uploader') ? await urlStorage.findAllUploads().catch(() => []) : [];
  if (ticket !== listing) return;
  const active = new Set([...running].map((upload) => upload.url));
  const rows = stored.filter((s) => s.uploadUrl && !active.has(s.uploadUrl)).map(resumableRow);
  resumableList.replaceChildren(...rows);
  resumable.hidden = rows.length === 0;
}

// --- who is signed in -------------------------------------------------------------------
// Uploading is for admins and uploaders, the Users dialog for admins; the server refuses
// the others anyway, so this only spares them controls that cannot work.
function showForRole() {
  document.getElementById('upload').hidden = !hasRole('admin', 'uploader');
  document.getElementById('users-button').hidden = !hasRole('admin');
}

// Someone signed in or out: what they may see and do changed.
onSessionChange(() => {
  showForRole();
  showResumable();
  loadContinue();
  refreshImports();
  loadPage(true);
});

loadSession().then(() => {
  showForRole();
  showResumable();
  loadContinue();
  refreshImports();
  return loadPage(true);
}).then(refreshBusy);
