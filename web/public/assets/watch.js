// The player page: hls.js where Media Source Extensions exist, native HLS otherwise; our own
// controls for the seek-bar previews, quality menu and keyboard; metadata edit and delete.
import { api, authHeaders, el, formatTime, getKey, KEY_NEEDED_FOR_READS, wireKeyButton } from './common.js';

const id = decodeURIComponent(location.pathname.split('/')[2] || '');
const video = document.getElementById('video');
const seek = document.getElementById('seek');
const time = document.getElementById('time');
const quality = document.getElementById('quality');
const playButton = document.getElementById('play');
const statusLine = document.getElementById('player-status');
const positionKey = `cinevault.position.${id}`;
let hls = null;

function setStatus(text) { statusLine.textContent = text; statusLine.hidden = !text; }

function attach(playback) {
  const url = playback.hls;
  document.getElementById('hls-url').value = new URL(playback.hls, location.href).href;
  document.getElementById('dash-url').value = new URL(playback.dash, location.href).href;
  if (window.Hls && Hls.isSupported()) {
    hls = new Hls({
      // While the video is transcoded, the smallest rung's first segment is stored first:
      // start there (the quality rises as the other rungs come).
      ...(playback.complete ? {} : { startLevel: 0 }),
      // For servers with auth.require_key_for_reads: playlists and segments need the key too.
      xhrSetup(xhr, url) {
        if (!getKey()) return;
        xhr.open('GET', url, true);  // a header can only be set on an opened request
        xhr.setRequestHeader('Authorization', `Bearer ${getKey()}`);
      },
    });
    hls.on(Hls.Events.MANIFEST_PARSED, (_event, data) => {
      data.levels.forEach((level, index) => {
        quality.append(el('option', { value: index, text: `${level.height}p` }));
      });
    });
    hls.on(Hls.Events.ERROR, (_event, data) => { if (data.fatal) setStatus(`Playback failed: ${data.details}`); });
    hls.loadSource(url);
    hls.attachMedia(video);
  } else if (video.canPlayType('application/vnd.apple.mpegurl')) {
    video.src = url;  // Safari: its own HLS, its own quality choice
    quality.hidden = true;
  } else {
    setStatus('This browser cannot play HLS; use the links below in another player.');
  }
}

// --- controls -------------------------------------------------------------------------
function updateTime() {
  if (!seeking) seek.value = video.currentTime;
  time.textContent = `${formatTime(video.currentTime)} / ${formatTime(video.duration)}`;
}
let seeking = false;
video.addEventListener('durationchange', () => { seek.max = Number.isFinite(video.duration) ? video.duration : 0; updateTime(); });
video.addEventListener('timeupdate', updateTime);
video.addEventListener('play', () => { playButton.textContent = '❚❚'; playButton.setAttribute('aria-label', 'Pause'); });
video.addEventListener('pause', () => { playButton.textContent = '▶'; playButton.setAttribute('aria-label', 'Play'); });
seek.addEventListener('input', () => { seeking = true; });
seek.addEventListener('change', () => { video.currentTime = Number(seek.value); seeking = false; });
const toggle = () => (video.paused ? video.play().catch(() => {}) : video.pause());
playButton.addEventListener('click', toggle);
video.addEventListener('click', toggle);
const mute = document.getElementById('mute');
const toggleMute = () => { video.muted = !video.muted; mute.textContent = video.muted ? 'Unmute' : 'Mute'; };
mute.addEventListener('click', toggleMute);
const fullscreen = () => (document.fullscreenElement ? document.exitFullscreen()
  : document.getElementById('player').requestFullscreen().catch(() => {}));
document.getElementById('fullscreen').addEventListener('click', fullscreen);
quality.addEventListener('change', () => { if (hls) hls.currentLevel = Number(quality.value); });

document.addEventListener('keydown', (event) => {
  if (event.target.closest('input, textarea, select, dialog') || event.ctrlKey || event.metaKey || event.altKey) return;
  const actions = {
    ' ': toggle,
    ArrowLeft: () => { video.currentTime = Math.max(0, video.currentTime - 5); },
    ArrowRight: () => { video.currentTime = Math.min(video.duration || 0, video.currentTime + 5); },
    ArrowUp: () => { video.volume = Math.min(1, video.volume + 0.1); },
    ArrowDown: () => { video.volume = Math.max(0, video.volume - 0.1); },
    f: fullscreen,
    m: toggleMute,
  };
  const action = actions[event.key];
  if (action) { event.preventDefault(); action(); }
});

// --- resume where this browser left off -------------------------------------------------
video.addEventListener('loadedmetadata', () => {
  const saved = Number(localStorage.getItem(positionKey));
  if (saved > 5 && Number.isFinite(video.duration) && saved < video.duration * 0.95) video.currentTime = saved;
}, { once: true });
let lastSaved = 0;
const savePosition = () => localStorage.setItem(positionKey, String(video.currentTime));
video.addEventListener('timeupdate', () => {
  if (Math.abs(video.currentTime - lastSaved) >= 5) { lastSaved = video.currentTime; savePosition(); }
});
window.addEventListener('pagehide', savePosition);

