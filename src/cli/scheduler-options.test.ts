import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../core/errors.js';
import { addSchedulerOptions, parseSize, schedulerOptions } from './scheduler-options.js';

describe('scheduler options', () => {
  it('parse sizes in binary units', () => {
    expect(parseSize('2G')).toBe(2 * 1024 ** 3);
    expect(parseSize('512M')).toBe(512 * 1024 ** 2);
    expect(parseSize('1.5g')).toBe(1.5 * 1024 ** 3);
    expect(parseSize('64KiB')).toBe(65536);
    expect(parseSize('1000')).toBe(1000);
    expect(() => parseSize('lots')).toThrow(UsageError);
    expect(() => parseSize('0M')).toThrow(/positive/);
    expect(() => parseSize('-1G')).toThrow(/512M/);
  });

  it('turn command-line flags into RunOptions', async () => {
    const cmd = addSchedulerOptions(new Command('x').exitOverride().option('--json'));
    let got: unknown;
    cmd.action((opts) => {
      got = schedulerOptions(opts, '/tmp/state');
    });
    await cmd.parseAsync(['node', 'x', '--workers', '3', '--memory', '2G', '--redis', 'redis://127.0.0.1:6390', '--retries', '0', '--json']);
    expect(got).toEqual({ stateDir: '/tmp/state', json: true, workers: 3, memory: 2 * 1024 ** 3, redis: 'redis://127.0.0.1:6390', retries: 0 });
    expect(schedulerOptions({}, 's')).toEqual({ stateDir: 's', json: false });
    expect(() => schedulerOptions({ workers: '0' }, 's')).toThrow(/--workers: expected a whole number >= 1/);
    expect(() => schedulerOptions({ workers: '1.5' }, 's')).toThrow(/--workers/);
    expect(() => schedulerOptions({ retries: 'x' }, 's')).toThrow(/--retries/);
    expect(() => schedulerOptions({ redis: 'localhost:6379' }, 's')).toThrow(/redis:\/\/HOST:PORT/);
  });
});
