// Debian's Chromium for the end-to-end tests and benchmarks, started the same way by each:
// headless, no sandbox (containers), nothing that talks to Google or updates itself during
// a run, and a fresh profile.
//
// Env: CHROMIUM (default /usr/bin/chromium).
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

// `args` are added to the ones above; the other options go to playwright-core's
// launchPersistentContext (viewport, …). Returns its BrowserContext; close() it when done.
export function launchChromium({ args = [], ...options } = {}) {
  // The empty path: playwright makes a fresh --user-data-dir and removes it after close().
  return chromium.launchPersistentContext('', {
    executablePath: CHROMIUM, headless: true, ...options, args: [...ARGS, ...args],
  });
}
