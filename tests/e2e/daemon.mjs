// A cinevault daemon for end-to-end tests: started on a loopback port with its own data
// directory, stopped by its own pid (SIGKILL on test exit if still running).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export class TestFailure extends Error {}
export function check(condition, message) {
  if (!condition) throw new TestFailure(message);
}
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Runs a command (ffmpeg making a clip) with its output on ours; rejects unless it exits 0.
export function run(cmd, args) {
  return new Promise((resolve, reject) => {
    const proc = spawn(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'] });
    proc.on('error', reject);
    proc.on('exit', (code) => (code === 0 ? resolve() : reject(new TestFailure(`${cmd} exited ${code}`))));
  });
}

// The admin's password in the tests that sign in through the page.
export const ADMIN_PASSWORD = 'admin password for tests';

// Gives the user `admin` a password, offline, on a data directory whose daemon is not
// running: `users passwd` when the user exists (the daemon's first start, or opening the
// database, makes it without a password), else `users add`.
export function setAdminPassword(binary, dataDir, password = ADMIN_PASSWORD) {
  fs.mkdirSync(dataDir, { recursive: true });
  const users = (...args) => spawnSync(binary, ['users', ...args, '--password-stdin', '--data', dataDir],
    { input: `${password}\n`, encoding: 'utf8' });
  let result = users('passwd', 'admin');
  if (result.status !== 0) result = users('add', 'admin', '--role', 'admin');
  check(result.status === 0, `cannot give admin a password: ${result.stderr}`);
  return password;
}

const live = new Set();
process.on('exit', () => {
  for (const proc of live) proc.kill('SIGKILL');
});

export class Daemon {
  // `args`: extra flags; `port` 0 picks a free one (kept across restart()).
  constructor(binary, dataDir, args = []) {
    this.binary = binary;
    this.dataDir = dataDir;
    this.args = args;
    this.port = 0;
    this.log = '';
  }

  async start() {
    const logFile = fs.openSync(`${this.dataDir}.log`, 'a');
    this.log = '';
    this.proc = spawn(this.binary, ['serve', '--data', this.dataDir, '--listen', `127.0.0.1:${this.port}`,
      ...this.args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const onData = (chunk) => {
      this.log += chunk.toString();
      fs.writeSync(logFile, chunk);
    };
    this.proc.stdout.on('data', onData);
    this.proc.stderr.on('data', onData);
    live.add(this.proc);
    this.exitStatus = null;
    // 'close' comes after the last output; 'exit' can come before it (a write then fails EBADF).
    this.proc.on('close', () => fs.closeSync(logFile));
    this.exited = new Promise((resolve) => this.proc.on('exit', (code, signal) => {
      live.delete(this.proc);
      this.exitStatus = { code, signal };
      resolve(this.exitStatus);
    }));
    const deadline = Date.now() + 30000;
    while (Date.now() < deadline) {
      const match = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(this.log);
      if (match) {
        this.port = Number(match[1]);
        this.key = fs.readFileSync(path.join(this.dataDir, 'admin.key'), 'utf8').trim();
        return this;
      }
      if (this.exitStatus) throw new TestFailure(`daemon exited early (${JSON.stringify(this.exitStatus)}):\n${this.log}`);
      await sleep(50);
    }
    throw new TestFailure(`daemon did not say where it listens within 30 s:\n${this.log}`);
  }

  get base() { return `http://127.0.0.1:${this.port}`; }

  get auth() { return { Authorization: `Bearer ${this.key}` }; }

  // A read as the admin key's user (they see every video), or with `headers` ({} reads as
  // no one).
  async getJson(urlPath, headers = this.auth) {
    const response = await fetch(this.base + urlPath, { headers });
    const text = await response.text();
    check(response.ok, `GET ${urlPath}: ${response.status} ${text}`);
    return JSON.parse(text);
  }

  // POST /api/v1/session: { cookie, csrf, user } for requests made from Node as that user.
  async signIn(username, password) {
    const response = await fetch(`${this.base}/api/v1/session`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ username, password }),
    });
    const text = await response.text();
    check(response.status === 200, `sign-in of ${username}: ${response.status} ${text}`);
    const cookie = (response.headers.get('set-cookie') || '').split(';')[0];
    check(cookie.startsWith('cinevault_session='), `sign-in of ${username} set no session cookie`);
    const body = JSON.parse(text);
    return { cookie, csrf: body.csrf_token, user: body.user };
  }

  // PUT /api/v1/videos with the admin key: the new video's id. `visibility` (private,
  // unlisted, library, public) is the server's default when not given.
  async upload(file, title, visibility) {
    const query = `title=${encodeURIComponent(title)}${visibility ? `&visibility=${visibility}` : ''}`;
    const response = await fetch(`${this.base}/api/v1/videos?${query}`, {
      method: 'PUT', headers: { Authorization: `Bearer ${this.key}` }, body: fs.readFileSync(file),
    });
    const text = await response.text();
    check(response.status === 201, `PUT /api/v1/videos?${query}: ${response.status} ${text}`);
    return JSON.parse(text).id;
  }

  async kill9() {
    this.proc.kill('SIGKILL');
    await this.exited;
  }

  async stop() {
    if (this.exitStatus) return;
    this.proc.kill('SIGTERM');
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 60000);
    const { code, signal } = await this.exited;
    clearTimeout(timer);
    check(code === 0, `daemon exited with code ${code} signal ${signal} on SIGTERM; log tail:\n${this.log.slice(-4000)}`);
  }
}
