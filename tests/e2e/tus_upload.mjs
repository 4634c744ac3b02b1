// End-to-end: the real tus-js-client (Node) uploads clips to a real cinevault daemon.
//
// Cases:
//   a. plain uploads (256 KiB chunks from an fs stream, and the default chunk size from a
//      Buffer): the video is in the library with its title, and the stored source object
//      has the file's SHA-256;
//   b. an upload aborted mid-way is resumed by a NEW Upload object through
//      findPreviousUploads()/resumeFromPreviousUpload(), from the server's offset (not 0);
//   c. the daemon is killed with SIGKILL in the middle of a PATCH and restarted on the same data
//      directory (new port): the upload resumes from the acknowledged offset and the
//      stored object is byte-exact;
//   d. every PATCH carries Upload-Checksum (sha256, added by a wrapping HTTP stack, as
//      tus-js-client has no checksum option); one deliberately wrong checksum is answered
//      460, the client retries, and the result is byte-exact;
//   e. an uploader signed in with a password uploads as the web page does: the session
//      cookie and X-CSRF-Token in tus-js-client's `headers`, the visibility in the
//      metadata; the video is theirs. Without the token the creation is refused 403.
//
// Env: CINEVAULT_BINARY (the daemon), CINEVAULT_TEST_TMP (scratch directory).
// Every daemon started here is stopped; each must exit 0 on SIGTERM (ASan leak check).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';

import { check, Daemon, sleep, TestFailure } from './daemon.mjs';

let tus;
try {
  tus = await import('tus-js-client');
} catch (error) {
  console.error(`FAIL: cannot load tus-js-client (run 'npm ci' in tests/e2e): ${error.message}`);
  process.exit(2);
}
const { DefaultHttpStack, FileUrlStorage, Upload } = tus;

const BINARY = process.env.CINEVAULT_BINARY;
const TMP_ROOT = process.env.CINEVAULT_TEST_TMP || os.tmpdir();
const CHUNK = 256 * 1024;

if (!BINARY) {
  console.error('FAIL: set CINEVAULT_BINARY to the cinevault binary');
  process.exit(2);
}

function sha256File(file) {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}


// A few seconds of 320x180 H.264 + AAC; the noise keeps x264 near 4 Mb/s, so the file is
// a few MB and an upload in 256 KiB chunks has many PATCHes to interrupt.
function makeClip(file, frequency) {
  execFileSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=25',
    '-f', 'lavfi', '-i', `sine=frequency=${frequency}:sample_rate=48000`, '-t', '5',
    '-vf', 'noise=alls=30:allf=t', '-c:v', 'libx264', '-preset', 'ultrafast', '-b:v', '4M',
    '-pix_fmt', 'yuv420p', '-c:a', 'aac', file], { stdio: ['ignore', 'inherit', 'inherit'] });
  const size = fs.statSync(file).size;
  check(size > 8 * CHUNK, `clip ${file} is only ${size} bytes; the interruption cases need more than 8 chunks`);
  return file;
}

// The shared test daemon (its port is kept across restarts), with the tus endpoint.
class TusDaemon extends Daemon {
  constructor(dataDir) {
    super(BINARY, dataDir, ['--log-level', 'info']);
  }

  get endpoint() { return `${this.base}/api/v1/uploads`; }
  get running() { return Boolean(this.proc) && this.exitStatus === null; }

  async head(uploadUrl) {
    const response = await fetch(uploadUrl, { method: 'HEAD', headers: { 'Tus-Resumable': '1.0.0', ...this.auth } });
    check(response.status === 200, `HEAD ${uploadUrl}: ${response.status}`);
    return Number(response.headers.get('upload-offset'));
  }

  objectPath(sha256) {
    return path.join(this.dataDir, 'objects', sha256.slice(0, 2), sha256.slice(2, 4), sha256);
  }
}

// Runs one tus-js-client Upload to its end; resolves with the Upload, rejects with its error.
function runUpload(input, options, onCreated) {
  return new Promise((resolve, reject) => {
    const upload = new Upload(input, {
      retryDelays: [0, 200, 500],
      ...options,
      onSuccess: () => resolve(upload),
      onError: (error) => reject(error),
    });
    if (onCreated) onCreated(upload);
    upload.start();
  });
}

