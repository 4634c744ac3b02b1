// The player page: hls.js where Media Source Extensions exist, native HLS otherwise; our own
// controls for the seek-bar previews, quality menu and keyboard; resuming where the user
// left off; for the video's owner and admins, metadata edit, visibility, share and delete.
// Opened from a share link (?share=TOKEN) it plays through the link, without signing in.
import {
  api, csrfHeaders, currentUser, el, fillVisibilities, formatTime, loadSession, onSessionChange,
  SIGN_IN_NEEDED_FOR_READS,
} from './common.js';

const id = decodeURIComponent(location.pathname.split('/')[2] || '');
const shareToken = new URLSearchParams(location.search).get('share');
const video = document.getElementById('video');
const seek = document.getElementById('seek');
const time = document.getElementById('time');
const quality = document.getElementById('quality');
const playButton = document.getElementById('play');
const statusLine = document.getElementById('player-status');
let hls = null;

function setStatus(text) { statusLine.textContent = text; statusLine.hidden = !text; }

// `startAt`: seconds to resume at (0: the start). Playlists and segments need no header:
// the session cookie goes with them, and a share link's manifests name URLs that carry it.
function attach(playback, startAt = 0) {
  const url = playback.hls;
  document.getElementById('hls-url').value = new URL(playback.hls, location.href).href;
  document.getElementById('dash-url').value = new URL(playback.dash, location.href).href;
  if (window.Hls && Hls.isSupported()) {
    hls = new Hls({
      // While the video is transcoded, the smallest rung's first segment is stored first:
      // start there (the quality rises as the other rungs come).
      ...(playback.complete ? {} : { startLevel: 0 }),
      // Before the playlists' EXT-X-START (0), which hls.js would take otherwise.
      ...(startAt > 0 ? { startPosition: startAt } : {}),
    });
    hls.on(Hls.Events.MANIFEST_PARSED, (_event, data) => {
      data.levels.forEach((level, index) => {
        quality.append(el('option', { value: index, text: `${level.height}p` }));
      });
    });
    hls.on(Hls.Events.ERROR, (_event, data) => {
      if (!data.fatal) return;
      const refused = data.response && data.response.code === 403 && shareToken;
      setStatus(refused ? 'This share link has expired or was revoked.' : `Playback failed: ${data.details}`);
    });
    hls.loadSource(url);
    hls.attachMedia(video);
  } else if (video.canPlayType('application/vnd.apple.mpegurl')) {
    video.src = url;  // Safari: its own HLS, its own quality choice
    quality.hidden = true;
    if (startAt > 0) video.addEventListener('loadedmetadata', () => { video.currentTime = startAt; }, { once: true });
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

// --- watch progress, kept per user on the server -------------------------------------------
// Where a signed-in user resumes: the server's position unless the video was (nearly)
// finished, the same 95 % that takes it off "Continue watching".
function resumePosition(v) {
  const position = v.progress && v.progress.position_s;
  const duration = v.media && v.media.duration_s;
  if (!(position > 0)) return 0;
  return duration && position >= duration * 0.95 ? 0 : position;
}

// Saved every 10 s of playing, on pause (the 'ended' of a video pauses it too) and when the
// page goes away; only for a signed-in user on the video's own entry (not a share link's
// visitor). A failure is not worth a word: the next save tries again.
let progressSaving = false;  // true once the video's entry was read with a user signed in
let lastSaved = { at: Date.now(), position: -1 };  // the first timed save after 10 s on the page
function saveProgress() {
  if (!progressSaving || !currentUser()) return;
  const position = Math.round(video.currentTime * 10) / 10;
  if (!Number.isFinite(position) || position === lastSaved.position) return;
  lastSaved = { at: Date.now(), position };
  // keepalive: a request made in 'pagehide' outlives the page.
  fetch(`/api/v1/videos/${id}/progress`, {
    method: 'PUT', keepalive: true, headers: { 'Content-Type': 'application/json', ...csrfHeaders() },
    body: JSON.stringify({ position_s: position }),
  }).catch(() => {});
}
video.addEventListener('timeupdate', () => {
  if (!video.paused && Date.now() - lastSaved.at >= 10000) saveProgress();
});
video.addEventListener('pause', saveProgress);
window.addEventListener('pagehide', saveProgress);

// --- seek-bar previews from the WebVTT trickplay track ---------------------------------
let tiles = [];
async function loadTrickplay(url) {
  const response = await fetch(url);
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

// --- metadata: shown to all, edited by the owner and admins ------------------------------
const form = document.getElementById('edit');
const editStatus = document.getElementById('edit-status');
const manage = document.getElementById('manage');
const manageStatus = document.getElementById('manage-status');
const visibility = document.getElementById('visibility');
let shown = null;  // the video's entry as last read or saved

// The owner's id: the server names the owner as {id, name} (owner_id in older answers).
const ownerOf = (v) => (v.owner && typeof v.owner === 'object' ? v.owner.id : v.owner_id);
const ownerName = (v) => (v.owner && typeof v.owner === 'object' ? v.owner.name : v.owner_name);

// Who may change a video: admins, and the uploader who owns it. The server decides anyway;
// the others are spared controls that could only be refused.
function mayManage(v) {
  const user = currentUser();
  if (!user || !v) return false;
  return user.role === 'admin' || (user.role === 'uploader' && ownerOf(v) === user.id);
}

function showMetadata(v) {
  shown = v;
  document.title = `${v.title} · cinevault`;
  document.getElementById('heading').textContent = v.title;
  const owner = ownerName(v);
  document.getElementById('about').textContent = [owner ? `From ${owner}` : '', v.visibility || ''].filter(Boolean).join(' · ');
  document.getElementById('shown-description').textContent = v.description || '';
  form.title.value = v.title;
  form.description.value = v.description;
  form.tags.value = v.tags.join(', ');
  if (v.visibility) visibility.value = v.visibility;
  const may = mayManage(v);
  form.hidden = !may;
  manage.hidden = !may;
  document.getElementById('delete-actions').hidden = !may;
  document.getElementById('shown-description').hidden = may;  // the form shows it
}

// Signed in or out here: other controls, the progress is someone else's, and a video that
// could not be read may be readable now.
onSessionChange(() => {
  progressSaving = false;
  if (shown) showMetadata(shown);  // the controls follow the user at once, whatever start() finds
  start();
});

fillVisibilities(visibility);
visibility.addEventListener('change', async () => {
  const wanted = visibility.value;
  manageStatus.textContent = 'Saving…';
  try {
    const saved = await api(`/api/v1/videos/${id}`, {
      method: 'PATCH', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ visibility: wanted }),
    });
    showMetadata(saved);
    manageStatus.textContent = `Visible to: ${saved.visibility}`;
  } catch (error) {
    if (shown && shown.visibility) visibility.value = shown.visibility;  // the server kept the old one
    manageStatus.textContent = `Visibility not changed: ${error.message}`;
  }
});

// A signed link that plays without signing in (7 days, the server's default): its HLS URL
// goes to the clipboard, and both links are shown to be read or selected.
document.getElementById('share').addEventListener('click', async () => {
  manageStatus.textContent = 'Making a link…';
  let link;
  try {
    link = await api(`/api/v1/videos/${id}/share`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}',
    });
  } catch (error) {
    manageStatus.textContent = `No link: ${error.message}`;
    return;
  }
  document.getElementById('share-hls').value = link.hls;
  document.getElementById('share-watch').value = link.watch;
  document.getElementById('share-expiry').textContent = `Anyone with these links can watch until ${new Date(link.expires_at).toLocaleString()}.`;
  document.getElementById('share-links').hidden = false;
  try {
    // Only in a secure context (https, or this machine): elsewhere the links are there to copy.
    await navigator.clipboard.writeText(link.hls);
    manageStatus.textContent = 'HLS link copied';
  } catch {
    manageStatus.textContent = 'Copy the link below';
  }
});
for (const field of ['share-hls', 'share-watch', 'hls-url', 'dash-url']) {
  document.getElementById(field).addEventListener('focus', (event) => event.target.select());
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
let attached = false;  // the player has its source: a later start() only refreshes the details
let startTimer;

// A video that plays while it is still transcoded gets its previews only when the job
// ends: look again every few seconds until they are there, or can no longer come.
async function waitForTrickplay() {
  try {
    const v = await api(`/api/v1/videos/${id}`, {}, { signIn: false });
    if (trickplayOf(v)) return loadTrickplay(trickplayOf(v)).catch(() => {});
    if (v.state === 'ready' || v.state === 'failed') return;  // thumbnails are stored before "ready"
  } catch (error) {
    if (error.status === 404) return;
  }
  setTimeout(waitForTrickplay, 5000);
}

// Opened from a share link by someone who may not read the video's entry: the link grants
// the manifests and segments only, so the page knows no title and offers no controls.
function playShared() {
  const token = encodeURIComponent(shareToken);
  const path = `/videos/${encodeURIComponent(id)}`;
  document.title = 'Shared video · cinevault';
  document.getElementById('heading').textContent = 'Shared video';
  document.getElementById('about').textContent = 'Through a share link';
  setStatus('');
  attached = true;
  attach({ hls: `${path}/master.m3u8?share=${token}`, dash: `${path}/manifest.mpd?share=${token}`, complete: true });
  video.play().catch(() => setStatus('Press play or space to start.'));
}

async function start() {
  clearTimeout(startTimer);
  let v;
  try {
    // A share link's visitor is not asked to sign in: the link plays without.
    v = await api(`/api/v1/videos/${id}`, {}, { signIn: !shareToken });
  } catch (error) {
    if (attached) return;
    if (shareToken) return playShared();
    setStatus(error.status === 404 ? 'No such video.'
      : error.status === 401 ? SIGN_IN_NEEDED_FOR_READS
        : `Could not load the video: ${error.message}`);
    return;
  }
  showMetadata(v);
  progressSaving = Boolean(currentUser());
  if (attached) return;
  if (!v.playback) {
    // Not playable yet: the first segments of every rendition are on their way.
    const p = v.job && v.job.progress;
    setStatus(v.state === 'failed' ? 'This video could not be processed.'
      : `Processing${p ? ` (${p.stage} ${Math.round(p.percent)}%)` : ''}… it will play in a moment.`);
    // The first segments come a second or two after an upload: look again soon.
    if (v.state !== 'failed') startTimer = setTimeout(start, 250);
    return;
  }
  setStatus('');
  attached = true;
  attach(v.playback, resumePosition(v));
  if (trickplayOf(v)) loadTrickplay(trickplayOf(v)).catch(() => {});
  else if (v.state !== 'ready' && v.state !== 'failed') setTimeout(waitForTrickplay, 5000);
  video.play().catch(() => setStatus('Press play or space to start.'));
}

loadSession().then(start);
