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

export function createProgress(opts: { json?: boolean; label?: string } = {}): Progress {
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