function uploadOptions(daemon, file, title, extra = {}) {
  return {
    endpoint: daemon.endpoint,
    headers: { Authorization: `Bearer ${daemon.key}` },
    metadata: { filename: path.basename(file), title },
    ...extra,
  };
}

// Records the method and Upload-Offset of every request the client sends.
function requestLog() {
  const sent = [];
  return {
    sent,
    onBeforeRequest(req) {
      sent.push({ method: req.getMethod(), offset: req.getHeader('Upload-Offset'), url: req.getURL() });
    },
    patches() { return sent.filter((r) => r.method === 'PATCH'); },
  };
}

// The upload became a video: in the library with its title, its source object byte-exact.
async function checkStored(daemon, file, title) {
  const want = sha256File(file);
  const { videos } = await daemon.getJson('/api/v1/videos?limit=200', daemon.auth);  // a key sees the source
  const video = videos.find((v) => v.title === title);
  check(video, `no video titled '${title}' in GET /api/v1/videos: ${JSON.stringify(videos.map((v) => v.title))}`);
  check(video.source.sha256 === want, `video '${title}' source.sha256 ${video.source.sha256}, file has ${want}`);
  check(video.source.filename === path.basename(file), `video '${title}' filename ${video.source.filename}`);
  const object = daemon.objectPath(want);
  check(fs.existsSync(object), `stored object ${object} is missing`);
  const got = sha256File(object);
  check(got === want, `stored object ${object} has SHA-256 ${got}, the file ${want}`);
  return video;
}

// 256 KiB chunks from an fs.ReadStream: many PATCHes.
async function casePlainChunked(daemon, dir) {
  const file = makeClip(path.join(dir, 'plain-chunked.mp4'), 300);
  const log = requestLog();
  const upload = await runUpload(fs.createReadStream(file),
    uploadOptions(daemon, file, 'plain chunked', { chunkSize: CHUNK, onBeforeRequest: log.onBeforeRequest }));
  const expectedPatches = Math.ceil(fs.statSync(file).size / CHUNK);
  check(log.patches().length === expectedPatches, `expected ${expectedPatches} PATCHes, the client sent ${log.patches().length}`);
  check(upload.url.startsWith(daemon.endpoint + '/'), `upload URL ${upload.url} is not under ${daemon.endpoint}`);
  await checkStored(daemon, file, 'plain chunked');
  return `${expectedPatches} PATCHes`;
}

// The default chunk size (the whole file in one PATCH) from a Buffer.
async function casePlainWhole(daemon, dir) {
  const file = makeClip(path.join(dir, 'plain-whole.mp4'), 350);
  const log = requestLog();
  await runUpload(fs.readFileSync(file), uploadOptions(daemon, file, 'plain whole', { onBeforeRequest: log.onBeforeRequest }));
  check(log.patches().length === 1, `default chunk size: expected 1 PATCH, got ${log.patches().length}`);
  await checkStored(daemon, file, 'plain whole');
  return `1 PATCH of ${fs.statSync(file).size} bytes`;
}

// Waits until HEAD reports the same offset twice in a row (the server has finished with
// the interrupted PATCH: it keeps the bytes that arrived).
async function settledOffset(daemon, uploadUrl) {
  let last = -1;
  for (let i = 0; i < 100; i++) {
    const offset = await daemon.head(uploadUrl);
    if (offset === last) return offset;
    last = offset;
    await sleep(100);
  }
  throw new TestFailure(`the offset of ${uploadUrl} did not settle`);
}

