// `wiring worker` whose Redis has gone away (issue 21): it exits on SIGTERM/SIGINT, and by itself
// with a clear message when Redis stays unreachable. Real redis-server (Debian's /usr/bin/redis-server).
import { afterEach, describe, expect, it } from 'vitest';
import { TestRedis, WORKER_SCRIPT, killProcess, spawnTs } from '../../scheduler/testing.js';

type Child = ReturnType<typeof spawnTs> & { stderrText: string };

async function worker(url: string, extra: string[]): Promise<Child> {
  let ready!: () => void;
  const isReady = new Promise<void>((r) => (ready = r));
  const child = spawnTs(WORKER_SCRIPT, ['--redis', url, '--concurrency', '1', '--lock-duration', '1000', '--json', ...extra], { onStdout: (l) => l.includes('"ready"') && ready() });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const w = Object.defineProperty(child, 'stderrText', { get: () => stderr }) as Child;
  await Promise.race([isReady, child.exited.then((c) => { throw new Error(`worker exited early (${c}): ${stderr}`); })]);
  return w;
}

describe('wiring worker when Redis goes away', () => {
  const cleanup: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const f of cleanup.splice(0)) await f();
  });
  /** A Redis server stopped after the test (stop() once: a second one would wait for an exit already seen). */
  async function started(): Promise<TestRedis> {
    const redis = await TestRedis.start();
    let stopped = false;
    const stop = redis.stop.bind(redis);
    redis.stop = async () => {
      if (stopped) return;
      stopped = true;
      await stop();
    };
    cleanup.push(() => redis.stop());
    return redis;
  }

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`exits on ${signal} after its Redis server was killed`, async () => {
      const redis = await started();
      const w = await worker(redis.url, ['--stop-timeout', '2', '--redis-timeout', '600']);
      cleanup.push(() => killProcess(w));
      await redis.stop();
      w.kill(signal);
      expect(await w.exited).toBe(0);
      expect(w.stderrText).toMatch(new RegExp(`${signal}: (Redis at redis://127\\.0\\.0\\.1:\\d+ is unreachable|finishing the blocks in progress)`));
    }, 60_000);
  }

  it('exits with code 2 and a message when Redis stays unreachable for --redis-timeout', async () => {
    const redis = await started();
    const w = await worker(redis.url, ['--redis-timeout', '1']);
    cleanup.push(() => killProcess(w));
    await redis.stop();
    expect(await w.exited).toBe(2);
    expect(w.stderrText).toMatch(/Redis at redis:\/\/127\.0\.0\.1:\d+ has been unreachable for 1 s; exiting/);
  }, 60_000);

  it('exits promptly on SIGTERM while Redis is up', async () => {
    const redis = await started();
    const w = await worker(redis.url, []);
    cleanup.push(() => killProcess(w));
    w.kill('SIGTERM');
    const code = await w.exited;
    expect([code, w.signalCode, w.stderrText]).toEqual([0, null, expect.stringMatching(/SIGTERM/)]);
    expect(w.stderrText).toMatch(/SIGTERM: finishing the blocks in progress/);
    expect(w.stderrText).not.toMatch(/did not finish/);
  }, 60_000);
});
