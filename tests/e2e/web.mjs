// End-to-end through the web page only, in headless Debian Chromium (playwright-core):
//   1. the admin signs in through the page's dialog (the header then names them);
//   2. a clip chosen with the file input uploads (tus) to 100 %, its card shows the
//      processing progress, then the poster; a watch page opened while the job runs shows
//      the seek-bar previews once the job is done; the library fits a 390x844 phone;
//      a slow answer to an older search, or to "More", does not replace a newer search's;
//      failed videos and ready ones without a poster are not polled; the upload's row
//      follows the video's job to "Ready";
//   3. the player plays it (hls.js), the quality menu's lowest rung changes videoHeight,
//      hovering the seek bar shows a tile of the trickplay sprite, the page fits a phone,
//      a title edit survives a reload, delete (confirmed) removes the card;
//   4. a non-video file shows the server's own refusal message, and refused uploads are not
//      kept for resuming; unfinished uploads are listed with the bytes the server has, one
//      the server no longer knows is dropped, Discard terminates one;
//   5. an upload interrupted by killing the daemon resumes once it is back, and completes;
//   6. with auth.require_key_for_reads, the library and the watch page ask someone signed
//      out to sign in and then work, hls.js included; after a cancel the library does not
//      ask again on its own (a search), only from the "Sign in" button.
// Screenshots library.png and player.png, and the phone-sized library-phone.png,
// player-phone.png and unfinished-phone.png go to CINEVAULT_SCREENSHOT_DIR.
//
// Env: CINEVAULT_BINARY, CINEVAULT_TEST_TMP, CINEVAULT_SCREENSHOT_DIR, CHROMIUM
// (default /usr/bin/chromium); CINEVAULT_WEB_DIR=<repo>/web serves the page from the
// checkout instead of the copy built into the binary.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { ADMIN_PASSWORD, check, Daemon, setAdminPassword, sleep, TestFailure } from './daemon.mjs';

let launchChromium;
try {
  ({ launchChromium } = await import('./chromium.mjs'));
} catch (error) {
  console.error(`FAIL: cannot load playwright-core (run 'npm ci' in tests/e2e): ${error.message}`);
  process.exit(2);
}