async function caseAbortAndResume(daemon, dir) {
  const file = makeClip(path.join(dir, 'aborted.mp4'), 400);
  const size = fs.statSync(file).size;
  const urlStorage = new FileUrlStorage(path.join(dir, 'tus-urls.json'));
  const options = uploadOptions(daemon, file, 'aborted and resumed', { chunkSize: CHUNK, urlStorage });

  // First client: abort once 40% is on the wire (mid-PATCH, usually).
  let first;
  await new Promise((resolve, reject) => {
    first = new Upload(fs.createReadStream(file), {
      ...options,
      onProgress: (sent) => {
        if (sent >= size * 0.4 && !first.aborted) {
          first.aborted = true;
          first.abort().then(resolve, reject);
        }
      },
      onSuccess: () => reject(new TestFailure('the upload finished before it could be aborted')),
      onError: reject,
    });
    first.start();
  });
  check(first.url, 'the aborted upload has no URL');
  const serverOffset = await settledOffset(daemon, first.url);
  check(serverOffset > 0 && serverOffset < size, `after the abort the server offset is ${serverOffset} of ${size}`);

  // Second client: a new Upload object that finds the first one in the URL storage.
  const log = requestLog();
  const second = new Upload(fs.createReadStream(file), { ...options, onBeforeRequest: log.onBeforeRequest });
  const previous = await second.findPreviousUploads();
  check(previous.length === 1, `findPreviousUploads() found ${previous.length} uploads`);
  second.resumeFromPreviousUpload(previous[0]);
  await new Promise((resolve, reject) => {
    second.options.onSuccess = resolve;
    second.options.onError = reject;
    second.start();
  });
  check(second.url === first.url, `the resumed upload went to ${second.url}, not ${first.url}`);
  check(!log.sent.some((r) => r.method === 'POST'), 'the resumed upload created a new upload (POST)');
  const patches = log.patches();
  check(patches.length > 0 && Number(patches[0].offset) === serverOffset,
    `the resumed upload's first PATCH is at offset ${patches[0] && patches[0].offset}, the server had ${serverOffset}`);
  check(patches.length <= Math.ceil((size - serverOffset) / CHUNK),
    `the resumed upload sent ${patches.length} PATCHes for ${size - serverOffset} bytes`);
  await checkStored(daemon, file, 'aborted and resumed');
  return `aborted at ${serverOffset} of ${size} bytes, resumed with ${patches.length} PATCHes`;
}

// Sends PATCH number `which` with only half its body, then kills the daemon with SIGKILL
// while that request is open: the crash lands in the middle of a PATCH.
class KillMidPatchHttpStack {
  constructor(which, daemon) {
    this.inner = new DefaultHttpStack();
    this.which = which;
    this.daemon = daemon;
    this.patches = 0;
    this.killed = false;
  }
  getName() { return 'KillMidPatchHttpStack'; }
  createRequest(method, url) {
    const request = this.inner.createRequest(method, url);
    const stack = this;
    const send = request.send.bind(request);
    request.send = (body) => {
      if (method !== 'PATCH' || !body || ++stack.patches !== stack.which) return send(body);
      request.setHeader('Content-Length', body.length);
      const half = new Readable({ read() {} });
      half.push(body.subarray(0, body.length >> 1));
      setTimeout(() => {
        stack.killed = true;
        stack.daemon.proc.kill('SIGKILL');
      }, 300);
      return send(half);
    };
    return request;
  }
}

