// Benchmark (not a test): the time from the end of an upload to the first frame playing in
// Chromium. Run through scripts/bench-first-frame, which makes the clip and the build.
//
// A page with hls.js is open in headless Chromium before the upload starts, as a user's tab
// would be. The clip is streamed to PUT /api/v1/videos; "upload sent" is when its last byte
// has gone to the socket, "upload answered" when the 201 with the video's id arrives. The
// page then polls master.m3u8 (every 50 ms) until it answers 200, plays it with hls.js, and
// notes the first frame the video element presents (requestVideoFrameCallback). Times are
// Date.now() in Node and in the page: the same clock.
//
// Env: CINEVAULT_BINARY, BENCH_CLIP (the file to upload), BENCH_RUNS (default 3),
//      BENCH_ARGS (extra daemon flags, space separated), CHROMIUM (default /usr/bin/chromium).
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { launchChromium } from './chromium.mjs';
import { check, Daemon } from './daemon.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const BINARY = process.env.CINEVAULT_BINARY;
const CLIP = process.env.BENCH_CLIP;
const RUNS = Number(process.env.BENCH_RUNS || 3);
const EXTRA_ARGS = (process.env.BENCH_ARGS || '').split(' ').filter(Boolean);
check(BINARY && CLIP, 'set CINEVAULT_BINARY and BENCH_CLIP');

const PAGE = `<!doctype html><meta charset="utf-8"><title>first frame</title>
<video id="video" muted playsinline width="640" height="360"></video>
<script src="/hls.min.js"></script>
<script>
window.__state = { errors: [] };
// Resolves when the first frame has played or a player error came: the benchmark awaits it
// once instead of polling the page, which would take CPU from the transcode it measures.
let settle;
window.__settled = new Promise((resolve) => { settle = resolve; });
window.play = async (url) => {
  const state = window.__state;
  const settleIfDone = () => { if (state.errors.length || (state.firstFrameAt && state.playingAt)) settle(state); };
  setTimeout(() => { state.errors.push('no frame within 300 s'); settleIfDone(); }, 300000);
  for (;;) {
    const response = await fetch(url, { cache: 'no-store' });
    if (response.ok) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  state.manifestAt = Date.now();
  const video = document.getElementById('video');
  video.requestVideoFrameCallback(() => { state.firstFrameAt = Date.now(); settleIfDone(); });
  video.addEventListener('playing', () => { state.playingAt = state.playingAt || Date.now(); settleIfDone(); });
  const hls = new Hls({ startLevel: 0 });  // as the web page does while a video is transcoded (watch.js)
  hls.on(Hls.Events.ERROR, (_event, data) => { if (data.fatal) { state.errors.push(data.details); settleIfDone(); } });
  hls.attachMedia(video);
  hls.loadSource(url);
  video.play().catch((e) => { state.errors.push('play(): ' + e.message); settleIfDone(); });
};
</script>`;

function startPageServer() {
  const hlsJs = fs.readFileSync(path.join(HERE, 'node_modules/hls.js/dist/hls.min.js'));
  const server = http.createServer((req, res) => {
    if (req.url === '/hls.min.js') res.writeHead(200, { 'Content-Type': 'text/javascript' }).end(hlsJs);
    else res.writeHead(200, { 'Content-Type': 'text/html' }).end(PAGE);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

// Streams the file as the request body; resolves with the times the last byte was sent and
// the answer came, and the answer.
function upload(daemon, file) {
  return new Promise((resolve, reject) => {
    const times = {};
    // Public: the player's page is on another origin and sends no credentials.
    const request = http.request(`${daemon.base}/api/v1/videos?title=first-frame&visibility=public`, {
      method: 'PUT',
      headers: { Authorization: `Bearer ${daemon.key}`, 'Content-Length': fs.statSync(file).size },
    }, (response) => {
      let body = '';
      response.on('data', (chunk) => { body += chunk; });
      response.on('end', () => {
        times.answeredAt = Date.now();
        if (response.statusCode !== 201) reject(new Error(`upload: ${response.statusCode} ${body}`));
        else resolve({ ...times, id: JSON.parse(body).id });
      });
    });
    request.on('finish', () => { times.sentAt = Date.now(); });
    request.on('error', reject);
    fs.createReadStream(file).pipe(request);
  });
}

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-first-frame-'));
const pageServer = await startPageServer();
const pageBase = `http://127.0.0.1:${pageServer.address().port}`;
const browser = await launchChromium({ args: ['--autoplay-policy=no-user-gesture-required'] });
const results = [];
try {
  for (let run = 1; run <= RUNS; ++run) {
    const daemon = await new Daemon(BINARY, path.join(scratch, `data-${run}`), ['--log-level', 'info', ...EXTRA_ARGS]).start();
    const page = await browser.newPage();
    try {
      await page.goto(pageBase);
      const sent = await upload(daemon, CLIP);
      await page.evaluate((url) => { window.play(url); }, `${daemon.base}/videos/${sent.id}/master.m3u8`);
      const state = await page.evaluate(() => window.__settled);
      check(state.errors.length === 0, `run ${run}: player error ${JSON.stringify(state.errors)}`);
      const job = (await daemon.getJson('/api/v1/jobs')).jobs.find((j) => j.video_id === sent.id);
      const row = {
        run,
        answer_s: (sent.answeredAt - sent.sentAt) / 1000,
        manifest_s: (state.manifestAt - sent.sentAt) / 1000,
        first_frame_s: (state.firstFrameAt - sent.sentAt) / 1000,
        playing_s: (state.playingAt - sent.sentAt) / 1000,
        job_state: job ? job.state : 'none',
      };
      results.push(row);
      console.log(`run ${run}: upload answered +${row.answer_s.toFixed(2)} s, master.m3u8 200 +${row.manifest_s.toFixed(2)} s, ` +
        `first frame +${row.first_frame_s.toFixed(2)} s ('playing' +${row.playing_s.toFixed(2)} s) after the last byte; ` +
        `the job was ${row.job_state} then`);
    } finally {
      await page.close();
      await daemon.stop();
    }
  }
} finally {
  await browser.close();
  pageServer.close();
  fs.rmSync(scratch, { recursive: true, force: true });
}
const median = (values) => values.slice().sort((a, b) => a - b)[Math.floor(values.length / 2)];
console.log(`\nmedian of ${results.length}: first frame ${median(results.map((r) => r.first_frame_s)).toFixed(2)} s after the ` +
  `upload's last byte (upload answered after ${median(results.map((r) => r.answer_s)).toFixed(2)} s, master.m3u8 ` +
  `playable after ${median(results.map((r) => r.manifest_s)).toFixed(2)} s). Goal: 2 s or less.`);
