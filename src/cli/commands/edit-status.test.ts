// `wiring edit status`: set a cell's proofreading status, list the statuses of a version.
import { promises as fs } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runInProcess } from '../../../test/cli-in-process.js';
import { tempDir } from '../../../test/data.js';
import { initProofread } from '../../stages/proofread/io.js';
import { blockSv, writeBlocksDataset } from '../../stages/proofread/testing.js';
import { register as registerEdit } from './edit.js';

let dir: string;
const cli = async (args: string[]): Promise<any> => JSON.parse(await runInProcess([registerEdit], [...args, '--json']));

beforeAll(async () => {
  dir = await tempDir('proofread-status-');
  const inp = await writeBlocksDataset(dir);
  await initProofread(dir, { supervoxels: inp.sv, segmentation: inp.seg, boundaries: inp.boundary });
});
afterAll(() => fs.rm(dir, { recursive: true, force: true }));

describe('wiring edit status', () => {
  it('sets and lists statuses by version; bad values and stale roots are refused by name', async () => {
    const set = await cli(['edit', 'status', dir, '100', '--axon', 'clean', '--user', 'bo']);
    expect(set).toMatchObject({ op: 0, root: '100', status_axon: 'clean', user: 'bo' });
    await cli(['edit', 'status', dir, '100', '--dendrite', 'extended']);
    expect((await cli(['edit', 'status', dir])).statuses).toEqual([expect.objectContaining({ root: '100', status_axon: 'clean', status_dendrite: 'extended' })]);
    await expect(cli(['edit', 'status', dir, '100', '--axon', 'finished'])).rejects.toThrow(/status_axon: expected one of non, clean, extended, got "finished"/);
    await expect(cli(['edit', 'status', dir, '--axon', 'clean'])).rejects.toThrow(/give the root id/);
    await expect(cli(['edit', 'status', dir, '999', '--axon', 'clean'])).rejects.toThrow(/not a root id/);
    // a merge retires root 100: the latest has no status for it, version 0 keeps it, a new status on 100 is stale
    const m = await cli(['edit', 'merge', dir, blockSv(0, 0, 0).toString(), blockSv(0, 1, 0).toString(), '--no-derive']);
    expect(m.retired).toContain('100');
    expect((await cli(['edit', 'status', dir])).statuses).toEqual([]);
    expect((await cli(['edit', 'status', dir, '100', '--at', '0'])).statuses).toHaveLength(1);
    await expect(cli(['edit', 'status', dir, '100', '--axon', 'non'])).rejects.toThrow(/stale: operation 1 retired it/);
    const lines = (await fs.readFile(`${dir}/proofread/status.jsonl`, 'utf8')).split('\n').filter(Boolean);
    expect(lines).toHaveLength(2);
  });
});