const BINARY = process.env.CINEVAULT_BINARY;
const TMP_ROOT = process.env.CINEVAULT_TEST_TMP || os.tmpdir();
const SHOTS = process.env.CINEVAULT_SCREENSHOT_DIR || path.join(TMP_ROOT, 'screenshots');
if (!BINARY) {
  console.error('FAIL: set CINEVAULT_BINARY to the cinevault binary');
  process.exit(2);
}
const t0 = Date.now();
const log = (text) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1)}s] ${text}`);

function ffmpeg(...args) {
  const result = spawnSync('ffmpeg', ['-v', 'error', '-y', ...args], { stdio: 'inherit' });
  check(result.status === 0, `ffmpeg ${args.join(' ')} failed`);
}

async function waitFor(label, predicate, timeoutMs = 30000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    try {
      last = await predicate();
      if (last) return last;
    } catch (error) {
      last = error.message;
    }
    await sleep(100);
  }
  throw new TestFailure(`${label}: not within ${timeoutMs} ms (last: ${JSON.stringify(last)})`);
}

// No sideways scrolling on a phone (390x844 CSS pixels); names the elements that stick out.
// A screenshot of the page at that size goes to SHOTS/<shot>.png.
async function checkFitsPhone(page, what, shot) {
  await page.mouse.move(0, 0);  // no hover left over: a seek-bar preview placed for the wide layout
  await page.setViewportSize({ width: 390, height: 844 });
  const fit = await page.evaluate(() => ({
    scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth,
    seekWidth: document.getElementById('seek') && document.getElementById('seek').getBoundingClientRect().width,
    wide: [...document.querySelectorAll('body *')].filter((e) => e.getBoundingClientRect().right > window.innerWidth)
      .slice(0, 5).map((e) => `${e.tagName.toLowerCase()}${e.id ? `#${e.id}` : ''}.${e.className}`),
  }));
  await page.screenshot({ path: path.join(SHOTS, `${shot}.png`), fullPage: true });
  await page.setViewportSize({ width: 1280, height: 800 });
  check(fit.scrollWidth <= fit.innerWidth,
    `${what} at 390x844: scrollWidth ${fit.scrollWidth} > ${fit.innerWidth} (${fit.wide.join(', ')})`);
  // Fitting by squeezing the seek bar to a few pixels does not count.
  check(fit.seekWidth === null || fit.seekWidth >= 300, `${what} at 390x844: the seek bar is ${fit.seekWidth} px wide`);
  log(`PASS ${what} fits a 390x844 phone`);
}

// The tus uploads the page keeps for resuming, by file name.
const storedUploads = (page) => page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('tus::'))
  .map((k) => ({ key: k, ...JSON.parse(localStorage.getItem(k)) })));
const storedNames = async (page) => (await storedUploads(page)).map((u) => u.metadata && u.metadata.filename);

// Fills in the sign-in dialog (open, or about to open) as the admin.
async function signInWhenAsked(page) {
  await page.waitForSelector('#sign-in-dialog[open]');
  await page.fill('#sign-in-name', 'admin');
  await page.fill('#sign-in-password', ADMIN_PASSWORD);
  await page.click('#sign-in-dialog button.primary');
  await page.waitForSelector('#sign-in-dialog[open]', { state: 'detached' });
}

// A held request: the route waits until release() is called.
function gate() {
  let release;
  const opened = new Promise((resolve) => { release = resolve; });
  return { opened, release };
}

fs.mkdirSync(TMP_ROOT, { recursive: true });
fs.mkdirSync(SHOTS, { recursive: true });
const scratch = fs.mkdtempSync(path.join(TMP_ROOT, 'web-'));
const clip = path.join(scratch, 'Holiday clip.mp4');
ffmpeg('-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
  '-t', '40', '-ac', '2', '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-c:a', 'aac', clip);
// About 77 MB (x264 lossless of noise): ten 8 MiB tus chunks, the last one partial, so the
// daemon can be killed between two of them.
const bigClip = path.join(scratch, 'Big upload.mp4');
ffmpeg('-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=25,noise=alls=40:allf=t', '-t', '2', '-c:v', 'libx264',
  '-preset', 'ultrafast', '-qp', '0', '-pix_fmt', 'yuv420p', bigClip);
const notVideo = path.join(scratch, 'notes.mp4');
fs.writeFileSync(notVideo, 'These are my notes, not a video.\n'.repeat(100));

// The default x264 preset: slow enough that the card's processing progress can be seen.
const args = [];
if (process.env.CINEVAULT_WEB_DIR) args.push('--web.dir', process.env.CINEVAULT_WEB_DIR);
setAdminPassword(BINARY, path.join(scratch, 'data'));
const daemon = await new Daemon(BINARY, path.join(scratch, 'data'), args).start();
log(`daemon at ${daemon.base}`);
const browser = await launchChromium({
  viewport: { width: 1280, height: 800 }, args: ['--autoplay-policy=no-user-gesture-required'],
});
const problems = [];
let failed = false;
async function newPage() {
  const page = await browser.newPage();
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    // CSP refusals show up here: the page must need nothing its policy forbids.
    if (message.type() === 'error' && /Content Security Policy/i.test(message.text())) problems.push(message.text());
  });
  return page;
}
try {
  const page = await newPage();

  // 1. Signing in, through the dialog.
  await page.goto(`${daemon.base}/`);
  await page.click('#sign-in');
  await signInWhenAsked(page);
  await waitFor('the header names the admin', () => page.evaluate(() =>
    document.getElementById('user-name') && document.getElementById('user-name').textContent === 'admin'), 10000);
  await page.waitForSelector('#upload:not([hidden])');
  check(!(await page.evaluate(() => Object.keys(localStorage).some((k) => k.startsWith('cinevault.')))),
    'the page keeps something of the sign-in in localStorage');

  // 2. Upload with the file input; progress to 100 %; processing progress; poster.
  await page.evaluate(() => {
    // Remember every state a card shows, however briefly, and every text of the upload's row.
    window.__seen = new Set();
    new MutationObserver(() => {
      for (const card of document.querySelectorAll('.card')) {
        const text = card.querySelector('.job-text');
        window.__seen.add(`${card.dataset.state}:${text ? text.textContent : ''}`);
      }
    }).observe(document.getElementById('grid'), { childList: true, subtree: true });
    window.__rowSeen = new Set();
    new MutationObserver(() => {
      const text = document.querySelector('.upload-item[data-name="Holiday clip.mp4"] .upload-text');
      if (text) window.__rowSeen.add(text.textContent);
    }).observe(document.getElementById('uploads'), { childList: true, subtree: true });
  });
  await page.setInputFiles('#file-input', clip);
  await waitFor('upload bar at 100 %', () => page.evaluate(() => {
    const item = document.querySelector('.upload-item[data-name="Holiday clip.mp4"]');
    return item && item.querySelector('progress').value === 100 && item.classList.contains('done');
  }));
  log('PASS upload progress reached 100 %');
  const card = '.card:has(h3:text-is("Holiday clip"))';
  const clipId = await (await page.waitForSelector(card, { timeout: 15000 })).getAttribute('data-id');

  // The watch page opened while the job runs (it plays the growing stream) has no previews
  // yet; it must pick them up when the job has made them.
  const early = await newPage();
  const firstAnswer = early.waitForResponse((r) => new URL(r.url()).pathname === `/api/v1/videos/${clipId}`);
  await early.goto(`${daemon.base}/watch/${clipId}`);
  const first = await (await firstAnswer).json();
  check(first.state !== 'ready' && !(first.thumbnails && first.thumbnails.trickplay),
    `the job was done before the watch page opened (${first.state}): the previews-later check needs it running`);
  await waitFor('poster in the grid', () => page.evaluate((selector) => {
    const img = document.querySelector('.grid .card img');
    return img && img.complete && img.naturalWidth > 0 && img.currentSrc.includes('/objects/');
  }, card), 90000);
  const seen = await page.evaluate(() => [...window.__seen]);
  check(seen.some((s) => /^processing:.*\d+%/.test(s)), `the card never showed the job's progress: ${seen}`);
  log(`PASS card showed ${seen.filter((s) => !s.startsWith('ready')).slice(0, 4).join(' | ')}, then the poster`);
  const earlySeek = await early.locator('#seek').boundingBox();
  let step = 0;
  await waitFor('previews on the watch page opened while the job ran', async () => {
    step = (step + 1) % 5;
    await early.mouse.move(earlySeek.x + earlySeek.width * (0.3 + step * 0.1), earlySeek.y + earlySeek.height / 2);
    return early.evaluate(() => !document.getElementById('preview').hidden &&
      /\/objects\/[0-9a-f]{64}\.jpg/.test(document.querySelector('#preview .tile').style.backgroundImage));
  }, 20000);
  await early.close();
  log('PASS a watch page opened while the job ran shows the previews once they exist');
  // The upload's row follows the video as its card does: the job's progress, then ready.
  await waitFor('the card ready', () => page.evaluate((id) =>
    document.querySelector(`.card[data-id="${id}"]`).dataset.state === 'ready', clipId), 60000);
  await waitFor('the upload row ready once the card is', () => page.evaluate(() =>
    document.querySelector('.upload-item[data-name="Holiday clip.mp4"] .upload-text').textContent.startsWith('Ready')),
  5000);
  const rowSeen = await page.evaluate(() => [...window.__rowSeen]);
  check(rowSeen.some((s) => /^Uploaded · .*\d+%/.test(s)), `the upload row never showed the job's progress: ${rowSeen}`);
  log(`PASS the upload row showed ${rowSeen.filter((s) => s.startsWith('Uploaded')).slice(0, 3).join(' | ')}, then Ready`);
  await page.screenshot({ path: path.join(SHOTS, 'library.png') });
  await checkFitsPhone(page, 'the library (cards, uploads)', 'library-phone');

  // Search answers out of order: "holiday"'s answer is held until "nomatch" has been
  // answered and shown; when it comes, it must not replace it.
  const slowSearch = gate();
  const isHoliday = (url) => url.pathname === '/api/v1/videos' && url.searchParams.get('q') === 'holiday';
  const holdHoliday = async (route) => { await slowSearch.opened; await route.continue().catch(() => {}); };
  await page.route(isHoliday, holdHoliday);
  const holidayAsked = page.waitForRequest((r) => isHoliday(new URL(r.url())));
  await page.fill('#q', 'holiday');
  await holidayAsked;
  await page.fill('#q', 'nomatch');
  await waitFor('the newer search shown', () => page.evaluate(() =>
    document.getElementById('library-status').textContent.includes('nomatch')));
  const holidayAnswered = page.waitForResponse((r) => isHoliday(new URL(r.url())));
  slowSearch.release();
  await (await holidayAnswered).finished();
  await sleep(300);  // the page's own handling of the answer: microtasks and a render
  const afterRace = await page.evaluate(() => ({
    cards: document.querySelectorAll('#grid .card').length, status: document.getElementById('library-status').textContent,
  }));
  check(afterRace.cards === 0 && afterRace.status.includes('nomatch'),
    `the older search's late answer replaced the newer one's: ${JSON.stringify(afterRace)}`);
  await page.unroute(isHoliday, holdHoliday);
  log('PASS a late answer to an older search does not replace the newer one');

  // States a test cannot make the daemon produce on cue, from a scripted list: a failed video
  // and a ready one without a poster (neither is polled), and a next page whose answer comes
  // after a new search (it must not be added to that search's results).
  const fake = (id, state) => ({ id, title: `Fake ${state}`, description: '', tags: [], state,
    media: null, thumbnails: null, playback: null, job: null });
  const polled = [];
  const slowMore = gate();
  const isScripted = (url) => url.pathname.startsWith('/api/v1/videos') && !url.searchParams.get('q');
  const script = async (route) => {
    const url = new URL(route.request().url());
    if (url.pathname !== '/api/v1/videos') {
      polled.push(url.pathname);
      return route.fulfill({ json: fake(url.pathname.split('/').pop(), 'failed') });
    }
    if (url.searchParams.get('cursor')) {
      await slowMore.opened;
      return route.fulfill({ json: { videos: [fake('fake-stale', 'processing')], total: 3, next_cursor: null } });
    }
    return route.fulfill({ json: { videos: [fake('fake-failed', 'failed'), fake('fake-ready', 'ready')], total: 3,
      next_cursor: 'next' } });
  };
  await page.route(isScripted, script);
  await page.fill('#q', '');
  await page.waitForSelector('.card[data-id="fake-ready"]');
  await sleep(3000);  // three of the page's 1 s polling rounds
  check(polled.length === 0, `a failed or posterless ready video was polled: ${polled.join(', ')}`);
  log('PASS failed and ready videos are not polled');
  const moreAsked = page.waitForRequest((r) => new URL(r.url()).searchParams.has('cursor'));
  await page.click('#more');
  await moreAsked;
  await page.fill('#q', 'holiday');
  await page.waitForSelector(card);
  const moreAnswered = page.waitForResponse((r) => new URL(r.url()).searchParams.has('cursor'));
  slowMore.release();
  await (await moreAnswered).finished();
  await sleep(300);
  const ids = await page.evaluate(() => [...document.querySelectorAll('#grid .card')].map((c) => c.dataset.id));
  check(ids.length === 1 && ids[0] === clipId, `after a late "More" answer the grid holds ${ids}`);
  await page.unroute(isScripted, script);
  await page.fill('#q', '');
  await waitFor('the whole library again', () => page.evaluate(() => !document.getElementById('library-status').textContent.includes('matching')));
  log('PASS a late "More" answer is not added to a newer search');

  // 3. The player.
  await page.click(`${card} a`);
  await page.waitForURL(/\/watch\//);
  await waitFor('playback advances', () => page.evaluate(() => document.getElementById('video').currentTime > 1.5), 30000);
  log('PASS the player plays');
  const options = await page.evaluate(() => [...document.querySelectorAll('#quality option')].map((o) => o.textContent));
  check(options.includes('240p') && options.includes('360p'), `quality menu: ${options}`);
  await page.selectOption('#quality', { label: '240p' });
  await waitFor('videoHeight 240 after choosing 240p', () => page.evaluate(() => document.getElementById('video').videoHeight === 240), 30000);
  log('PASS quality 240p gives videoHeight 240');
  const seekBox = await page.locator('#seek').boundingBox();
  await page.mouse.move(seekBox.x + seekBox.width * 0.6, seekBox.y + seekBox.height / 2);
  const tile = await waitFor('seek-bar preview tile', () => page.evaluate(() => {
    const preview = document.getElementById('preview');
    const t = preview.querySelector('.tile');
    return !preview.hidden && /\/objects\/[0-9a-f]{64}\.jpg/.test(t.style.backgroundImage) &&
      { image: t.style.backgroundImage, position: t.style.backgroundPosition, width: t.getBoundingClientRect().width };
  }));
  check(tile.width === 160, `tile width ${tile.width}`);
  log(`PASS hover shows the sprite tile ${tile.position}`);
  await page.screenshot({ path: path.join(SHOTS, 'player.png') });
  await checkFitsPhone(page, 'the watch page (player, metadata form)', 'player-phone');

  await page.fill('#title', 'Summer holiday');
  await page.click('#edit button.primary');
  await waitFor('saved', () => page.evaluate(() => document.getElementById('edit-status').textContent === 'Saved'));
  await page.reload();
  await waitFor('title after reload', () => page.evaluate(() => document.getElementById('title').value === 'Summer holiday'));
  log('PASS the title edit persists after a reload');
  await page.click('#delete');
  await page.click('#confirm-delete button[value=delete]');
  await page.waitForURL(`${daemon.base}/`);
  await waitFor('library loaded', () => page.evaluate(() => document.getElementById('library-status').textContent !== ''));
  check(await page.locator('.card').count() === 0, 'the deleted video still has a card');
  log('PASS delete removes the card');

  // 4. A file that is not a video: the server's own message is shown.
  const refusal = await fetch(`${daemon.base}/api/v1/videos?title=x`, {
    method: 'PUT', headers: { Authorization: `Bearer ${daemon.key}` }, body: fs.readFileSync(notVideo),
  });
  const expected = (await refusal.json()).error.message;
  check(refusal.status === 415 && expected, `PUT of the text file: ${refusal.status} ${expected}`);
  await page.setInputFiles('#file-input', notVideo);
  const shown = await waitFor('refusal shown', () => page.evaluate(() => {
    const item = document.querySelector('.upload-item[data-name="notes.mp4"].failed');
    return item && item.querySelector('.upload-text').textContent;
  }));
  check(shown.includes(expected), `the page says "${shown}", the server said "${expected}"`);
  log(`PASS a text file shows "${shown}"`);
  await waitFor('the refused upload forgotten', async () => !(await storedNames(page)).includes('notes.mp4'), 5000);

  // A chunk refused for good while the server keeps the upload (a proxy's 413, say): kept, it
  // would be listed as unfinished for as long as the server keeps it.
  const refusedFile = path.join(scratch, 'Refused chunk.mp4');
  fs.copyFileSync(notVideo, refusedFile);
  let refusedUrl;
  const refuseChunk = (route) => {
    if (route.request().method() !== 'PATCH') return route.continue();
    refusedUrl = route.request().url();
    return route.fulfill({ status: 413, json: { error: { code: 'too_large', message: 'the chunk is over the proxy limit' } } });
  };
  await page.route('**/api/v1/uploads/*', refuseChunk);
  await page.setInputFiles('#file-input', refusedFile);
  await page.waitForSelector('.upload-item[data-name="Refused chunk.mp4"].failed');
  await page.unroute('**/api/v1/uploads/*', refuseChunk);
  const kept = await fetch(refusedUrl, { method: 'HEAD', headers: { 'Tus-Resumable': '1.0.0', ...daemon.auth } });
  check(kept.status === 200, `the server should still have the refused upload: HEAD ${kept.status}`);
  await waitFor('the 413-refused upload forgotten', async () => !(await storedNames(page)).includes('Refused chunk.mp4'), 5000);
  log('PASS uploads refused for good are not kept for resuming');

  // 4b. Unfinished uploads: the tab closed (here: reloaded) mid-upload. The list shows what
  // the server has of it; an upload the server no longer knows is dropped; Discard removes it.
  const slowPatch = async (route) => {
    if (route.request().method() === 'PATCH') await sleep(400);
    await route.continue().catch(() => {});
  };
  await page.route('**/api/v1/uploads/*', slowPatch);
  await page.setInputFiles('#file-input', bigClip);
  await waitFor('first chunks before the reload', () => page.evaluate(() => {
    const bar = document.querySelector('.upload-item[data-name="Big upload.mp4"] progress');
    return bar && bar.value > 15;
  }), 30000);
  await page.evaluate((base) => localStorage.setItem('tus::gone-fingerprint::1', JSON.stringify({
    size: 10, metadata: { filename: 'Gone.mp4' }, creationTime: new Date().toString(),
    uploadUrl: `${base}/api/v1/uploads/0123456789abcdef0123456789abcdef`,
  })), daemon.base);
  await page.reload();
  await page.unroute('**/api/v1/uploads/*', slowPatch);
  const unfinished = '#resumable-list .upload-item[data-name="Big upload.mp4"]';
  const sentText = await waitFor('the unfinished upload listed with its bytes', () => page.evaluate((s) => {
    const text = document.querySelector(`${s} .upload-text`);
    return text && /MB of .*MB sent/.test(text.textContent) && text.textContent;
  }, unfinished));
  await waitFor('the upload the server does not know dropped', async () => !(await storedNames(page)).includes('Gone.mp4') &&
    await page.locator('#resumable-list [data-name="Gone.mp4"]').count() === 0);
  log(`PASS unfinished upload listed: "${sentText}"; an unknown one dropped`);
  await checkFitsPhone(page, 'the library (unfinished uploads)', 'unfinished-phone');
  const bigUrl = (await storedUploads(page)).find((u) => u.metadata.filename === 'Big upload.mp4').uploadUrl;
  await page.click(`${unfinished} button`);
  await waitFor('Discard removes the row and the stored URL', async () => await page.locator(unfinished).count() === 0 &&
    !(await storedNames(page)).includes('Big upload.mp4'));
  const discarded = await fetch(new URL(bigUrl, daemon.base), { method: 'HEAD', headers: { 'Tus-Resumable': '1.0.0', ...daemon.auth } });
  check(discarded.status === 404, `HEAD of the discarded upload: ${discarded.status}`);
  log('PASS Discard terminates the upload on the server');

  // 5. Kill the daemon during an upload; restart it on the same port and data: it resumes.
  let patches = 0;
  await page.route('**/api/v1/uploads/*', async (route) => {
    if (route.request().method() === 'PATCH') {
      patches += 1;
      await sleep(400);  // slow enough to stop the daemon between chunks
    }
    await route.continue().catch(() => {});
  });
  await page.setInputFiles('#file-input', bigClip);
  const bigItem = '#uploads .upload-item[data-name="Big upload.mp4"]';
  await waitFor('first chunks of the big upload', () => page.evaluate((s) => {
    const bar = document.querySelector(`${s} progress`);
    return bar && bar.value > 15;
  }, bigItem), 30000);
  await daemon.kill9();
  log('daemon killed mid-upload');
  await sleep(1500);
  await daemon.start();
  log(`daemon restarted at ${daemon.base}`);
  await waitFor('interrupted upload completes', () => page.evaluate((s) => {
    const item = document.querySelector(s);
    return item && item.classList.contains('done');
  }, bigItem), 90000);
  const { videos } = await daemon.getJson('/api/v1/videos?q=Big%20upload', daemon.auth);  // a key sees the source
  check(videos.length === 1, `after the resumed upload: ${JSON.stringify(videos.map((v) => v.title))}`);
  const source = fs.readFileSync(bigClip);
  const original = await fetch(`${daemon.base}/objects/${videos[0].source.sha256}.mp4`, { headers: daemon.auth });
  const stored = Buffer.from(await original.arrayBuffer());
  check(stored.equals(source), 'the resumed upload is not byte-exact');
  log(`PASS the upload resumed after a daemon restart (${patches} PATCH requests) and is byte-exact`);
  await page.unrouteAll({ behavior: 'ignoreErrors' });

  // 6. auth.require_key_for_reads: every API read needs the key, but the page's own files
  // stay open (a browser cannot send a key when it loads a page, a script or a style sheet).
  const bigId = videos[0].id;
  await waitFor('the resumed upload transcoded', async () => (await daemon.getJson(`/api/v1/videos/${bigId}`, daemon.auth)).state === 'ready', 120000);
  await daemon.stop();
  daemon.args.push('--auth.require_key_for_reads', 'true');
  await daemon.start();
  const anonymous = await fetch(`${daemon.base}/api/v1/videos`);
  check(anonymous.status === 401, `GET /api/v1/videos without a key: ${anonymous.status}`);
  for (const path of ['/', `/watch/${bigId}`, '/assets/library.js', '/assets/vendor/hls.min.js']) {
    const file = await fetch(`${daemon.base}${path}`);
    check(file.status === 200, `GET ${path} without a key when reads need one: ${file.status}`);
  }
  // Signed out (the session cookie gone, as in a new browser).
  await browser.clearCookies();
  await page.goto(`${daemon.base}/`);
  // Cancelled: the page says what it needs, and a later read (a search) does not ask again.
  await page.waitForSelector('#sign-in-dialog[open]');
  await page.click('#sign-in-dialog button[value=cancel]');
  await waitFor('the library says it needs a sign-in', () => page.evaluate(() =>
    document.getElementById('library-status').textContent.includes('“Sign in” button')));
  const searched = page.waitForResponse((r) => new URL(r.url()).searchParams.get('q') === 'big');
  await page.fill('#q', 'big');
  check((await searched).status() === 401, 'the search after the cancel was not refused');
  await sleep(500);  // the page's handling of the answer
  check(!(await page.evaluate(() => document.getElementById('sign-in-dialog').open)),
    'after a cancel, a search asked for a sign-in again');
  await page.click('#sign-in');
  await signInWhenAsked(page);
  await page.waitForSelector(`.card[data-id="${bigId}"]`);
  log('PASS reads need a user: the library asks once, then only from the button, then shows the videos');
  await browser.clearCookies();
  await page.goto(`${daemon.base}/watch/${bigId}`);
  await signInWhenAsked(page);
  await waitFor('playback once signed in', () => page.evaluate(() => {
    const v = document.getElementById('video');
    return v.currentTime > 1 || v.ended;
  }), 30000);
  log('PASS reads need a user: the watch page asks for a sign-in, and hls.js plays with the session');

  check(problems.length === 0, `page problems: ${problems.join('; ')}`);
} catch (error) {
  failed = true;
  console.error(`FAIL: ${error.message}`);
  if (!(error instanceof TestFailure)) console.error(error.stack);
  console.error(`daemon log tail:\n${daemon.log.slice(-3000)}`);
} finally {
  await browser.close().catch(() => {});
  await daemon.stop().catch((error) => { failed = true; console.error(`FAIL: ${error.message}`); });
}
if (failed) process.exit(1);
console.log(`\nOK web page: upload, progress, poster, late previews, search and paging races, polling, phone width, play, ` +
  `quality, previews, edit, delete, refusal, unfinished uploads, resume, sign-in for reads in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
