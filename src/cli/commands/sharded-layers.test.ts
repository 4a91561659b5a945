// Every command that writes a segmentation or image layer takes --sharded (src/cli/sharding-options.ts):
// sharded output holds the same voxels as unsharded output, and a reader written from the spec
// (test/precomputed-spec-reader.ts) finds every chunk with the same bytes; a blockwise sharded run
// killed with SIGKILL resumes to the same shards. Real data: a crop of gala-medulla.
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import { dataPath, describeData, REPO_ROOT, tempDir } from '../../../test/data.js';
import { wiringJsonInProcess as wiring } from '../../../test/cli-in-process.js';
import { specChunkBytes } from '../../../test/precomputed-spec-reader.js';
import { boxFromShape } from '../../core/box.js';
import { PrecomputedLayer } from '../../formats/precomputed/index.js';
import { killProcess, spawnTs, waitFor } from '../../scheduler/testing.js';

const MEDULLA = 'gala-medulla';
const CROP = '0:96,0:64,0:48';

/** Same voxels at every scale, through our reader and through the spec reader chunk by chunk. */
async function expectSameLayer(sharded: string, plain: string): Promise<void> {
  const s = await PrecomputedLayer.open(sharded);
  const p = await PrecomputedLayer.open(plain);
  expect(s.info.scales.length).toBe(p.info.scales.length);
  for (let k = 0; k < s.info.scales.length; k++) {
    const ss = s.info.scales[k];
    const ps = p.info.scales[k];
    expect(ss.sharding?.['@type'], `${sharded} scale ${k}`).toBe('neuroglancer_uint64_sharded_v1');
    expect(ps.sharding, `${plain} scale ${k}`).toBeUndefined();
    // only shard files in the sharded scale
    const files = readdirSync(path.join(sharded, ss.key));
    expect(files.length).toBeGreaterThan(0);
    expect(files.filter((f) => !/^[0-9a-f]+\.shard$/.test(f)), `${sharded}/${ss.key}`).toEqual([]);
    const box = boxFromShape(ss.size, ss.voxel_offset);
    const a = await s.readBox(box, k);
    const b = await p.readBox(box, k);
    expect(Buffer.from(a.data.buffer, a.data.byteOffset, a.data.byteLength).equals(Buffer.from(b.data.buffer, b.data.byteOffset, b.data.byteLength)), `${sharded} scale ${k} voxels`).toBe(true);
    const grid = [0, 1, 2].map((i) => Math.ceil(ss.size[i] / ss.chunk_sizes[0][i]));
    let chunks = 0;
    for (let z = 0; z < grid[2]; z++) for (let y = 0; y < grid[1]; y++) for (let x = 0; x < grid[0]; x++) {
      const fromShard = specChunkBytes(sharded, k, [x, y, z]);
      const fromFile = specChunkBytes(plain, k, [x, y, z]);
      expect(fromShard, `chunk ${x},${y},${z} of ${sharded} scale ${k}`).toBeDefined();
      expect(Buffer.from(fromShard!).equals(Buffer.from(fromFile!)), `chunk ${x},${y},${z} bytes`).toBe(true);
      chunks++;
    }
    if (k === 0) expect(chunks).toBeGreaterThan(1);
  }
}

