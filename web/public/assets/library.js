// The library page: the grid (search, paging, live progress) and uploads through tus.
import { api, askForKey, authHeaders, el, errorFromBody, formatBytes, formatTime, getKey, wireKeyButton } from './common.js';

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

function progressText(video) {
  const job = video.job;
  if (video.state === 'queued') return 'Queued';
  if (!job || !job.progress || video.state !== 'processing') return '';
  const p = job.progress;
  const eta = p.eta_s > 0 ? ` · ${formatTime(p.eta_s)} left` : '';
  return `${p.stage || 'processing'} ${Math.round(p.percent)}%${eta}`;
}

function renderCard(video) {
  const duration = video.media && video.media.duration_s ? formatTime(video.media.duration_s) : '';
  const busy = video.state === 'queued' || video.state === 'processing';
  const percent = busy && video.job && video.job.progress ? video.job.progress.percent : 0;
  const card = el('li', { class: `card ${video.state}`, 'data-id': video.id, 'data-state': video.state },
    el('a', { href: `/watch/${video.id}` },
      poster(video),
      el('h3', { text: video.title }),
      el('p', { class: 'meta' }, el('span', { text: duration }),
        el('span', { class: 'state', text: video.state === 'ready' ? '' : video.state }))),
    busy ? el('div', { class: 'job' },
      el('progress', { max: 100, value: percent, 'aria-label': `Processing ${video.title}` }),
      el('span', { class: 'job-text', text: progressText(video) })) : null);
  const old = cards.get(video.id);
  if (old) old.replaceWith(card);
  cards.set(video.id, card);
  return card;
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
    status.textContent = page.total === 0 ? (q ? `Nothing matches “${q}”.` : 'No videos yet: upload one above.')
      : `${page.total} video${page.total === 1 ? '' : 's'}${q ? ` matching “${q}”` : ''}`;
  } catch (error) {
    if (ticket === latest) status.textContent = `Could not load the library: ${error.message}`;
  }
}

// Videos still being made are polled, every second while there are any. Not ready or
// failed ones: a ready video's thumbnails are stored before it turns ready, so the answer
// that says "ready" was its chance to bring the poster; a failed one stays failed.
async function refreshBusy() {
  const busy = [...cards.values()].filter((card) => ['queued', 'processing'].includes(card.dataset.state));
  for (const card of busy) {
    const id = card.dataset.id;
    try {
      const video = await api(`/api/v1/videos/${id}`);
      if (cards.get(id) === card) renderCard(video);  // else a new search replaced the grid meanwhile
    } catch (error) {
      if (error.status === 404 && cards.get(id) === card) { card.remove(); cards.delete(id); }
    }
  }
  setTimeout(refreshBusy, busy.length ? 1000 : 5000);
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

// --- uploads -------------------------------------------------------------------------
const uploads = document.getElementById('uploads');

function uploadRow(file) {
  const bar = el('progress', { max: 100, value: 0, 'aria-label': `Upload of ${file.name}` });
  const text = el('span', { class: 'upload-text', text: 'Starting…' });
  const cancel = el('button', { type: 'button', class: 'small', text: 'Cancel' });
  const row = el('li', { class: 'upload-item', 'data-name': file.name }, el('strong', { text: file.name }), bar, text, cancel);
  uploads.prepend(row);
  return { row, bar, text, cancel };
}

async function startUpload(file) {
  const ui = uploadRow(file);
  const title = file.name.replace(/\.[^.]+$/, '');
  let last = { at: performance.now(), bytes: 0 }, speed = 0;
  const upload = new tus.Upload(file, {
    endpoint: '/api/v1/uploads',
    chunkSize: 8 * 1024 * 1024,
    retryDelays: [0, 1000, 2000, 3000, 5000, 10000, 10000, 20000, 30000],
    metadata: { filename: file.name, title },
    headers: authHeaders(),
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
      ui.bar.value = 100;
      ui.row.classList.add('done');
      ui.cancel.remove();
      const id = payload && payload.lastResponse && payload.lastResponse.getHeader('Cinevault-Video-Id');
      ui.text.textContent = 'Uploaded 100% · processing';
      if (id && !cards.has(id)) loadPage(true);  // newest first: it is at the top
    },
    onError(error) {
      ui.row.classList.add('failed');
      ui.cancel.remove();
      const response = error.originalResponse;
      const message = response ? errorFromBody(response.getStatus(), response.getBody()).message : error.message;
      ui.text.textContent = `Refused: ${message}`;
      ui.text.setAttribute('role', 'alert');
    },
    // A refusal of the media (415/422) or the key (401) will not change on a retry.
    onShouldRetry(error) {
      const code = error.originalResponse ? error.originalResponse.getStatus() : 0;
      return !(code >= 400 && code < 500 && code !== 409 && code !== 423);
    },
  });
  ui.cancel.addEventListener('click', () => {
    upload.abort(true);
    ui.text.textContent = 'Cancelled';
    ui.cancel.remove();
  });
  const previous = await upload.findPreviousUploads();
  if (previous.length) upload.resumeFromPreviousUpload(previous[0]);
  upload.start();
}

async function startUploads(files) {
  if (!files.length) return;
  if (!getKey() && !(await askForKey('Uploading needs an API key.'))) return;
  for (const file of files) startUpload(file);
  showResumable();
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

// Unfinished uploads from an earlier visit: choosing the same file again resumes it.
async function showResumable() {
  const hint = document.getElementById('resumable');
  try {
    const stored = await tus.defaultOptions.urlStorage.findAllUploads();
    const names = stored.map((u) => u.metadata && u.metadata.filename).filter(Boolean);
    hint.hidden = names.length === 0;
    hint.textContent = names.length ? `Unfinished: ${names.join(', ')}. Choose the same file again to resume.` : '';
  } catch {
    hint.hidden = true;
  }
}

wireKeyButton();
showResumable();
loadPage(true).then(refreshBusy);
