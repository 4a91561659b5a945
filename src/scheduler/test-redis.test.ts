import { describe, expect, it } from 'vitest';
import { TestRedis } from './testing.js';

// Needs Debian's /usr/bin/redis-server (as redis.test.ts).
describe('TestRedis', () => {
  it('kill() is idempotent: twice in a row, twice at once, then stop() all return', async () => {
    const redis = await TestRedis.start();
    const within = <T>(p: Promise<T>) => Promise.race([p, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 10_000).unref())]);
    expect(await within(redis.kill())).toBeUndefined();
    // a process killed by a signal keeps exitCode null: the second call used to wait for an exit already past
    expect(await within(redis.kill())).toBeUndefined();
    expect(await within(Promise.all([redis.kill(), redis.kill()]))).toEqual([undefined, undefined]);
    // and the server can be brought back up and killed again
    await redis.up();
    expect(await within(Promise.all([redis.kill(), redis.kill()]))).toEqual([undefined, undefined]);
    expect(await within(redis.stop())).toBeUndefined();
  });
});
