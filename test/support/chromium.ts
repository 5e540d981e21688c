/** Debian's Chromium, headless, driven by playwright-core. No browser is ever downloaded. */
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

export function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      process.env.CHROMIUM_PATH
        ? `CHROMIUM_PATH is ${CHROMIUM}, which does not exist: set it to a Chromium or Chrome binary.`
        : 'The browser tests need Chromium, and /usr/bin/chromium does not exist. On Debian: apt-get install -y chromium; ' +
          'elsewhere, set CHROMIUM_PATH to a Chromium or Chrome binary (no browser is downloaded).',
    );
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
  });
}