describeData(MEDULLA, '--sharded on every layer-writing command (gala-medulla crop)', () => {
  let dir: string;
  let p1: string, gt: string, raw: string;
  const W = ['--workers', '1'];
  beforeAll(async () => {
    dir = await tempDir('wiring-sharded-cmds-');
    p1 = path.join(dir, 'p1');
    gt = path.join(dir, 'gt');
    raw = path.join(dir, 'raw');
    await wiring('import', `${dataPath(MEDULLA, 'train-p1.h5')}#stack`, p1, '--bounds', CROP, '--chunk-size', '32,32,16', ...W);
    await wiring('import', `${dataPath(MEDULLA, 'train-gt.h5')}#stack`, gt, '--bounds', CROP, '--chunk-size', '32,32,16', '--type', 'segmentation', ...W);
    await wiring('import', `${dataPath(MEDULLA, 'train-image.h5')}#stack`, raw, '--bounds', CROP, '--chunk-size', '32,32,16', ...W);
  }, 120_000);

  it('supervoxels and agglomerate, blockwise and whole-volume', async () => {
    for (const mode of [['--block', '32,32,16', '--tile', '32,32,16'], []]) {
      const tag = mode.length ? 'block' : 'whole';
      const sv = (v: string) => path.join(dir, `sv-${tag}-${v}`);
      await wiring('supervoxels', '--boundaries', p1, sv('s'), '--sharded', ...mode, ...W);
      await wiring('supervoxels', '--boundaries', p1, sv('u'), '--no-sharded', ...mode, ...W);
      await expectSameLayer(sv('s'), sv('u'));
      const ag = (v: string) => path.join(dir, `ag-${tag}-${v}`);
      const amode = mode.length ? ['--block', '32,32,16'] : [];
      await wiring('agglomerate', '--supervoxels', sv('u'), '--boundaries', p1, ag('s'), '--sharded', ...amode, ...W);
      await wiring('agglomerate', '--supervoxels', sv('u'), '--boundaries', p1, ag('u'), ...amode, ...W);
      await expectSameLayer(ag('s'), ag('u'));
    }
  }, 240_000);

  it('segment (blockwise: both layers; whole-volume), then downsample keeps the pyramid sharded', async () => {
    const seg = (v: string) => path.join(dir, `seg-${v}`);
    await wiring('segment', '--boundaries', p1, seg('s'), '--block', '64,64,32', '--tile', '32,32,16', '--sharded', ...W);
    await wiring('segment', '--boundaries', p1, seg('u'), '--block', '64,64,32', '--tile', '32,32,16', ...W);
    await expectSameLayer(seg('s'), seg('u'));
    await expectSameLayer(seg('s-supervoxels'), seg('u-supervoxels'));
    // shards fit the block: 2x2x2 chunks of 32x32x16 each, one shard per block
    const info = (await PrecomputedLayer.open(seg('s'))).info.scales[0];
    expect(info.sharding!.preshift_bits + info.sharding!.minishard_bits).toBe(3);
    await wiring('segment', '--boundaries', p1, seg('ws'), '--sharded', ...W);
    await wiring('segment', '--boundaries', p1, seg('wu'), ...W);
    await expectSameLayer(seg('ws'), seg('wu'));
    // downsample: without a flag the new scales follow scale 0 (sharded / not); the phantom's --pyramid does the same
    await wiring('downsample', seg('s'), ...W);
    await wiring('downsample', seg('u'), ...W);
    expect((await PrecomputedLayer.open(seg('s'))).info.scales.length).toBeGreaterThan(1);
    await expectSameLayer(seg('s'), seg('u'));
    // an image layer: explicit --sharded on an unsharded scale 0 shards the new scales only
    await wiring('downsample', raw, '--sharded', ...W);
    const r = await PrecomputedLayer.open(raw);
    expect(r.info.scales[0].sharding).toBeUndefined();
    expect(r.info.scales.slice(1).every((s) => s.sharding)).toBe(true);
  }, 240_000);

  it('classes and align (solve, then --apply of the same transforms)', async () => {
    await wiring('classes', '--neurons', gt, path.join(dir, 'cls-s'), '--sharded', ...W);
    await wiring('classes', '--neurons', gt, path.join(dir, 'cls-u'), ...W);
    await expectSameLayer(path.join(dir, 'cls-s'), path.join(dir, 'cls-u'));
    const plain = path.join(dir, 'al-u');
    await wiring('align', raw, plain, '--model', 'translation', '--no-elastic', '--chunk-size', '32,32,4', ...W);
    await wiring('align', raw, path.join(dir, 'al-s'), '--apply', path.join(plain, 'transforms.json'), '--chunk-size', '32,32,4', '--sharded', ...W);
    await expectSameLayer(path.join(dir, 'al-s'), plain);
  }, 240_000);

  it('a sharded blockwise run killed with SIGKILL resumes to the same shard files', async () => {
    const whole = path.join(dir, 'kill-whole');
    const killed = path.join(dir, 'kill-resumed');
    const args = ['supervoxels', '--boundaries', p1, '--block', '32,32,16', '--tile', '32,32,16', '--sharded', '--workers', '1', '--json'];
    await wiring(...args.slice(0, -1), whole);
    const child = spawnTs(path.join(REPO_ROOT, 'test/wiring-cli.ts'), [...args, killed]);
    const records = path.join(killed, '.wiring-run', 'supervoxels', 'blocks');
    const done = () => { try { return readdirSync(records).filter((f) => f.endsWith('.json')).length; } catch { return 0; } };
    await waitFor(() => done() >= 2 || child.exitCode !== null, 60_000, 'two block records');
    await killProcess(child);
    const total = 3 * 2 * 3; // 96x64x48 in blocks of 32x32x16
    expect(done(), 'killed before the end').toBeLessThan(total);
    const r = await wiring(...args.slice(0, -1), killed);
    expect(r.resumed).toBeGreaterThan(0);
    expect(r.computed).toBe(total - r.resumed);
    const key = (await PrecomputedLayer.open(whole)).info.scales[0].key;
    const names = readdirSync(path.join(whole, key)).sort();
    expect(readdirSync(path.join(killed, key)).filter((f) => !f.includes('.tmp')).sort()).toEqual(names);
    for (const f of names) expect(readFileSync(path.join(killed, key, f)).equals(readFileSync(path.join(whole, key, f))), f).toBe(true);
    await expectSameLayer(killed, path.join(dir, 'sv-block-u'));
  }, 180_000);
});
