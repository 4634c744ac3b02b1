// End-to-end: real players (hls.js, dash.js and Shaka, which plays both HLS and DASH, in
// headless Debian Chromium, driven by playwright-core) play what a real cinevault daemon
// publishes. The kinds: hls (hls.js), dash (dash.js), shaka-hls and shaka-dash.
//
// Cases (the clips of a and c pass their video through as the top rung, b's is encoded:
// docs/transcoding.md, "Passthrough"):
//   a. progressive: a 40 s clip is uploaded (x264 ultrafast); as soon as master.m3u8
//      answers 200 — while the job is still running (checked via /api/v1/jobs) — every
//      kind starts playing (hls.js on the smallest rung, as the web page does; Shaka's HLS
//      player with its ABR off, see progressive()), then play on (at 4x) across the switch
//      to VOD up to 'ended' at 40 s, with no fatal error;
//   b. complete: a 12 s clip, once its job is done, plays in every kind:
//      currentTime passes 2 s, a seek to 8 s lands within 1 s after 'seeked' and playback
//      still advances, no fatal player error;
//   c. shared: a private 10 s clip plays the same way in every kind through a share link
//      (only the manifest URL given, no header, no cookie); without the link its manifests
//      are 404, and with the link's signature altered 403;
//   d. HDR: a 12 s 10-bit HEVC HDR10 clip (BT.2020, PQ) is tone-mapped to SDR H.264 (the
//      job's log says so) and plays and seeks in hls.js like b.
// The page (player.html) and the player scripts come from a small HTTP server on another
// loopback port, so every manifest/segment request is cross-origin (this checks CORS).
//
// Env: CINEVAULT_BINARY (the daemon), CINEVAULT_TEST_TMP (scratch directory),
//      CHROMIUM (default /usr/bin/chromium).
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { check, Daemon, run, sleep, TestFailure } from './daemon.mjs';

let CHROMIUM, launchChromium;
try {
  ({ CHROMIUM, launchChromium } = await import('./chromium.mjs'));
} catch (error) {
  console.error(`FAIL: cannot load playwright-core (run 'npm ci' in tests/e2e): ${error.message}`);
  process.exit(2);
}

const HERE = path.dirname(fileURLToPath(import.meta.url));
const BINARY = process.env.CINEVAULT_BINARY;
const TMP_ROOT = process.env.CINEVAULT_TEST_TMP || os.tmpdir();

if (!BINARY) {
  console.error('FAIL: set CINEVAULT_BINARY to the cinevault binary');
  process.exit(2);
}
if (!fs.existsSync(CHROMIUM)) {
  console.error(`FAIL: no Chromium at ${CHROMIUM} (apt-get install chromium)`);
  process.exit(2);
}

const KINDS = ['hls', 'dash', 'shaka-hls', 'shaka-dash'];
const t0 = Date.now();
const log = (text) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1)}s] ${text}`);

// 640x360 25 fps testsrc2 + stereo sine, H.264 + AAC. With an IDR frame every 2 s (a phone's
// habit) its video passes through as the top rung; with one every 10 s it is encoded.
function makeClip(file, seconds, gopFrames = 50) {
  return run('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=25',
    '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000', '-t', String(seconds),
    '-ac', '2', '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-g', String(gopFrames),
    '-c:a', 'aac', '-b:a', '128k', file]).then(() => file);
}

// The same pictures as HDR10 as a camera records it: 10-bit HEVC, BT.2020 primaries, PQ.
function makeHdrClip(file, seconds) {
  return run('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=25',
    '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000', '-t', String(seconds),
    '-vf', 'zscale=tin=bt709:min=bt709:pin=bt709:rin=tv:t=smpte2084:m=bt2020nc:p=bt2020:npl=203,format=yuv420p10le',
    '-c:v', 'libx265', '-preset', 'ultrafast',
    '-x265-params', 'log-level=error:colorprim=bt2020:transfer=smpte2084:colormatrix=bt2020nc:max-cll=1000,400',
    '-color_primaries', 'bt2020', '-color_trc', 'smpte2084', '-colorspace', 'bt2020nc',
    '-ac', '2', '-c:a', 'aac', '-b:a', '128k', file]).then(() => file);
}

// Whether the daemon's log says the job of this video passed the source's video through.
function checkPath(daemon, id, passthrough) {
  const said = new RegExp(`\\(video ${id}\\): the top rung is the source's own video`).test(daemon.log);
  check(said === passthrough, `video ${id}: expected ${passthrough ? '' : 'no '}passthrough; log tail:\n${daemon.log.slice(-3000)}`);
}

