/**
 * Helpers for the end-to-end tests: the built app (built here when missing or older than
 * web/), Debian chromium driven by playwright-core, and pixel statistics of screenshots.
 */
import { existsSync, promises as fs, readdirSync, statSync } from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { REPO_ROOT } from '../data.js';

export const APP_DIR = path.join(REPO_ROOT, 'dist', 'web');
export const OUTPUT_DIR = path.join(REPO_ROOT, 'test-output', 'browser');
export const CHROMIUM = process.env.WIRING_CHROMIUM ?? '/usr/bin/chromium';

function newestMtime(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return t;
}

/** Build web/ into dist/web unless an up-to-date build is there. */
export async function ensureAppBuilt(): Promise<void> {
  const index = path.join(APP_DIR, 'index.html');
  if (existsSync(index) && statSync(index).mtimeMs >= newestMtime(path.join(REPO_ROOT, 'web'))) return;
  const { build } = await import('vite');
  await build({ configFile: path.join(REPO_ROOT, 'web', 'vite.config.ts'), logLevel: 'error' });
  if (!existsSync(index)) throw new Error(`vite build did not produce ${index}`);
}

/** Headless Debian chromium with the flags CI uses; a missing browser is an error, not a skip. */
export async function launchChromium(userDataDir: string): Promise<BrowserContext> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} not found: install Debian's chromium (apt-get install chromium; .ci/run does) or set WIRING_CHROMIUM`);
  }
  // a fresh profile folder per run (playwright passes it as --user-data-dir)
  return chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1400, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
  });
}

export interface PixelStats {
  pixels: number;
  /** Grey pixels (channels within 12 of each other) other than the panel background. */
  grey: number;
  greyStd: number;
  greyLevels: number;
  /** Clearly coloured pixels (max - min channel > 60), and those not yellow (synapse markers). */
  coloured: number;
  colouredNotYellow: number;
  hues: number;
}

/** Statistics of a PNG screenshot (what the test checks instead of the DOM). */
export async function pixelStats(png: Buffer): Promise<PixelStats> {
  const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const n = info.width * info.height;
  let grey = 0, sum = 0, sum2 = 0, coloured = 0, notYellow = 0;
  const levels = new Set<number>();
  const hues = new Set<number>();
  for (let i = 0; i < n; i++) {
    const r = data[3 * i], g = data[3 * i + 1], b = data[3 * i + 2];
    const mx = Math.max(r, g, b), mn = Math.min(r, g, b);
    if (mx - mn <= 12) {
      // Neuroglancer's empty panel is uniform grey (127/128); black is outside the data
      if (Math.abs(r - 127.5) < 2 && Math.abs(g - 127.5) < 2) continue;
      if (mx < 4) continue;
      grey++;
      sum += r;
      sum2 += r * r;
      levels.add(r);
    } else if (mx - mn > 60) {
      coloured++;
      if (!(r > 120 && g > 100 && b < 100 && Math.abs(r - g) < 90)) notYellow++;
      hues.add(Math.round(hue(r, g, b) / 15));
    }
  }
  const mean = grey ? sum / grey : 0;
  return { pixels: n, grey, greyStd: grey ? Math.sqrt(Math.max(0, sum2 / grey - mean * mean)) : 0, greyLevels: levels.size, coloured, colouredNotYellow: notYellow, hues: hues.size };
}

function hue(r: number, g: number, b: number): number {
  const mx = Math.max(r, g, b), mn = Math.min(r, g, b), d = mx - mn || 1;
  const h = mx === r ? ((g - b) / d) % 6 : mx === g ? (b - r) / d + 2 : (r - g) / d + 4;
  return (h * 60 + 360) % 360;
}

export async function saveShot(name: string, png: Buffer): Promise<string> {
  await fs.mkdir(OUTPUT_DIR, { recursive: true });
  const file = path.join(OUTPUT_DIR, name);
  await fs.writeFile(file, png);
  return file;
}

/**
 * Page errors of a page, kept for the tests to assert on, except Neuroglancer's known,
 * intermittent chunk-worker race (about 1 run in 3 under load, when layers are replaced: the
 * worker is handed an RPC reference to a source it has dropped; docs/TRAINING.md "Not done"),
 * which is counted and printed by `report()` instead. Every other page error stays in `errors`.
 */
export function watchPageErrors(page: Page): { errors: string[]; report(): void } {
  const errors: string[] = [];
  let workerRaces = 0;
  page.on('pageerror', (e) => {
    if (/setting 'referencedGeneration'/.test(e.message)) workerRaces++;
    else errors.push(e.message);
  });
  return {
    errors,
    report() {
      if (workerRaces) console.log(`browser: Neuroglancer chunk-worker RPC race seen ${workerRaces} time(s) (known, see docs/TRAINING.md)`);
    },
  };
}