async function caseKillAndResume(dir) {
  const file = makeClip(path.join(dir, 'killed.mp4'), 500);
  const size = fs.statSync(file).size;
  const daemon = await new TusDaemon(path.join(dir, 'data-kill')).start();
  try {
    let acknowledged = 0;
    let upload = null;
    const stack = new KillMidPatchHttpStack(4, daemon);
    const error = await runUpload(fs.readFileSync(file), uploadOptions(daemon, file, 'killed and resumed', {
      chunkSize: CHUNK,
      retryDelays: [],
      httpStack: stack,
      onChunkComplete: (_chunk, accepted) => { acknowledged = accepted; },
    }), (u) => { upload = u; }).then(() => null, (e) => e);
    check(stack.killed, 'the upload finished before the daemon could be killed');
    check(error, 'the upload did not fail although the daemon was killed');
    const status = await daemon.exited;
    check(status.signal === 'SIGKILL', `the daemon ended with ${JSON.stringify(status)}, not by SIGKILL`);
    check(upload.url, 'no upload URL before the kill');
    check(acknowledged === 3 * CHUNK, `the client saw ${acknowledged} bytes acknowledged before the kill, not 3 chunks`);

    // Same data directory, new port: the URL is rewritten to it. The acknowledged offset
    // survived; the half PATCH that was in flight did not count.
    daemon.port = 0;  // a new port, as after a reboot: the client must follow the new address
    await daemon.start();
    const newUrl = upload.url.replace(/^http:\/\/127\.0\.0\.1:\d+/, daemon.base);
    const offset = await daemon.head(newUrl);
    check(offset === acknowledged, `after the restart the server offset is ${offset}; ${acknowledged} were acknowledged`);

    const log = requestLog();
    await runUpload(fs.createReadStream(file), {
      ...uploadOptions(daemon, file, 'killed and resumed', { chunkSize: CHUNK, onBeforeRequest: log.onBeforeRequest }),
      uploadUrl: newUrl,
    });
    check(!log.sent.some((r) => r.method === 'POST'), 'the resumed upload created a new upload (POST)');
    const first = log.patches()[0];
    check(first && Number(first.offset) === offset, `the resumed upload started at ${first && first.offset}, not ${offset}`);
    check(log.patches().length === Math.ceil((size - offset) / CHUNK), `the resumed upload sent ${log.patches().length} PATCHes`);
    await checkStored(daemon, file, 'killed and resumed');
    const partials = fs.readdirSync(path.join(daemon.dataDir, 'uploads'));
    check(partials.length === 0, `partial files left in data/uploads: ${partials}`);
    return `killed mid-PATCH at ${acknowledged} acknowledged bytes of ${size}, resumed there`;
  } finally {
    if (daemon.running) await daemon.stop();
  }
}

// tus-js-client has no checksum option: this HTTP stack adds Upload-Checksum (sha256 of the
// body) to every PATCH, and corrupts the checksum of the PATCH number `corrupt`.
class ChecksumHttpStack {
  constructor(corrupt) {
    this.inner = new DefaultHttpStack();
    this.patches = 0;
    this.corrupt = corrupt;
    this.statuses = [];
  }
  getName() { return 'ChecksumHttpStack'; }
  createRequest(method, url) {
    const request = this.inner.createRequest(method, url);
    const stack = this;
    const send = request.send.bind(request);
    request.send = async (body) => {
      if (method === 'PATCH' && body) {
        check(Buffer.isBuffer(body), 'checksum case: the body is not a Buffer');
        stack.patches += 1;
        const digest = createHash('sha256').update(body).digest();
        if (stack.patches === stack.corrupt) digest[0] ^= 0xff;
        request.setHeader('Upload-Checksum', `sha256 ${digest.toString('base64')}`);
      }
      const response = await send(body);
      if (method === 'PATCH') stack.statuses.push(response.getStatus());
      return response;
    };
    return request;
  }
}

async function caseChecksum(daemon, dir) {
  const file = makeClip(path.join(dir, 'checksummed.mp4'), 600);
  const stack = new ChecksumHttpStack(3);
  const log = requestLog();
  await runUpload(fs.readFileSync(file), uploadOptions(daemon, file, 'checksummed', {
    chunkSize: CHUNK,
    httpStack: stack,
    onBeforeRequest: log.onBeforeRequest,
    // 460 is a 4xx, which tus-js-client does not retry by default: a bad chunk is worth a retry.
    onShouldRetry: (err) => {
      const status = err.originalResponse ? err.originalResponse.getStatus() : 0;
      return status === 460 || status === 409 || status === 423 || !(status >= 400 && status < 500);
    },
  }));
  const refused = stack.statuses.filter((s) => s === 460).length;
  check(refused === 1, `expected exactly one 460 for the corrupted checksum, PATCH statuses: ${stack.statuses}`);
  check(stack.statuses.filter((s) => s !== 204 && s !== 460).length === 0, `unexpected PATCH statuses: ${stack.statuses}`);
  // The refused chunk was discarded: the retry resent it from the same offset.
  const offsets = log.patches().map((p) => Number(p.offset));
  check(offsets[2] === offsets[3], `the chunk after the 460 was not resent at the same offset: ${offsets}`);
  await checkStored(daemon, file, 'checksummed');
  return `${stack.patches} PATCHes with sha256 checksums, one 460`;
}