// The shared test daemon, with what these cases need: an upload, its job, its completion.
class PlaybackDaemon extends Daemon {
  constructor(dataDir) {
    super(BINARY, dataDir, ['--log-level', 'info', '--pipeline.x264_preset', 'ultrafast']);
  }

  async jobFor(videoId) {
    const { jobs } = await this.getJson('/api/v1/jobs');
    return jobs.find((job) => job.video_id === videoId) || null;
  }

  async waitDone(videoId, timeoutMs) {
    const deadline = Date.now() + timeoutMs;
    let video;
    while (Date.now() < deadline) {
      video = await this.getJson(`/api/v1/videos/${videoId}`);
      if (video.job && (video.job.state === 'dead' || video.job.state === 'cancelled'))
        throw new TestFailure(`job for ${videoId} ended ${video.job.state}: ${JSON.stringify(video.job)}`);
      if (video.playback && video.playback.complete && video.job && video.job.state === 'done') return video;
      await sleep(250);
    }
    throw new TestFailure(`video ${videoId} not complete within ${timeoutMs} ms: ${JSON.stringify(video)}`);
  }
}

// The page and the player scripts, from another origin than the daemon.
function startPageServer() {
  const files = {
    '/player.html': [path.join(HERE, 'player.html'), 'text/html'],
    '/hls.min.js': [path.join(HERE, 'node_modules/hls.js/dist/hls.min.js'), 'text/javascript'],
    '/dash.all.min.js': [path.join(HERE, 'node_modules/dashjs/dist/modern/umd/dash.all.min.js'), 'text/javascript'],
    '/shaka-player.compiled.js': [path.join(HERE, 'node_modules/shaka-player/dist/shaka-player.compiled.js'), 'text/javascript'],
  };
  for (const [file] of Object.values(files)) check(fs.existsSync(file), `missing ${file} (run 'npm ci' in tests/e2e)`);
  const server = http.createServer((req, res) => {
    const entry = files[new URL(req.url, 'http://x').pathname];
    if (!entry) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'Content-Type': entry[1], 'Cache-Control': 'no-store' });
    res.end(fs.readFileSync(entry[0]));
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

async function openPlayer(context, pageBase, daemon, id, kind, query = '') {
  const page = await context.newPage();
  page.on('console', (msg) => {
    if (msg.type() === 'error') page.__console = (page.__console || []).concat(msg.text());
  });
  page.on('pageerror', (error) => { page.__console = (page.__console || []).concat(`pageerror: ${error.message}`); });
  await page.goto(`${pageBase}/player.html?base=${encodeURIComponent(daemon.base)}&id=${id}&kind=${kind}${query}`);
  return page;
}

const pageState = (page) => page.evaluate(() => {
  const video = document.getElementById('video');
  const buffered = [];
  for (let i = 0; i < video.buffered.length; ++i) buffered.push([video.buffered.start(i), video.buffered.end(i)]);
  return {
    ...window.__state, currentTime: video.currentTime, readyState: video.readyState, buffered,
    paused: video.paused, rate: video.playbackRate, duration: video.duration,
  };
});

function describe(state, page) {
  return `currentTime=${state.currentTime} duration=${state.duration} readyState=${state.readyState} ` +
    `paused=${state.paused} rate=${state.rate} ` +
    `buffered=${JSON.stringify(state.buffered.map(([a, b]) => `${a.toFixed(2)}-${b.toFixed(2)}`))} ` +
    `errors=${JSON.stringify(state.errors)} ` +
    `warnings=${JSON.stringify(state.warnings.slice(-5))} events=${JSON.stringify(state.events.slice(-24).map(
      (e) => `${e.name}${e.detail ? `(${e.detail})` : ''}@${e.t.toFixed(2)}/${e.d}`))}` +
    (page.__console ? ` console=${JSON.stringify(page.__console.slice(-5))}` : '');
}

// Waits until predicate(state) holds; fails at once on a fatal player error.
async function waitFor(page, label, predicate, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  let state;
  while (Date.now() < deadline) {
    state = await pageState(page);
    check(state.errors.length === 0, `${label}: player error: ${describe(state, page)}`);
    if (predicate(state)) return state;
    await sleep(100);
  }
  throw new TestFailure(`${label}: timed out after ${timeoutMs} ms: ${describe(state, page)}`);
}

async function playAndSeek(context, pageBase, daemon, id, kind, share = '') {
  const label = `${kind} ${share ? 'shared' : 'complete'}`;
  const page = await openPlayer(context, pageBase, daemon, id, kind, share ? `&share=${encodeURIComponent(share)}` : '');
  try {
    await waitFor(page, `${label}: play past 2 s`, (s) => s.currentTime > 2, 20000);
    const target = 8;
    const before = (await pageState(page)).events.length;
    await page.evaluate((t) => { document.getElementById('video').currentTime = t; }, target);
    const seeked = await waitFor(page, `${label}: seek to ${target} s`,
      (s) => s.events.slice(before).some((e) => e.name === 'seeked'), 15000);
    const landed = seeked.events.slice(before).filter((e) => e.name === 'seeked').pop().t;
    check(Math.abs(landed - target) < 1, `${label}: seek to ${target} landed at ${landed}: ${describe(seeked, page)}`);
    await waitFor(page, `${label}: advance after seek`, (s) => s.currentTime > landed + 1, 15000);
    const final = await pageState(page);
    log(`PASS ${label}: played past 2 s, seek to ${target} landed at ${landed.toFixed(2)}, advancing (t=${final.currentTime.toFixed(2)})` +
      (final.warnings.length ? `; non-fatal: ${JSON.stringify(final.warnings.slice(0, 3))}` : ''));
  } finally {
    await page.close();
  }
}

async function progressive(context, pageBase, daemon, id) {
  // Poll master.m3u8 until it answers 200.
  const deadline = Date.now() + 60000;
  let status = 0;
  while (Date.now() < deadline) {
    status = (await fetch(`${daemon.base}/videos/${id}/master.m3u8`)).status;
    if (status === 200) break;
    await sleep(100);
  }
  check(status === 200, `progressive: master.m3u8 never answered 200 (last ${status})`);
  const job = await daemon.jobFor(id);
  check(job && job.state === 'running',
    `progressive: master.m3u8 answered 200 but the job was not running: ${JSON.stringify(job)}`);
  log(`progressive: master.m3u8 is 200 while job ${job.id} is ${job.state} (${JSON.stringify(job.progress)})`);
  const mpdStatus = (await fetch(`${daemon.base}/videos/${id}/manifest.mpd`)).status;
  check(mpdStatus === 200, `progressive: manifest.mpd answered ${mpdStatus} while master.m3u8 answered 200`);

  // Every player starts while the job runs, then plays on through the moment the manifests
  // become VOD (the MPD flips from dynamic to static) to 'ended' at the clip's end. At 4x
  // speed: the 40 s clip takes 10 s to watch.
  const pages = {};
  // hls.js starts on the smallest rung, as the web page has it while a video is transcoded:
  // it switches up at once, to rungs whose playlists may wait for their first segment.
  // Shaka's HLS player stays on its first rung: when it switches to a rung after the version is
  // complete, it reads that playlist's EXT-X-ENDLIST as the end of the whole presentation, stops
  // refreshing the playlists it already holds, and ends at the shortest of them (Shaka 5.2's
  // HlsParser; docs/manifests.md). A player bug that the server cannot mend.
  const query = { hls: '&startLevel=0', 'shaka-hls': '&abr=off' };
  for (const kind of KINDS) {
    pages[kind] = await openPlayer(context, pageBase, daemon, id, kind, query[kind] || '');
  }
  try {
    const results = await Promise.allSettled(Object.entries(pages).map(async ([kind, page]) => {
      const started = await waitFor(page, `${kind} progressive: first frames`, (s) => s.currentTime > 0.5, 30000);
      const jobThen = await daemon.jobFor(id);
      await page.evaluate(() => { document.getElementById('video').playbackRate = 4; });
      const ended = await waitFor(page, `${kind} progressive: play to the end`,
        (s) => s.events.some((e) => e.name === 'ended'), 60000);
      check(ended.currentTime > 39.5,
        `${kind} progressive: ended at ${ended.currentTime}, not at 40 s: ${describe(ended, page)}`);
      log(`PASS ${kind} progressive: playing at ${started.currentTime.toFixed(2)} s while the job was ` +
        `${jobThen && jobThen.state}, then played through to 'ended' at ${ended.currentTime.toFixed(2)} s` +
        (ended.warnings.length ? `; non-fatal: ${JSON.stringify(ended.warnings.slice(0, 3))}` : ''));
    }));
    const failures = results.filter((r) => r.status === 'rejected').map((r) => r.reason);
    if (failures.length) throw failures[0];
  } finally {
    for (const page of Object.values(pages)) await page.close();
  }
}

const failures = [];
let daemon;
let browser;
let pageServer;
fs.mkdirSync(TMP_ROOT, { recursive: true });
const scratch = fs.mkdtempSync(path.join(TMP_ROOT, 'playback-'));
try {
  const [longClip, shortClip, privateClip, hdrClip] = await Promise.all([
    makeClip(path.join(scratch, 'long.mp4'), 40), makeClip(path.join(scratch, 'short.mp4'), 12, 250),
    makeClip(path.join(scratch, 'private.mp4'), 10), makeHdrClip(path.join(scratch, 'hdr10.mp4'), 12)]);
  daemon = await new PlaybackDaemon(path.join(scratch, 'data')).start();
  pageServer = await startPageServer();
  const pageBase = `http://127.0.0.1:${pageServer.address().port}`;
  log(`daemon at ${daemon.base}, page server at ${pageBase}`);
  browser = await launchChromium({ args: ['--autoplay-policy=no-user-gesture-required'] });

  // Long clip first so that its job is the one running when its manifests appear.
  // Public: the players' page is on another origin and sends no credentials.
  const longId = await daemon.upload(longClip, 'e2e-progressive', 'public');
  log(`uploaded 40 s clip as ${longId}`);
  const progressivePromise = progressive(browser, pageBase, daemon, longId)
    .catch((error) => { failures.push(`progressive: ${error.message}`); });
  const shortId = await daemon.upload(shortClip, 'e2e', 'public');
  log(`uploaded 12 s clip as ${shortId}`);
  await progressivePromise;

  await daemon.waitDone(shortId, 90000);
  log(`12 s clip ${shortId} complete`);
  checkPath(daemon, longId, true);
  checkPath(daemon, shortId, false);
  for (const kind of KINDS) {
    try {
      await playAndSeek(browser, pageBase, daemon, shortId, kind);
    } catch (error) {
      failures.push(`${kind} complete: ${error.message}`);
    }
  }

  const privateId = await daemon.upload(privateClip, 'e2e-private', 'private');
  await daemon.waitDone(privateId, 90000);
  checkPath(daemon, privateId, true);
  const shared = await fetch(`${daemon.base}/api/v1/videos/${privateId}/share`, {
    method: 'POST', headers: { ...daemon.auth, 'Content-Type': 'application/json' }, body: '{"expires_in_s": 3600}',
  });
  check(shared.status === 201, `share: ${shared.status} ${await shared.clone().text()}`);
  const token = new URL((await shared.json()).hls).searchParams.get('share');
  for (const manifest of ['master.m3u8', 'manifest.mpd']) {
    const plain = (await fetch(`${daemon.base}/videos/${privateId}/${manifest}`)).status;
    check(plain === 404, `a private video's ${manifest} without the link answered ${plain}`);
    const forged = (await fetch(`${daemon.base}/videos/${privateId}/${manifest}?share=${token.slice(0, -1)}0`)).status;
    check(forged === 403 || token.endsWith('0'), `an altered link to ${manifest} answered ${forged}`);
  }
  for (const kind of KINDS) {
    try {
      await playAndSeek(browser, pageBase, daemon, privateId, kind, token);
    } catch (error) {
      failures.push(`${kind} shared: ${error.message}`);
    }
  }

  const hdrId = await daemon.upload(hdrClip, 'e2e-hdr', 'public');
  await daemon.waitDone(hdrId, 90000);
  check(new RegExp(`\\(video ${hdrId}\\): the source is HDR \\(PQ, peak 1000 nits\\): tone-mapped to SDR`)
    .test(daemon.log), `video ${hdrId}: not tone-mapped; log tail:\n${daemon.log.slice(-3000)}`);
  try {
    await playAndSeek(browser, pageBase, daemon, hdrId, 'hls');
  } catch (error) {
    failures.push(`hls HDR: ${error.message}`);
  }
} catch (error) {
  failures.push(error.stack || error.message);
} finally {
  if (browser) await browser.close().catch(() => {});
  if (pageServer) pageServer.close();
  if (daemon) {
    try {
      await daemon.stop();
    } catch (error) {
      failures.push(error.message);
    }
  }
}

if (failures.length) {
  console.error(`\nFAIL playback (${failures.length}):`);
  for (const failure of failures) console.error(`  - ${failure}`);
  process.exit(1);
}
console.log(`\nOK playback: hls.js, dash.js, Shaka (HLS and DASH) progressive (start while transcoding, play to the end), complete (play, seek) and shared (a private video through a share link); an HDR10 source in hls.js; in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
