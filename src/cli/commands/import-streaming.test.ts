// A full import larger than memory streams block by block: the scheduler never lists the blocks
// (memory follows the blocks done and in flight, not the declared size), and a cutout of a huge
// declared volume (--bounds) reads only its own chunks.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT, tempDir } from '../../../test/data.js';
import { wiringJsonInProcess as wiring } from '../../../test/cli-in-process.js';
import { boxFromShape } from '../../core/box.js';
import { PrecomputedLayer } from '../../formats/precomputed/index.js';
import { killProcess, spawnTs, waitFor } from '../../scheduler/testing.js';

/** A Zarr v2 uint8 array of shape [x, y, z] (C order z, y, x) in chunks of 64^3 with no chunk files but one. */
async function hugeZarr(dir: string, [X, Y, Z]: [number, number, number]): Promise<{ file: string; chunk: Uint8Array }> {
  const file = path.join(dir, 'huge.zarr');
  await fs.mkdir(file, { recursive: true });
  await fs.writeFile(path.join(file, '.zarray'), JSON.stringify({ zarr_format: 2, shape: [Z, Y, X], chunks: [64, 64, 64], dtype: '|u1', compressor: null, fill_value: 0, filters: null, order: 'C' }));
  // chunk (z, y, x) = (2, 3, 5): voxels x 320..384, y 192..256, z 128..192, seeded values
  const chunk = Uint8Array.from({ length: 64 ** 3 }, (_, i) => ((i * 2654435761) >>> 24) | 1);
  await fs.writeFile(path.join(file, '2.3.5'), chunk);
  return { file, chunk };
}

/** Peak resident set of a process (VmHWM), bytes. */
function peakRss(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]) * 1024;
}

describe('import of a declared size far larger than memory', () => {
  // 16384 x 16384 x 4096 = 2^40 voxels (1 TiB of uint8); in 8^3 chunks it is sharded by default
  // and cut into 4,194,304 blocks of one shard each (the scheduler used to refuse more than 4,000,000).
  const size: [number, number, number] = [16384, 16384, 4096];

  it('--bounds imports just the box, with the values of the one chunk that exists', async () => {
    const dir = await tempDir('wiring-huge-');
    const { file, chunk } = await hugeZarr(dir, size);
    const out = path.join(dir, 'cut');
    const r = await wiring('import', file, out, '--bounds', '300:400,200:260,100:200', '--chunk-size', '32,32,32', '--workers', '1');
    expect(r.blocks.blocks).toBeGreaterThan(0);
    const layer = await PrecomputedLayer.open(out);
    expect(layer.info.scales[0].size).toEqual([100, 60, 100]);
    expect(layer.info.scales[0].voxel_offset).toEqual([300, 200, 100]);
    const v = await layer.readBox({ min: [300, 200, 100], max: [400, 260, 200] });
    const d = v.data as Uint8Array;
    for (const [x, y, z] of [[320, 200, 128], [383, 255, 191], [350, 230, 150], [319, 230, 150], [350, 230, 127]]) {
      const inChunk = x >= 320 && x < 384 && y >= 192 && y < 256 && z >= 128 && z < 192;
      const want = inChunk ? chunk[(x - 320) + 64 * ((y - 192) + 64 * (z - 128))] : 0;
      expect(d[(x - 300) + 100 * ((y - 200) + 60 * (z - 100))], `voxel ${x},${y},${z}`).toBe(want);
    }
  }, 60_000);

  it('a full import starts at once and runs block by block in bounded memory (killed after 40 blocks; the layer stays marked incomplete)', async () => {
    const dir = await tempDir('wiring-huge-');
    const { file } = await hugeZarr(dir, size);
    const out = path.join(dir, 'full');
    const child = spawnTs(path.join(REPO_ROOT, 'test/wiring-cli.ts'), ['import', file, out, '--chunk-size', '8,8,8', '--workers', '1', '--json']);
    const records = path.join(out, '.wiring-run', 'import', 'blocks');
    const done = () => (existsSync(records) ? readdirSync(records).filter((f) => f.endsWith('.json')).length : 0);
    try {
      await waitFor(() => done() >= 40 || child.exitCode !== null, 120_000, '40 import blocks');
      expect(child.exitCode, (child as unknown as { stderrText: string }).stderrText).toBeNull();
      const peak = peakRss(child.pid!);
      console.log(`import of 2^40 declared voxels: ${done()} blocks written, peak RSS ${(peak / 2 ** 20).toFixed(0)} MiB`);
      // listing 4,194,304 blocks took ~330 bytes each (1.3 GiB); streamed, the process holds node, tsx and a few blocks
      expect(peak).toBeLessThan(400 * 2 ** 20);
    } finally {
      await killProcess(child);
    }
    const layer = await PrecomputedLayer.open(out);
    expect(layer.info.scales[0].size).toEqual(size);
    expect(layer.info.scales[0].sharding?.['@type']).toBe('neuroglancer_uint64_sharded_v1');
    expect(layer.incomplete(0)?.task).toBe('import');
    expect(() => layer.source(0)).toThrow(/incomplete: "import"/);
    // what was written reads back (zeros: the missing chunks' fill value)
    const first = await (await PrecomputedLayer.open(out)).readBox(boxFromShape([64, 64, 64]), 0);
    expect((first.data as Uint8Array).every((v) => v === 0)).toBe(true);
  }, 180_000);
});
