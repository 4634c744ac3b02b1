// End-to-end: accounts, visibility, share links and watch progress through the web page,
// in headless Debian Chromium (playwright-core), one browser context per person:
//   1. the admin signs in (the header shows the name, the Users button) and creates in the
//      Users dialog the uploader alice and the viewer bob; the server's refusals (a taken
//      name, a weak password, removing the last admin) are shown as it words them; a third
//      user's role is changed, their password set, and they are removed;
//   2. alice (an uploader: the upload form, no Users button) uploads a clip with the
//      visibility "private" chosen; its card says so;
//   3. bob (a viewer: no upload form) is told a wrong password, then signs in; he never sees
//      the private video: not in the library, not in search, and its API entry, master and
//      media playlists, a segment, a thumbnail and its source answer 404 from his page (the
//      same URLs answer 200 for alice);
//   4. alice shares it: the HLS link is on the clipboard and both links are shown; someone
//      signed out opens the watch link and it plays as "Shared video";
//   5. alice makes it unlisted: bob's /watch/{id} plays it, his library still does not list it;
//   6. bob's progress is kept: paused, reloaded, "Continue watching" shows it, and the
//      watch page resumes there;
//   7. a form on another origin (the same site: another port) posts to the API with the
//      admin's cookie: refused 403, no user made, no link made; a page's own change without
//      the X-CSRF-Token header is refused too;
//   8. bob signs out: the page shows the sign-in, a library video's entry is no longer his
//      (401/404), and the old cookie opens nothing;
//   9. repeated wrong passwords for one name are answered 429 with Retry-After, even when
//      the right one comes next, and the sign-in dialog shows the server's word and the wait.
// Screenshots users.png, share.png and continue.png go to CINEVAULT_SCREENSHOT_DIR.
//
// Env: CINEVAULT_BINARY, CINEVAULT_TEST_TMP, CINEVAULT_SCREENSHOT_DIR, CHROMIUM (default
// /usr/bin/chromium); CINEVAULT_WEB_DIR=<repo>/web serves the page from the checkout.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';

import { ADMIN_PASSWORD, check, Daemon, setAdminPassword, sleep, TestFailure } from './daemon.mjs';

let launchChromiumBrowser;
try {
  ({ launchChromiumBrowser } = await import('./chromium.mjs'));
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

const ALICE = { name: 'alice', password: 'alice uploads films', role: 'uploader' };
const BOB = { name: 'bob', password: 'bob only watches', role: 'viewer' };

function ffmpeg(...args) {
  const result = spawnSync('ffmpeg', ['-v', 'error', '-y', ...args], { stdio: 'inherit' });
  check(result.status === 0, `ffmpeg ${args.join(' ')} failed`);
}

// A small clip: 320x180 H.264 + AAC, `seconds` long, of its own pattern and tone. Clips with
// the same picture would share their video segments (the same bytes, one object), and an
// object is served to whoever may watch one of the videos that use it.
function makeClip(file, seconds, pattern, frequency) {
  ffmpeg('-f', 'lavfi', '-i', `${pattern}=size=320x180:rate=25`, '-f', 'lavfi', '-i', `sine=frequency=${frequency}:sample_rate=48000`,
    '-t', String(seconds), '-ac', '2', '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-g', '50',
    '-c:a', 'aac', '-b:a', '64k', file);
  return file;
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
    await sleep(150);
  }
  throw new TestFailure(`${label}: not within ${timeoutMs} ms (last: ${JSON.stringify(last)})`);
}

fs.mkdirSync(TMP_ROOT, { recursive: true });
fs.mkdirSync(SHOTS, { recursive: true });
const scratch = fs.mkdtempSync(path.join(TMP_ROOT, 'accounts-'));
const clip = makeClip(path.join(scratch, 'Private diary.mp4'), 12, 'testsrc2', 523);
const libraryClip = makeClip(path.join(scratch, 'Everyone sees this.mp4'), 4, 'smptebars', 659);

const dataDir = path.join(scratch, 'data');
setAdminPassword(BINARY, dataDir);
const args = ['--pipeline.x264_preset', 'ultrafast'];
if (process.env.CINEVAULT_WEB_DIR) args.push('--web.dir', process.env.CINEVAULT_WEB_DIR);
const daemon = await new Daemon(BINARY, dataDir, args).start();
log(`daemon at ${daemon.base}`);

