import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { tempDir } from '../../test/data.js';
import { createProgress } from './progress.js';

describe('progress file', () => {
  afterEach(() => {
    delete process.env.WIRING_PROGRESS_FILE;
  });
  it('writes {label, done, total} to WIRING_PROGRESS_FILE at start and stop, even with --json', async () => {
    const file = path.join(await tempDir('wiring-progress-'), 'p.json');
    process.env.WIRING_PROGRESS_FILE = file;
    const p = createProgress({ json: true, label: 'blocks' });
    p.start(8);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({ label: 'blocks', done: 0, total: 8 });
    for (let i = 0; i < 5; i++) p.increment();
    p.stop();
    expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({ label: 'blocks', done: 5, total: 8 });
    p.start(3, 'meshes');
    expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({ label: 'meshes', done: 0, total: 3 });
  });
});