// A user made with the key (POST /api/v1/users), signed in with the password: the cookie
// and token the web page has.
async function caseSession(daemon, dir) {
  const file = makeClip(path.join(dir, 'by-a-person.mp4'), 700);
  const name = 'uploader-e2e';
  const password = 'a password for tus';
  const made = await fetch(`${daemon.base}/api/v1/users`, {
    method: 'POST', headers: { ...daemon.auth, 'Content-Type': 'application/json' },
    body: JSON.stringify({ name, role: 'uploader', password }),
  });
  check(made.status === 201, `POST /api/v1/users: ${made.status} ${await made.text()}`);
  const session = await daemon.signIn(name, password);

  const refused = await runUpload(fs.readFileSync(file), {
    endpoint: daemon.endpoint, headers: { Cookie: session.cookie }, metadata: { filename: 'x.mp4' }, retryDelays: [],
  }).then(() => null, (e) => e);
  const refusedStatus = refused && refused.originalResponse ? refused.originalResponse.getStatus() : refused && refused.message;
  check(refusedStatus === 403, `an upload with the cookie and no X-CSRF-Token: ${refusedStatus}`);

  const upload = await runUpload(fs.readFileSync(file), {
    endpoint: daemon.endpoint,
    headers: { Cookie: session.cookie, 'X-CSRF-Token': session.csrf },
    metadata: { filename: path.basename(file), title: 'by a person', visibility: 'private' },
    chunkSize: CHUNK,
  });
  check(upload.url, 'the upload has no URL');
  const video = await checkStored(daemon, file, 'by a person');
  check(video.visibility === 'private', `the upload's visibility is ${video.visibility}`);
  const owner = video.owner && typeof video.owner === 'object' ? video.owner.id : video.owner_id;
  check(owner === session.user.id, `the video's owner is ${JSON.stringify(video.owner ?? video.owner_id)}, not ${name}`);
  return `403 without the token; with it, a private video of ${name}`;
}

async function main() {
  fs.mkdirSync(TMP_ROOT, { recursive: true });
  const dir = fs.mkdtempSync(path.join(TMP_ROOT, 'e2e-tus-'));
  const started = Date.now();
  let passed = 0;
  let failed = 0;
  const run = async (name, fn, daemonOf = () => daemon) => {
    const t0 = Date.now();
    try {
      const detail = await fn();
      passed += 1;
      console.log(`ok   ${name}: ${detail} (${Date.now() - t0} ms)`);
    } catch (error) {
      failed += 1;
      console.error(`FAIL ${name}: ${error && error.stack ? error.stack : error}`);
      const tail = daemonOf() ? daemonOf().log.trim().split('\n').slice(-6).join('\n  ') : '';
      if (tail) console.error(`  daemon log tail:\n  ${tail}`);
    }
  };
  const daemon = await new TusDaemon(path.join(dir, 'data')).start();
  try {
    await run('a1. plain upload, 256 KiB chunks from an fs stream', () => casePlainChunked(daemon, dir));
    await run('a2. plain upload, default chunk size from a Buffer', () => casePlainWhole(daemon, dir));
    await run('b. abort, then resume with a new Upload from findPreviousUploads()', () => caseAbortAndResume(daemon, dir));
    await run('c. kill -9 the daemon mid-PATCH, restart, resume on the new port', () => caseKillAndResume(dir), () => null);
    await run('d. Upload-Checksum sha256 on every PATCH, one corrupted: 460 then retried', () => caseChecksum(daemon, dir));
    await run('e. a signed-in uploader: session cookie and X-CSRF-Token in headers', () => caseSession(daemon, dir));
  } finally {
    try {
      await daemon.stop();
    } catch (error) {
      failed += 1;
      console.error(`FAIL clean shutdown: ${error.message}`);
    }
  }
  if (failed === 0) fs.rmSync(dir, { recursive: true, force: true });
  else console.error(`daemon logs are in ${dir}`);
  console.log(`${passed} passed, ${failed} failed (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  process.exit(failed === 0 ? 0 : 1);
}

main().catch((error) => {
  console.error(`FAIL: ${error && error.stack ? error.stack : error}`);
  process.exit(1);
});
