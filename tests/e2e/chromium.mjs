// Debian's Chromium for the end-to-end tests and benchmarks, started the same way by each:
// headless, no sandbox (containers), nothing that talks to Google or updates itself during
// a run, and a fresh profile.
//
// Env: CHROMIUM (default /usr/bin/chromium).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

// `args` are added to the ones above; the other options go to playwright-core's
// launchPersistentContext (viewport, …). Returns its BrowserContext; close() it when done.
// launchChromiumBrowser() instead returns a Browser, for tests that need several contexts
// (people with their own cookies) in one Chromium: browser.newContext() each.
//
// The profile and Chromium's own temporary files (its TMPDIR) live in one folder, removed
// when the browser closes, or when this process exits without closing it (a failed run:
// playwright then kills Chromium, which leaves its org.chromium.Chromium.* socket folder).
export async function launchChromium(options = {}) {
  return launchIn((dir, { args = [], ...rest }) => chromium.launchPersistentContext(path.join(dir, 'profile'), {
    executablePath: CHROMIUM, headless: true, ...rest, args: [...ARGS, ...args],
    env: { ...process.env, ...rest.env, TMPDIR: dir },
  }), options);
}

export async function launchChromiumBrowser(options = {}) {
  return launchIn((dir, { args = [], ...rest }) => chromium.launch({
    executablePath: CHROMIUM, headless: true, ...rest, args: [...ARGS, ...args],
    env: { ...process.env, ...rest.env, TMPDIR: dir },
  }), options);
}

// Launches with `launch(dir, options)`; `dir` is removed with the browser.
async function launchIn(launch, options) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cinevault-chromium-'));
  const remove = () => {
    try {
      fs.rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
    } catch (error) {
      console.error(`cannot remove ${dir}: ${error.message}`);
    }
  };
  let launched;  // a BrowserContext or a Browser: both close()
  try {
    launched = await launch(dir, options);
  } catch (error) {
    remove();
    throw error;
  }
  // Registered after playwright's own exit handler, which kills Chromium first.
  process.on('exit', remove);
  // Not on the context's 'close' event: that comes while Chromium still writes its profile.
  const close = launched.close.bind(launched);
  launched.close = async (...closeArgs) => {
    try {
      await close(...closeArgs);
    } finally {
      process.off('exit', remove);
      remove();
    }
  };
  return launched;
}
