// End-to-end: where Chromium's Media Source Extensions present what cinevault publishes,
// for a video transcoded with the production x264 settings (the daemon's default preset,
// veryfast, which has B-frames). Our CMAF video tracks carry an edit list (elst, media_time
// = the B-frame reorder delay) and trun v0 positive composition offsets; a browser must
// present the first video frame at 0 and each segment where the HLS playlist says it starts.
//
// Two 5 s 640x360 25 fps clips (testsrc2 + 48 kHz sine, H.264 + AAC) are uploaded, one whose
// rungs are all encoded and one whose video and audio pass through (docs/transcoding.md,
// "Passthrough"), and, once each job is done, for every rendition (each video rung: 360p, 240p; and the audio) and every
// segment k, a page (served from another loopback port, so fetches are cross-origin) makes
// a fresh MediaSource + SourceBuffer (video: the avc1 CODECS of the master's STREAM-INF;
// audio: mp4a.40.2), appends the init segment and segment k — no timestampOffset — and
// reads buffered.start(0). It must be:
//   video: the sum of the EXTINFs before k, within 1 ms (segment 0 at 0.000);
//   audio: 0 within 1 ms for segment 0, else the sum of the audio playlist's own EXTINFs
//          before k within 12 ms (audio segments are cut at AAC frames of 21.3 ms).
// The video init segments must contain an elst box: without one this is not the B-frame
// case this test is for.
// Prints one line per rendition with the measured starts, then PASS or FAIL (exit 0 or 1).
//
// Self-check: MSE_TIMING_SELFTEST_BREAK_EDIT=1 zeroes the elst media_time of every init
// segment in the page before appending it; the video starts then come out two frames
// (0.08 s) late and the test must FAIL.
//
// Env: CINEVAULT_BINARY (the daemon), CINEVAULT_TEST_TMP (scratch directory),
//      CHROMIUM (default /usr/bin/chromium).
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';

import { check, Daemon, run, sleep, TestFailure } from './daemon.mjs';

let CHROMIUM, launchChromium;
try {
  ({ CHROMIUM, launchChromium } = await import('./chromium.mjs'));
} catch (error) {
  console.error(`FAIL: cannot load playwright-core (run 'npm ci' in tests/e2e): ${error.message}`);
  process.exit(2);
}

const BINARY = process.env.CINEVAULT_BINARY;
const TMP_ROOT = process.env.CINEVAULT_TEST_TMP || os.tmpdir();
const BREAK_EDIT = process.env.MSE_TIMING_SELFTEST_BREAK_EDIT === '1';
if (!BINARY) {
  console.error('FAIL: set CINEVAULT_BINARY to the cinevault binary');
  process.exit(2);
}
if (!fs.existsSync(CHROMIUM)) {
  console.error(`FAIL: no Chromium at ${CHROMIUM} (apt-get install chromium)`);
  process.exit(2);
}