// The other origin of step 7: same host, another port (so the same site: SameSite=Lax lets
// the cookie go along, and only the server's CSRF check stands in the way).
const forms = new Map();  // path → HTML
const attacker = http.createServer((request, response) => {
  const page = forms.get(new URL(request.url, 'http://x').pathname);
  response.writeHead(page ? 200 : 404, { 'Content-Type': 'text/html; charset=utf-8' });
  response.end(page || 'not here');
});
await new Promise((resolve) => attacker.listen(0, '127.0.0.1', resolve));
const attackerBase = `http://127.0.0.1:${attacker.address().port}`;

const browser = await launchChromiumBrowser({ args: ['--autoplay-policy=no-user-gesture-required'] });
const problems = [];
let failed = false;

// One person's browser: a context of its own (its own cookies and storage) and a page.
async function person(label) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  page.on('pageerror', (error) => problems.push(`${label}: page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error' && /Content Security Policy/i.test(message.text())) problems.push(`${label}: ${message.text()}`);
  });
  return { context, page };
}

// Signs in through the header's button and the dialog; waits for the header to say who.
async function signIn(page, user) {
  await page.click('#sign-in');
  await page.waitForSelector('#sign-in-dialog[open]');
  await page.fill('#sign-in-name', user.name);
  await page.fill('#sign-in-password', user.password);
  await page.click('#sign-in-dialog button.primary');
  await page.waitForSelector('#sign-in-dialog[open]', { state: 'detached' });
  await waitFor(`${user.name} shown in the header`, () => page.evaluate(() =>
    document.getElementById('user-name') && document.getElementById('user-name').textContent), 10000)
    .then((name) => check(name === user.name, `the header says ${name}, not ${user.name}`));
}

// Statuses of GETs made from the page (with its cookie, as its own scripts would).
const statusesFrom = (page, urls) => page.evaluate((list) => Promise.all(list.map((url) =>
  fetch(url, { cache: 'no-store' }).then((r) => r.status, (e) => `error ${e.message}`))), urls);

// The video's URLs a viewer must not reach: its entry, master and one media playlist, a
// segment named in that playlist, a thumbnail and the source. Read with the admin key.
async function urlsOf(id) {
  const video = await daemon.getJson(`/api/v1/videos/${id}`, daemon.auth);
  const masterUrl = `${daemon.base}/videos/${id}/master.m3u8`;
  const master = await (await fetch(masterUrl, { headers: daemon.auth })).text();
  const uri = master.split('\n').find((line) => line && !line.startsWith('#'));
  check(uri, `no media playlist in the master:\n${master}`);
  const mediaUrl = new URL(uri.trim(), masterUrl);
  const media = await (await fetch(mediaUrl, { headers: daemon.auth })).text();
  const segment = media.split('\n').find((line) => /\.m4s(\?|$)/.test(line.trim()));
  check(segment, `no segment in ${mediaUrl}:\n${media}`);
  const segmentUrl = new URL(segment.trim(), mediaUrl);
  check(segmentUrl.pathname.startsWith('/objects/'), `the segment is not an /objects/ URL: ${segmentUrl}`);
  const thumbnail = video.thumbnails && video.thumbnails.poster && video.thumbnails.poster[0].jpeg;
  check(thumbnail, `no thumbnail: ${JSON.stringify(video.thumbnails)}`);
  check(video.source && video.source.sha256, 'the key does not see the source');
  return {
    entry: `/api/v1/videos/${id}`,
    master: `/videos/${id}/master.m3u8`,
    media: mediaUrl.pathname + mediaUrl.search,
    segment: segmentUrl.pathname,
    thumbnail,
    source: `/objects/${video.source.sha256}.mp4`,
  };
}

try {
  // 1. The admin signs in and makes the users in the Users dialog.
  const admin = await person('admin');
  await admin.page.goto(`${daemon.base}/`);
  await admin.page.waitForSelector('#sign-in');
  check(await admin.page.locator('#upload').isHidden(), 'the upload form is shown to someone signed out');
  await signIn(admin.page, { name: 'admin', password: ADMIN_PASSWORD });
  check(await admin.page.textContent('#user-role') === 'admin', 'the header does not say admin');
  await admin.page.click('#users-button');
  await admin.page.waitForSelector('#users-dialog[open] #users-list tr[data-name="admin"]');
  const say = () => admin.page.textContent('#users-status');
  const createUser = async (user) => {
    await admin.page.fill('#user-create input[name=name]', user.name);
    await admin.page.selectOption('#user-create select[name=role]', user.role);
    await admin.page.fill('#user-create input[name=password]', user.password);
    await admin.page.click('#user-create button.primary');
  };
  for (const user of [ALICE, BOB]) {
    await createUser(user);
    await admin.page.waitForSelector(`#users-list tr[data-name="${user.name}"]`);
    check(await admin.page.inputValue(`#users-list tr[data-name="${user.name}"] select.role`) === user.role,
      `${user.name}'s row does not say ${user.role}`);
  }
  const { users } = await daemon.getJson('/api/v1/users', daemon.auth);
  for (const user of [ALICE, BOB]) {
    check(users.some((u) => u.name === user.name && u.role === user.role && u.has_password),
      `the server does not have ${user.name} as ${user.role}: ${JSON.stringify(users)}`);
  }
  log('PASS the admin signs in and creates an uploader and a viewer in the Users dialog');

  // The server's refusals, in its own words.
  const refusedWith = async (label, status, attempt) => {
    const answer = admin.page.waitForResponse((r) => r.url().includes('/api/v1/users') && r.request().method() !== 'GET');
    await attempt();
    const response = await answer;
    check(response.status() === status, `${label}: ${response.status()}, not ${status}`);
    const message = (await response.json()).error.message;
    await waitFor(`${label}: the server's message shown`, async () => (await say()).includes(message), 5000);
    return message;
  };
  const taken = await refusedWith('a taken name', 409, () => createUser({ ...BOB, name: 'BOB' }));
  const weak = await refusedWith('a weak password', 400, () => createUser({ name: 'carol', role: 'viewer', password: 'short' }));
  const adminRow = '#users-list tr[data-name="admin"]';
  const lastAdmin = await refusedWith('removing the last admin', 409, async () => {
    await admin.page.click(`${adminRow} button.danger`);
    await admin.page.click(`${adminRow} button.confirm`);
  });
  log(`PASS refusals shown as the server words them: "${taken}" | "${weak}" | "${lastAdmin}"`);

  // A third user: role changed, password set (it signs in with it), removed.
  const carol = { name: 'carol', role: 'viewer', password: 'carol for a while' };
  await createUser(carol);
  const carolRow = '#users-list tr[data-name="carol"]';
  await admin.page.waitForSelector(carolRow);
  await admin.page.selectOption(`${carolRow} select.role`, 'uploader');
  await waitFor('carol an uploader', async () => (await daemon.getJson('/api/v1/users', daemon.auth)).users
    .some((u) => u.name === 'carol' && u.role === 'uploader'), 5000);
  await admin.page.fill(`${carolRow} .set-password input[type=password]`, 'carol has a new one');
  await admin.page.click(`${carolRow} .set-password button`);
  await waitFor('the new password saved', async () => (await say()).includes('new password'), 5000);
  await daemon.signIn('carol', 'carol has a new one');
  await admin.page.click(`${carolRow} button.danger`);
  await admin.page.click(`${carolRow} button.confirm`);
  await admin.page.waitForSelector(carolRow, { state: 'detached' });
  check(!(await daemon.getJson('/api/v1/users', daemon.auth)).users.some((u) => u.name === 'carol'), 'carol was not removed');
  await admin.page.screenshot({ path: path.join(SHOTS, 'users.png') });
  await admin.page.click('#user-create button[value=close]');
  log('PASS a role changed, a password set (it signs in), a user removed');

  // A video in the library (the default visibility) for step 8, by the admin's key.
  const libraryId = await daemon.upload(libraryClip, 'Everyone sees this', 'library');

  // 2. alice uploads the clip as private.
  const alice = await person('alice');
  await alice.page.goto(`${daemon.base}/`);
  await signIn(alice.page, ALICE);
  await alice.page.waitForSelector('#upload:not([hidden])');
  check(await alice.page.locator('#users-button').isHidden(), 'an uploader sees the Users button');
  check(await alice.page.inputValue('#upload-visibility') === 'library', 'the upload visibility is not "library" by default');
  await alice.page.selectOption('#upload-visibility', 'private');
  await alice.page.setInputFiles('#file-input', clip);
  const privateCard = '.card:has(h3:text-is("Private diary"))';
  const id = await (await alice.page.waitForSelector(privateCard, { timeout: 30000 })).getAttribute('data-id');
  check(await alice.page.getAttribute(privateCard, 'data-visibility') === 'private', 'the card does not say private');
  check((await alice.page.textContent(`${privateCard} .badge`)).includes('private'), 'no "private" badge on the card');
  const uploaded = await daemon.getJson(`/api/v1/videos/${id}`, daemon.auth);
  check(uploaded.visibility === 'private', `the upload is ${uploaded.visibility}`);
  await waitFor('the clip transcoded', async () => {
    const v = await daemon.getJson(`/api/v1/videos/${id}`, daemon.auth);
    check(v.state !== 'failed', `the clip failed: ${JSON.stringify(v.job)}`);
    return v.state === 'ready' && v.thumbnails;
  }, 180000);
  await waitFor('the library video transcoded', async () =>
    (await daemon.getJson(`/api/v1/videos/${libraryId}`, daemon.auth)).state === 'ready', 180000);
  log(`PASS alice uploaded ${id} as private; the card says so`);

  // 3. bob: a wrong password first, then in; the private video is nowhere for him.
  const bob = await person('bob');
  await bob.page.goto(`${daemon.base}/`);
  await bob.page.click('#sign-in');
  await bob.page.fill('#sign-in-name', BOB.name);
  await bob.page.fill('#sign-in-password', 'not his password');
  await bob.page.click('#sign-in-dialog button.primary');
  const wrong = await waitFor('the wrong password refused in the dialog', () => bob.page.evaluate(() =>
    document.getElementById('sign-in-dialog').open && document.querySelector('#sign-in-dialog .error').textContent), 10000);
  check(/wrong user name or password/i.test(wrong), `the dialog says "${wrong}"`);
  await bob.page.click('#sign-in-dialog button[value=cancel]');
  await signIn(bob.page, BOB);
  check(await bob.page.locator('#upload').isHidden(), 'a viewer sees the upload form');
  check(await bob.page.locator('#users-button').isHidden(), 'a viewer sees the Users button');
  await bob.page.waitForSelector(`.card[data-id="${libraryId}"]`, { timeout: 15000 });
  check(await bob.page.locator(`.card[data-id="${id}"]`).count() === 0, 'bob\'s library lists the private video');
  await bob.page.fill('#q', 'diary');
  await waitFor('bob\'s search answered', () => bob.page.evaluate(() =>
    document.getElementById('library-status').textContent.includes('diary')), 10000);
  check(await bob.page.locator('.card').count() === 0, 'bob\'s search finds the private video');
  const urls = await urlsOf(id);
  const forBob = await statusesFrom(bob.page, Object.values(urls));
  const forAlice = await statusesFrom(alice.page, Object.values(urls));
  const table = Object.keys(urls).map((k, i) => `${k} ${forAlice[i]}/${forBob[i]}`).join(', ');
  check(forAlice.every((s) => s === 200), `alice cannot reach her own video's URLs (alice/bob): ${table}`);
  check(forBob.every((s) => s === 404), `bob reaches the private video (alice/bob): ${table}`);
  const searched = await statusesFrom(bob.page, ['/api/v1/videos?q=diary']);
  check(searched[0] === 200, `bob's search: ${searched[0]}`);
  const bobSearch = await bob.page.evaluate(() => fetch('/api/v1/videos?q=diary').then((r) => r.json()));
  check(bobSearch.total === 0 && bobSearch.videos.length === 0, `the API search lists it for bob: ${JSON.stringify(bobSearch)}`);
  await bob.page.goto(`${daemon.base}/watch/${id}`);
  await waitFor('bob\'s watch page says no such video', () => bob.page.evaluate(() =>
    document.getElementById('player-status').textContent.includes('No such video')), 10000);
  log(`PASS bob never sees the private video (alice/bob: ${table}); search and the watch page agree`);

  // 4. alice shares it; someone signed out plays the watch link.
  await alice.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: daemon.base });
  await alice.page.goto(`${daemon.base}/watch/${id}`);
  await alice.page.waitForSelector('#manage:not([hidden])', { timeout: 15000 });
  check(await alice.page.inputValue('#visibility') === 'private', 'the watch page\'s select does not say private');
  await alice.page.click('#share');
  await alice.page.waitForSelector('#share-links:not([hidden])', { timeout: 10000 });
  const hlsLink = await alice.page.inputValue('#share-hls');
  const watchLink = await alice.page.inputValue('#share-watch');
  check(new RegExp(`/videos/${id}/master\\.m3u8\\?share=`).test(hlsLink), `the HLS link: ${hlsLink}`);
  check(new RegExp(`/watch/${id}\\?share=`).test(watchLink), `the watch link: ${watchLink}`);
  const copied = await waitFor('the link on the clipboard', () => alice.page.evaluate(() => navigator.clipboard.readText()), 5000);
  check(copied === hlsLink, `the clipboard holds "${copied}", not the HLS link`);
  await alice.page.screenshot({ path: path.join(SHOTS, 'share.png') });
  const stranger = await person('stranger');
  await stranger.page.goto(watchLink.replace(/^https?:\/\/[^/]+/, daemon.base));
  await waitFor('the share link plays for someone signed out', () => stranger.page.evaluate(() =>
    document.getElementById('video').currentTime > 1), 30000);
  const strangerTitle = await stranger.page.textContent('#heading');
  check(/shared video/i.test(strangerTitle) || strangerTitle === 'Private diary', `the shared page's title: ${strangerTitle}`);
  check(!(await stranger.page.evaluate(() => document.getElementById('sign-in-dialog') &&
    document.getElementById('sign-in-dialog').open)), 'the share link\'s page asked for a password');
  const shared = new URL(hlsLink);
  const sharedMaster = await fetch(`${daemon.base}${shared.pathname}${shared.search}`);
  check(sharedMaster.status === 200, `the shared HLS link from Node: ${sharedMaster.status}`);
  await stranger.context.close();
  log(`PASS share: the HLS link copied, both links shown, the watch link plays signed out ("${strangerTitle}")`);

  // 5. alice makes it unlisted: bob can watch it by its link, his library still lacks it.
  await alice.page.selectOption('#visibility', 'unlisted');
  await waitFor('unlisted saved', async () => (await daemon.getJson(`/api/v1/videos/${id}`, daemon.auth)).visibility === 'unlisted', 10000);
  await bob.page.goto(`${daemon.base}/watch/${id}`);
  await waitFor('bob plays the unlisted video', () => bob.page.evaluate(() => document.getElementById('video').currentTime > 1), 30000);
  check(await bob.page.locator('#manage').isHidden() && await bob.page.locator('#edit').isHidden() &&
    await bob.page.locator('#delete-actions').isHidden(), 'a viewer sees the owner\'s controls');
  check(await bob.page.textContent('#heading') === 'Private diary', 'bob\'s watch page does not show the title');
  log('PASS unlisted: bob plays it from its link, without the owner\'s controls');

  // 6. bob's progress: pause past 3 s, the position is saved; the library lists it under
  // "Continue watching"; the watch page resumes there.
  await waitFor('past 3 s', () => bob.page.evaluate(() => document.getElementById('video').currentTime > 3), 30000);
  const puts = [];
  bob.page.on('response', (r) => {
    if (r.url().endsWith(`/api/v1/videos/${id}/progress`) && r.request().method() === 'PUT') puts.push(r.status());
  });
  const pausedAt = await bob.page.evaluate(() => {
    const v = document.getElementById('video');
    v.pause();
    return v.currentTime;
  });
  // A save made every 10 s of playing may be answered first: wait for the pause's position.
  const entry = await waitFor('the position at the pause saved', async () => {
    const e = await bob.page.evaluate((videoId) => fetch(`/api/v1/videos/${videoId}`).then((r) => r.json()), id);
    return e.progress && Math.abs(e.progress.position_s - pausedAt) < 0.5 && e;
  }, 10000);
  check(puts.length > 0 && puts.every((s) => s === 204), `PUT progress answered ${puts}`);
  await bob.page.goto(`${daemon.base}/`);
  await bob.page.waitForSelector(`#continue:not([hidden]) #continue-list .card[data-id="${id}"]`, { timeout: 15000 });
  const position = await bob.page.textContent(`#continue-list .card[data-id="${id}"] .position`);
  await bob.page.waitForSelector(`#grid .card[data-id="${libraryId}"]`);
  check(await bob.page.locator(`#grid .card[data-id="${id}"]`).count() === 0, 'bob\'s library lists the unlisted video');
  await bob.page.screenshot({ path: path.join(SHOTS, 'continue.png') });
  // The first time the player reports after the reload is where it resumed.
  await bob.page.addInitScript(() => {
    window.__times = [];
    document.addEventListener('timeupdate', (event) => window.__times.push(event.target.currentTime), true);
  });
  await bob.page.click(`#continue-list .card[data-id="${id}"] a`);
  await bob.page.waitForURL(/\/watch\//);
  const resumed = await waitFor('playback after the resume', () => bob.page.evaluate(() =>
    window.__times.find((t) => t > 0.05)), 30000);
  check(resumed >= pausedAt - 1, `the watch page started at ${resumed}, the progress was ${pausedAt}`);
  log(`PASS bob's progress kept (${entry.progress.position_s} s): "Continue watching" shows ${position}; ` +
    `the watch page resumed at ${resumed.toFixed(1)} s`);

  // 7. Cross-site: a form on another origin posts with the admin's cookie.
  const cookies = await admin.context.cookies(daemon.base);
  check(cookies.some((c) => c.name === 'cinevault_session' && c.httpOnly), `the admin's cookies: ${JSON.stringify(cookies)}`);
  // A JSON body through a text/plain form (the usual trick); the server must refuse it unread.
  forms.set('/user', `<!doctype html><form method="post" enctype="text/plain" action="${daemon.base}/api/v1/users">
    <input type="hidden" name='{"name":"mallory","role":"admin","password":"mallory owns it","x":"' value='"}'></form>
    <script>document.forms[0].submit()</script>`);
  forms.set('/share', `<!doctype html><form method="post" action="${daemon.base}/api/v1/videos/${id}/share">
    <input type="hidden" name="expires_in_s" value="31536000"></form><script>document.forms[0].submit()</script>`);
  for (const [form, target] of [['/user', '/api/v1/users'], ['/share', `/api/v1/videos/${id}/share`]]) {
    const posted = admin.page.waitForResponse((r) => new URL(r.url()).pathname === target && r.request().method() === 'POST');
    await admin.page.goto(`${attackerBase}${form}`);
    const response = await posted;
    const sent = await response.request().headerValue('cookie');
    check(response.status() === 403, `the cross-site form post to ${target}: ${response.status()}`);
    log(`PASS a form on ${attackerBase} posting to ${target} is refused 403 (cookie ${sent && sent.includes('cinevault_session') ? 'sent' : 'not sent'})`);
  }
  check(!(await daemon.getJson('/api/v1/users', daemon.auth)).users.some((u) => u.name === 'mallory'), 'the forged form made a user');
  await admin.page.goto(`${daemon.base}/`);
  await admin.page.waitForSelector('#user-name');
  const bare = await admin.page.evaluate(() => fetch('/api/v1/users', {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ name: 'mallory', role: 'admin', password: 'mallory owns it' }),
  }).then((r) => r.status));
  check(bare === 403, `a same-origin change without X-CSRF-Token: ${bare}`);
  check(!(await daemon.getJson('/api/v1/users', daemon.auth)).users.some((u) => u.name === 'mallory'), 'a change without the token made a user');
  log('PASS no user made by the forged posts; a change without X-CSRF-Token is refused 403 too');

  // 8. bob signs out: the sign-in is shown, the library video is no longer his.
  await bob.page.goto(`${daemon.base}/`);
  await bob.page.waitForSelector(`#grid .card[data-id="${libraryId}"]`);
  const [bobCookie] = (await bob.context.cookies(daemon.base)).filter((c) => c.name === 'cinevault_session');
  check(bobCookie, 'bob has no session cookie');
  const before = await statusesFrom(bob.page, [`/api/v1/videos/${libraryId}`]);
  check(before[0] === 200, `bob's own read of the library video before signing out: ${before[0]}`);
  await bob.page.click('#sign-out');
  await bob.page.waitForSelector('#sign-in-dialog[open]', { timeout: 10000 });
  await bob.page.click('#sign-in-dialog button[value=cancel]');
  await bob.page.waitForSelector('#sign-in');
  const after = await statusesFrom(bob.page, [`/api/v1/videos/${libraryId}`]);
  check([401, 404].includes(after[0]), `the library video's entry after the sign-out: ${after[0]}`);
  await waitFor('the library card gone after the sign-out', async () =>
    await bob.page.locator(`#grid .card[data-id="${libraryId}"]`).count() === 0, 10000);
  check(await bob.page.locator('#continue').isHidden(), '"Continue watching" shown after the sign-out');
  const kept = await fetch(`${daemon.base}/api/v1/session`, { headers: { Cookie: `cinevault_session=${bobCookie.value}` } });
  check(kept.status === 401, `the kept copy of bob's cookie after the sign-out: GET /api/v1/session ${kept.status}`);
  const keptRead = await fetch(`${daemon.base}/api/v1/videos/${libraryId}`, { headers: { Cookie: `cinevault_session=${bobCookie.value}` } });
  check([401, 404].includes(keptRead.status), `the kept cookie reads the library video: ${keptRead.status}`);
  log(`PASS sign-out: the dialog shown, the library video ${after[0]}, the old cookie opens nothing`);

  // 9. Throttling: five wrong passwords for one name, then 429 with Retry-After, the right
  // password included (the wait is answered without checking it).
  const attempt = (password) => fetch(`${daemon.base}/api/v1/session`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ username: ALICE.name, password }),
  });
  const statuses = [];
  let throttled = null;
  for (let i = 0; i < 8 && !throttled; i++) {
    const response = await attempt(`wrong ${i}`);
    statuses.push(response.status);
    if (response.status === 429) throttled = response;
  }
  check(throttled, `no 429 after ${statuses.length} wrong passwords: ${statuses}`);
  check(statuses.slice(0, 5).every((s) => s === 401), `the first five wrong passwords: ${statuses}`);
  const retryAfter = Number(throttled.headers.get('retry-after'));
  check(retryAfter >= 1, `Retry-After: ${throttled.headers.get('retry-after')}`);
  const right = await attempt(ALICE.password);
  check(right.status === 429, `the right password during the wait: ${right.status}`);
  const throttleMessage = (await right.json()).error.message;
  // The dialog says so too. Wrong passwords, so that an attempt made after the wait ran out
  // (a slow machine) only makes the next wait longer, and never signs anyone in.
  await bob.page.click('#sign-in');
  await bob.page.fill('#sign-in-name', ALICE.name);
  let shownThrottle = '';
  for (let i = 0; i < 4 && !shownThrottle.includes(throttleMessage); i++) {
    await bob.page.fill('#sign-in-password', `still wrong ${i}`);
    await bob.page.click('#sign-in-dialog button.primary');  // the dialog clears its message at once
    shownThrottle = await waitFor('the dialog\'s answer', () => bob.page.evaluate(() =>
      document.querySelector('#sign-in-dialog .error').textContent), 10000);
  }
  check(shownThrottle.includes(throttleMessage) && /wait \d+ (s|min)/.test(shownThrottle), `the dialog says "${shownThrottle}"`);
  log(`PASS wrong passwords throttled: ${statuses.join(' ')}, Retry-After ${retryAfter}; the right one waits too; ` +
    `the dialog says "${shownThrottle}"`);

  check(problems.length === 0, `page problems: ${problems.join('; ')}`);
} catch (error) {
  failed = true;
  console.error(`FAIL: ${error.message}`);
  if (!(error instanceof TestFailure)) console.error(error.stack);
  console.error(`daemon log tail:\n${daemon.log.slice(-3000)}`);
} finally {
  await browser.close().catch(() => {});
  attacker.close();
  await daemon.stop().catch((error) => { failed = true; console.error(`FAIL: ${error.message}`); });
}
if (failed) process.exit(1);
fs.rmSync(scratch, { recursive: true, force: true });
console.log(`\nOK accounts: users in the page, roles, private, search, direct URLs, share, unlisted, progress, ` +
  `cross-site forms, sign-out, throttling in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