// --- seek-bar previews from the WebVTT trickplay track ---------------------------------
let tiles = [];
async function loadTrickplay(url) {
  const response = await fetch(url, { headers: authHeaders() });
  if (!response.ok) throw new Error(`trickplay track: ${response.status}`);
  const text = await response.text();
  const cue = /(\d+):(\d\d):(\d\d\.\d+) --> (\d+):(\d\d):(\d\d\.\d+)\s+(\S+)#xywh=(\d+),(\d+),(\d+),(\d+)/g;
  const seconds = (h, m, s) => Number(h) * 3600 + Number(m) * 60 + Number(s);
  tiles = [...text.matchAll(cue)].map((m) => ({
    start: seconds(m[1], m[2], m[3]), end: seconds(m[4], m[5], m[6]), image: m[7],
    x: Number(m[8]), y: Number(m[9]), w: Number(m[10]), h: Number(m[11]),
  }));
}
const preview = document.getElementById('preview');
const previewTile = preview.querySelector('.tile');
seek.addEventListener('mousemove', (event) => {
  const rect = seek.getBoundingClientRect();
  const fraction = Math.min(1, Math.max(0, (event.clientX - rect.left) / rect.width));
  const at = fraction * (video.duration || 0);
  const tile = tiles.find((t) => at >= t.start && at < t.end) || tiles[tiles.length - 1];
  if (!tile) return;
  previewTile.style.width = `${tile.w}px`;
  previewTile.style.height = `${tile.h}px`;
  previewTile.style.backgroundImage = `url("${tile.image}")`;
  previewTile.style.backgroundPosition = `-${tile.x}px -${tile.y}px`;
  preview.querySelector('.preview-time').textContent = formatTime(at);
  preview.style.left = `${Math.min(Math.max(0, event.clientX - rect.left - tile.w / 2), rect.width - tile.w)}px`;
  preview.hidden = false;
});
seek.addEventListener('mouseleave', () => { preview.hidden = true; });

// --- metadata: edit and delete ----------------------------------------------------------
const form = document.getElementById('edit');
const editStatus = document.getElementById('edit-status');
function showMetadata(v) {
  document.title = `${v.title} · cinevault`;
  form.title.value = v.title;
  form.description.value = v.description;
  form.tags.value = v.tags.join(', ');
}
form.addEventListener('submit', async (event) => {
  event.preventDefault();
  const body = JSON.stringify({
    title: form.title.value.trim(), description: form.description.value,
    tags: form.tags.value.split(',').map((t) => t.trim()).filter(Boolean),
  });
  try {
    const saved = await api(`/api/v1/videos/${id}`, {
      method: 'PATCH', headers: { 'Content-Type': 'application/json' }, body,
    });
    showMetadata(saved);
    editStatus.textContent = 'Saved';
  } catch (error) {
    editStatus.textContent = `Not saved: ${error.message}`;
  }
});

const confirmDelete = document.getElementById('confirm-delete');
document.getElementById('delete').addEventListener('click', () => confirmDelete.showModal());
confirmDelete.addEventListener('close', async () => {
  if (confirmDelete.returnValue !== 'delete') return;
  try {
    await api(`/api/v1/videos/${id}`, { method: 'DELETE' });
    location.href = '/';
  } catch (error) {
    editStatus.textContent = `Not deleted: ${error.message}`;
  }
});

// --- start --------------------------------------------------------------------------------
const trickplayOf = (v) => v.thumbnails && v.thumbnails.trickplay;
let loadFailed = false;

// A video that plays while it is still transcoded gets its previews only when the job
// ends: look again every few seconds until they are there, or can no longer come.
async function waitForTrickplay() {
  try {
    const v = await api(`/api/v1/videos/${id}`);
    if (trickplayOf(v)) return loadTrickplay(trickplayOf(v)).catch(() => {});
    if (v.state === 'ready' || v.state === 'failed') return;  // thumbnails are stored before "ready"
  } catch (error) {
    if (error.status === 404) return;
  }
  setTimeout(waitForTrickplay, 5000);
}

async function start() {
  let v;
  try {
    v = await api(`/api/v1/videos/${id}`);
  } catch (error) {
    loadFailed = true;
    setStatus(error.status === 404 ? 'No such video.'
      : error.status === 401 ? KEY_NEEDED_FOR_READS
        : `Could not load the video: ${error.message}`);
    return;
  }
  showMetadata(v);
  if (!v.playback) {
    // Not playable yet: the first segments of every rendition are on their way.
    const p = v.job && v.job.progress;
    setStatus(v.state === 'failed' ? 'This video could not be processed.'
      : `Processing${p ? ` (${p.stage} ${Math.round(p.percent)}%)` : ''}… it will play in a moment.`);
    // The first segments come a second or two after an upload: look again soon.
    if (v.state !== 'failed') setTimeout(start, 250);
    return;
  }
  setStatus('');
  attach(v.playback);
  if (trickplayOf(v)) loadTrickplay(trickplayOf(v)).catch(() => {});
  else if (v.state !== 'ready' && v.state !== 'failed') setTimeout(waitForTrickplay, 5000);
  video.play().catch(() => setStatus('Press play or space to start.'));
}

// A key saved after the video could not be loaded (reads need one on this server): try again.
wireKeyButton(() => { if (loadFailed) { loadFailed = false; start(); } });
start();