const t0 = Date.now();
const log = (text) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1)}s] ${text}`);

async function waitJobDone(daemon, videoId, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  let job;
  while (Date.now() < deadline) {
    job = (await daemon.getJson('/api/v1/jobs')).jobs.find((j) => j.video_id === videoId);
    if (job && job.state === 'done') return;
    check(!job || !['dead', 'cancelled'].includes(job.state), `job for ${videoId} ended ${JSON.stringify(job)}`);
    await sleep(250);
  }
  throw new TestFailure(`job for ${videoId} not done within ${timeoutMs} ms: ${JSON.stringify(job)}`);
}

async function getText(url) {
  const response = await fetch(url);
  const text = await response.text();
  check(response.ok, `GET ${url}: ${response.status} ${text}`);
  return text;
}

// KEY=value,KEY="quoted, value" → { KEY: value }.
const attributes = (list) => Object.fromEntries(
  [...list.matchAll(/([A-Z0-9-]+)=("[^"]*"|[^,]*)/g)].map(([, k, v]) => [k, v.replace(/^"|"$/g, '')]));

// The master's renditions: { name, mime, playlist } for each video rung, then the audio.
async function renditions(masterUrl) {
  const lines = (await getText(masterUrl)).split('\n').map((l) => l.trim());
  const found = [];
  lines.forEach((line, i) => {
    if (line.startsWith('#EXT-X-STREAM-INF:')) {
      const attrs = attributes(line.slice(18));
      const avc = (attrs.CODECS || '').split(',').find((c) => c.startsWith('avc1'));
      check(avc, `no avc1 in the CODECS of ${line}`);
      const height = (attrs.RESOLUTION || '').split('x')[1];
      found.push({ name: `${height}p`, mime: `video/mp4; codecs="${avc}"`, playlist: new URL(lines[i + 1], masterUrl).href });
    } else if (line.startsWith('#EXT-X-MEDIA:') && attributes(line.slice(13)).TYPE === 'AUDIO') {
      const audioUri = new URL(attributes(line.slice(13)).URI, masterUrl).href;
      if (!found.some((r) => r.playlist === audioUri)) found.push({ name: 'audio', mime: 'audio/mp4; codecs="mp4a.40.2"', playlist: audioUri, audio: true });
    }
  });
  return found;
}

// A media playlist: its init segment, its segments and where each starts (sum of EXTINFs).
async function mediaPlaylist(url) {
  const lines = (await getText(url)).split('\n').map((l) => l.trim()).filter(Boolean);
  const map = lines.find((l) => l.startsWith('#EXT-X-MAP:'));
  check(map, `no EXT-X-MAP in ${url}`);
  const segments = [];
  let start = 0;
  lines.forEach((line, i) => {
    if (!line.startsWith('#EXTINF:')) return;
    segments.push({ url: new URL(lines[i + 1], url).href, start });
    start += parseFloat(line.slice(8));
  });
  check(segments.length > 1, `${url}: ${segments.length} segments, want more than one`);
  return { init: new URL(attributes(map.slice(11)).URI, url).href, segments };
}

// Runs in the page: init + each segment into a fresh MediaSource; returns buffered.start(0)s.
async function measureInPage({ mime, init, segments, breakEdit }) {
  const bytes = async (url) => {
    const response = await fetch(url);
    if (!response.ok) throw new Error(`GET ${url}: ${response.status}`);
    return new Uint8Array(await response.arrayBuffer());
  };
  const initBytes = await bytes(init);
  if (breakEdit) {
    // Self-check: every elst entry's media_time (v0: 32 bits, v1: 64 bits) to 0.
    const view = new DataView(initBytes.buffer);
    for (let i = 4; i + 8 <= initBytes.length; i++) {
      if (String.fromCharCode(...initBytes.subarray(i, i + 4)) !== 'elst') continue;
      const version = initBytes[i + 4];
      const count = view.getUint32(i + 8);
      for (let e = 0, at = i + 12; e < count; e++, at += version ? 20 : 12) {
        if (version) view.setBigInt64(at + 8, 0n); else view.setInt32(at + 4, 0);
      }
    }
  }
  if (!MediaSource.isTypeSupported(mime)) throw new Error(`MediaSource does not support ${mime}`);
  const append = (sb, data) => new Promise((resolve, reject) => {
    sb.addEventListener('updateend', resolve, { once: true });
    sb.addEventListener('error', () => reject(new Error('SourceBuffer error')), { once: true });
    sb.appendBuffer(data);
  });
  const starts = [];
  for (const segment of segments) {
    const data = await bytes(segment);
    const ms = new MediaSource();
    const video = document.createElement('video');
    video.src = URL.createObjectURL(ms);
    await new Promise((resolve) => ms.addEventListener('sourceopen', resolve, { once: true }));
    try {
      const sb = ms.addSourceBuffer(mime);
      await append(sb, initBytes);
      await append(sb, data);
      if (sb.buffered.length === 0) throw new Error(`nothing buffered from ${segment}`);
      starts.push(sb.buffered.start(0));
    } catch (error) {
      throw new Error(`${segment}: ${error.message}; video.error=${video.error && video.error.message}`);
    } finally {
      URL.revokeObjectURL(video.src);
      video.removeAttribute('src');
      video.load();
    }
  }
  return starts;
}

// A page from another origin than the daemon.
function startPageServer() {
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html' }).end('<!doctype html><title>mse timing</title>');
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

let daemon, browser, pageServer, failure;
fs.mkdirSync(TMP_ROOT, { recursive: true });
const scratch = fs.mkdtempSync(path.join(TMP_ROOT, 'mse-timing-'));
try {
  // Two sources: one whose every rung is encoded (ultrafast, an IDR frame only at the start),
  // and a phone-like one (B-frames, an IDR frame a second) whose H.264 and AAC pass through:
  // its top rung carries the source's own reorder delay and its audio the AAC encoder's
  // priming, each in an edit list.
  const clips = [
    { name: 'encoded', passthrough: false, args: ['-preset', 'ultrafast'] },
    { name: 'passthrough', passthrough: true, args: ['-preset', 'veryfast', '-g', '25', '-sc_threshold', '0'] },
  ];
  for (const clip of clips) {
    clip.file = path.join(scratch, `${clip.name}.mp4`);
    await run('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=25',
      '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000', '-t', '5', '-ac', '2',
      '-c:v', 'libx264', ...clip.args, '-pix_fmt', 'yuv420p', '-c:a', 'aac', clip.file]);
  }
  // The default x264 preset (veryfast, with B-frames): not --pipeline.x264_preset.
  daemon = await new Daemon(BINARY, path.join(scratch, 'data'),
    ['--log-level', 'info', '--pipeline.retry_backoff_s', '0']).start();
  pageServer = await startPageServer();
  browser = await launchChromium();
  const page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${pageServer.address().port}/`);
  if (BREAK_EDIT) log('self-check: elst media_time zeroed in every init segment; this run must FAIL');

  const problems = [];
  for (const clip of clips) {
  // Public: the page on another origin fetches without credentials.
  const id = await daemon.upload(clip.file, `e2e-mse-timing-${clip.name}`, 'public');
  await waitJobDone(daemon, id, 120000);
  const passed = new RegExp(`\\(video ${id}\\): the top rung is the source's own video`).test(daemon.log) &&
    new RegExp(`\\(video ${id}\\): 1 audio rendition\\(s\\) are the source's AAC`).test(daemon.log);
  check(passed === clip.passthrough, `${clip.name}: the job's log says passthrough ${passed}`);
  log(`${clip.name}: video ${id} transcoded`);

  const list = await renditions(`${daemon.base}/videos/${id}/master.m3u8`);
  check(list.filter((r) => !r.audio).length === 2 && list.some((r) => r.audio),
    `want two video rungs and audio in the master, got ${JSON.stringify(list.map((r) => r.name))}`);

  for (const r of list) {
    const { init, segments } = await mediaPlaylist(r.playlist);
    if (!r.audio) {
      const initBytes = Buffer.from(await (await fetch(init)).arrayBuffer());
      check(initBytes.includes('elst'), `${r.name}: init segment ${init} has no elst box: the production ` +
        'preset should have B-frames and so an edit list; this test would not test the B-frame case');
    }
    const starts = await page.evaluate(measureInPage,
      { mime: r.mime, init, segments: segments.map((s) => s.url), breakEdit: BREAK_EDIT });
    console.log(`${clip.name} ${r.name}: ${starts.map((s) => s.toFixed(3)).join(' ')}` +
      `  (playlist: ${segments.map((s) => s.start.toFixed(3)).join(' ')})`);
    starts.forEach((start, k) => {
      const tolerance = r.audio && k > 0 ? 0.012 : 0.001;
      if (Math.abs(start - segments[k].start) > tolerance) {
        problems.push(`${clip.name} ${r.name} segment ${k} starts at ${start.toFixed(4)}, playlist says ` +
          `${segments[k].start.toFixed(4)} (tolerance ${tolerance * 1000} ms)`);
      }
    });
  }
  }
  check(problems.length === 0, problems.join('; '));
} catch (error) {
  failure = error instanceof TestFailure ? error.message : error.stack;
} finally {
  if (browser) await browser.close().catch(() => {});
  if (pageServer) pageServer.close();
  if (daemon) await daemon.stop().catch((error) => { failure = failure || error.message; });
  fs.rmSync(scratch, { recursive: true, force: true });
}

if (failure) {
  console.error(`FAIL: ${failure}`);
  if (daemon) console.error(`daemon log tail:\n${daemon.log.slice(-3000)}`);
  process.exit(1);
}
console.log(`PASS: MSE presents every rendition's segments where the HLS playlists say (video from 0.000, edit list honoured) in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
