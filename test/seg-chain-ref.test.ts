// The reference segmentation chain (bench/refs/ref_seg_chain.py through its driver bench/seg-chain-ref.ts)
// on a tiny synthetic volume: two cells split by a dark, wavy membrane; trained on one seed, run on
// another. Runs only when Debian's /usr/bin/python3 has the modules (skipped with the reason otherwise).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { box } from '../src/core/box.js';
import { Volume } from '../src/core/volume.js';
import { writeNpy } from '../src/formats/npy.js';
import { PY, REF_SEG_CHAIN_MODULES, runRefSegChain } from '../bench/seg-chain-ref.js';

function missing(): string | undefined {
  if (!existsSync(PY)) return `${PY} not found`;
  const r = spawnSync(PY, ['-c', `import ${REF_SEG_CHAIN_MODULES.join(', ')}`], { encoding: 'utf8' });
  return r.status === 0 ? undefined : `${PY} cannot import ${REF_SEG_CHAIN_MODULES.join(', ')}: ${(r.stderr || '').trim().split('\n').pop()}`;
}
const why = missing();
if (why) console.log(`[skip] ref_seg_chain.py test: ${why}`);

const SX = 40, SY = 36, SZ = 12;

/** Two cells (ids 1, 2) split at a wavy x position; raw: bright cells, a dark 3-voxel membrane, seeded noise. */
function twoCells(seed: number): { raw: Volume<'uint8'>; gt: Volume<'uint32'>; wall: (y: number, z: number) => number } {
  let s = seed >>> 0;
  const rnd = (): number => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const phase = rnd() * 6;
  const wall = (y: number, z: number): number => SX / 2 + 4 * Math.sin(phase + y / 6 + z / 8);
  const b = box([0, 0, 0], [SX, SY, SZ]);
  const raw = Volume.zeros('uint8', b, { voxelSize: [10, 10, 10] });
  const gt = Volume.zeros('uint32', b, { voxelSize: [10, 10, 10] });
  for (let z = 0, i = 0; z < SZ; z++) {
    for (let y = 0; y < SY; y++) {
      const w = wall(y, z);
      for (let x = 0; x < SX; x++, i++) {
        gt.data[i] = x + 0.5 < w ? 1 : 2;
        const noise = (rnd() + rnd() + rnd() - 1.5) * 40;
        raw.data[i] = Math.max(0, Math.min(255, Math.round((Math.abs(x + 0.5 - w) < 1.5 ? 50 : 190) + noise)));
      }
    }
  }
  return { raw, gt, wall };
}

describe.skipIf(why !== undefined)('ref_seg_chain.py (reference segmentation chain)', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'wiring-refsegchain-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('segments a held-out two-cell volume into its two cells', async () => {
    const a = twoCells(1), b = twoCells(2);
    const f = (n: string): string => path.join(dir, n);
    await writeNpy(f('tr.npy'), a.raw);
    await writeNpy(f('tg.npy'), a.gt);
    await writeNpy(f('te.npy'), b.raw);
    const { info } = runRefSegChain({ trainRaw: f('tr.npy'), trainGt: f('tg.npy'), testRaw: f('te.npy'), out: f('seg.npy'), trees: 10, samples: 4000, args: ['--sigmas', '0.7,1.6'] });
    expect(info.chosen.cut).toBeGreaterThan(0);
    const bytes = readFileSync(f('seg.npy'));
    const head = bytes.readUInt16LE(8) + 10;
    const seg = new Uint32Array(bytes.buffer.slice(bytes.byteOffset + head, bytes.byteOffset + bytes.length));
    expect(seg.length).toBe(SX * SY * SZ);
    // every voxel more than 2 voxels from the membrane: each cell one segment, the two cells different
    const count = [new Map<number, number>(), new Map<number, number>()];
    for (let z = 0, i = 0; z < SZ; z++) {
      for (let y = 0; y < SY; y++) {
        const w = b.wall(y, z);
        for (let x = 0; x < SX; x++, i++) {
          if (Math.abs(x + 0.5 - w) <= 3) continue;
          const m = count[b.gt.data[i] - 1];
          m.set(seg[i], (m.get(seg[i]) ?? 0) + 1);
        }
      }
    }
    const major = count.map((m) => [...m.entries()].sort((p, q) => q[1] - p[1])[0]);
    const total = count.map((m) => [...m.values()].reduce((s, v) => s + v, 0));
    expect(major[0][0]).not.toBe(major[1][0]);
    expect(major[0][1] / total[0]).toBeGreaterThan(0.99);
    expect(major[1][1] / total[1]).toBeGreaterThan(0.99);
  });
});
