import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../test/data.js';
import { writeFileAtomic, writeJsonAtomic } from './atomic.js';

describe('atomic writes', () => {
  it('replace a file in one step and leave no temporary files', async () => {
    const dir = await tempDir();
    const file = path.join(dir, 'sub', 'a.json');
    await writeJsonAtomic(file, { id: 864691135639556411n });
    expect(JSON.parse(await fs.readFile(file, 'utf8'))).toEqual({ id: '864691135639556411' });
    await writeFileAtomic(file, 'new');
    expect(await fs.readFile(file, 'utf8')).toBe('new');
    expect(await fs.readdir(path.dirname(file))).toEqual(['a.json']);
  });
  it('keeps the old file when the write fails', async () => {
    const dir = await tempDir();
    const file = path.join(dir, 'a.txt');
    await writeFileAtomic(file, 'old');
    await fs.mkdir(path.join(dir, 'blocker'));
    // Renaming onto a non-empty directory fails: the old content of that path must survive.
    await fs.writeFile(path.join(dir, 'blocker', 'x'), '');
    await expect(writeFileAtomic(path.join(dir, 'blocker'), 'data')).rejects.toThrow();
    expect(await fs.readFile(file, 'utf8')).toBe('old');
    expect((await fs.readdir(dir)).sort()).toEqual(['a.txt', 'blocker']);
  });
});
