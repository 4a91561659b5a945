import { writeFileSync } from 'node:fs';
import cliProgress from 'cli-progress';

/**
 * Progress of long work. On a terminal (and not --json) it draws a bar with done/total,
 * rate and ETA on stderr; otherwise it stays quiet so stdout stays machine-readable.
 */
export interface Progress {
  start(total: number, label?: string): void;
  increment(n?: number): void;
  stop(): void;
}

export const silentProgress: Progress = { start() {}, increment() {}, stop() {} };

/**
 * With WIRING_PROGRESS_FILE set, the progress is also written there (at most every 250 ms and at
 * each start/stop) as JSON {label, done, total, time}, for a parent process to poll (the app's
 * whole-volume runs show each stage's blocks done this way).
 */
function fileProgress(file: string, fallbackLabel: string): Progress {
  let label = fallbackLabel, done = 0, total = 0, last = 0;
  const write = (force: boolean) => {
    const now = Date.now();
    if (!force && now - last < 250) return;
    last = now;
    try {
      writeFileSync(file, JSON.stringify({ label, done, total, time: new Date(now).toISOString() }));
    } catch {
      // progress is a courtesy: never fail the work for it
    }
  };
  return {
    start(t, l) {
      label = l ?? fallbackLabel;
      total = t;
      done = 0;
      write(true);
    },
    increment(n = 1) {
      done += n;
      write(false);
    },
    stop() {
      write(true);
    },
  };
}

function both(a: Progress, b: Progress): Progress {
  return { start: (t, l) => (a.start(t, l), b.start(t, l)), increment: (n) => (a.increment(n), b.increment(n)), stop: () => (a.stop(), b.stop()) };
}

export function createProgress(opts: { json?: boolean; label?: string } = {}): Progress {
  const file = process.env.WIRING_PROGRESS_FILE;
  return file ? both(fileProgress(file, opts.label ?? 'working'), terminalProgress(opts)) : terminalProgress(opts);
}

function terminalProgress(opts: { json?: boolean; label?: string }): Progress {
  if (opts.json || !process.stderr.isTTY) return silentProgress;
  let bar: cliProgress.SingleBar | undefined;
  return {
    start(total, label = opts.label ?? 'working') {
      bar = new cliProgress.SingleBar(
        {
          stream: process.stderr,
          format: `${label} [{bar}] {value}/{total} | {rate}/s | ETA {eta_formatted}`,
          hideCursor: true,
          etaBuffer: 20,
        },
        cliProgress.Presets.shades_classic,
      );
      bar.start(total, 0, { rate: '0.0' });
      (bar as unknown as { startedAt: number }).startedAt = Date.now();
    },
    increment(n = 1) {
      if (!bar) return;
      const started = (bar as unknown as { startedAt: number }).startedAt;
      const done = bar.getProgress() * bar.getTotal() + n;
      const rate = done / Math.max(1e-3, (Date.now() - started) / 1000);
      bar.increment(n, { rate: rate.toFixed(1) });
    },
    stop() {
      bar?.stop();
      bar = undefined;
    },
  };
}
