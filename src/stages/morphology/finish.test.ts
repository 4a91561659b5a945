// The finishing steps of meshes and skeletons run as one scheduler block per shard of the ids
// (shards.ts): the files they write and their summaries are the same for every block shape and
// worker count (worker threads included), and the sharded block files refuse other files clearly.
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { fileListing as listing, tempDir } from '../../../test/data.js';
import { boxFromShape, type Vec3 } from '../../core/box.js';
import { FormatError } from '../../core/errors.js';
import { mulberry32 } from '../../core/random.js';
import { Volume } from '../../core/volume.js';
import { PrecomputedLayer, makeInfo } from '../../formats/precomputed/index.js';
import { runTasks } from '../../scheduler/index.js';
import { encodeSharded, readShard, shardLengths, shardOf } from './shards.js';
import { FINISH_SHARDS, FINISH_SHARD_VOXELS, MESH_DEFAULTS, finishMeshes, finishShards, finishSkeletons, planMesh, planSkeletons } from './tasks.js';

/** File name -> short hash (readable diffs). */
function digest(files: Map<string, string>): Record<string, string> {
  return Object.fromEntries([...files].map(([f, b]) => [f, createHash('sha256').update(b).digest('hex').slice(0, 16)]));
}


/** A seeded segmentation of boxes and slabs with ids across many shards. */
async function segmentation(dir: string): Promise<string> {
  const layerDir = path.join(dir, 'seg');
  const shape: Vec3 = [32, 32, 16];
  const layer = await PrecomputedLayer.create(layerDir, makeInfo({ type: 'segmentation', dtype: 'uint64', shape, voxelSize: [8, 8, 16], chunkSize: [8, 8, 8] }));
  const vol = Volume.zeros('uint64', boxFromShape(shape));
  const rnd = mulberry32(22);
  for (let n = 0; n < 14; n++) {
    const id = BigInt(1 + Math.floor(rnd() * 1000)) * 1000003n;
    const lo = [0, 1, 2].map((k) => Math.floor(rnd() * (shape[k] - 6)));
    const hi = lo.map((l, k) => Math.min(shape[k], l + 4 + Math.floor(rnd() * 14)));
    for (let z = lo[2]; z < hi[2]; z++) for (let y = lo[1]; y < hi[1]; y++) for (let x = lo[0]; x < hi[0]; x++) vol.data[vol.index(x, y, z)] = id;
  }
  await layer.writeBox(vol);
  return layerDir;
}

async function runMorphology(layerDir: string, blockShape: Vec3, workers: number, stateDir: string, shards?: number) {
  const mesh = await planMesh(layerDir, { blockShape });
  const skel = await planSkeletons(layerDir, { blockShape });
  if (shards !== undefined) mesh.params.shards = skel.params.shards = shards;
  await runTasks([mesh, skel], { stateDir, workers, json: true });
  const m = await finishMeshes(layerDir, mesh, { lods: 2, fragmentVoxels: 8, run: { workers, json: true } });
  const s = await finishSkeletons(layerDir, skel, { run: { workers, json: true } });
  return { m, s, mesh: await listing(path.join(layerDir, 'mesh')), skel: await listing(path.join(layerDir, 'skeletons')) };
}

describe('mesh / skeleton finishing blocks', () => {
  it('write the same files and summaries for every worker count (threads included)', async () => {
    const dir = await tempDir();
    const layerDir = await segmentation(dir);
    // (the merged mesh's vertex order follows the blocks, so mesh bytes are compared per block shape)
    for (const shape of [[16, 16, 8]] as Vec3[]) {
      const ref = await runMorphology(layerDir, shape, 1, path.join(dir, `s1-${shape.join('x')}`));
      expect(ref.m.segments).toBeGreaterThan(8);
      expect(new Set(ref.m.segments_list.map((e) => shardOf(e.id, FINISH_SHARDS))).size).toBeGreaterThan(4);
      expect(ref.s.segments).toBeGreaterThan(8);
      // a segment whose lod 0 holds fewer triangles than MESH_DEFAULTS.minCoarseLodTriangles keeps lod 0 alone
      const small = ref.m.segments_list.filter((e) => e.triangles < MESH_DEFAULTS.minCoarseLodTriangles);
      // (some of them span several lod-0 cells, which the octree's own rule alone would have given a coarser level)
      expect(small.filter((e) => e.fragments > 1).length).toBeGreaterThan(0);
      expect(small.map((e) => e.lods)).toEqual(small.map(() => 1));
      // no finishing records are left in the output folders
      expect([...ref.mesh.keys(), ...ref.skel.keys()].filter((f) => f.includes('.wiring'))).toEqual([]);
      const got = await runMorphology(layerDir, shape, 2, path.join(dir, `s2-${shape.join('x')}`));
      expect(digest(got.mesh)).toEqual(digest(ref.mesh));
      expect(digest(got.skel)).toEqual(digest(ref.skel));
      expect(got.m).toEqual(ref.m);
      expect(got.s).toEqual(ref.s);
      // another shard count (what a larger volume gets) writes the same files
      const other = await runMorphology(layerDir, shape, 2, path.join(dir, `s7-${shape.join('x')}`), 7);
      expect(digest(other.mesh)).toEqual(digest(ref.mesh));
      expect(digest(other.skel)).toEqual(digest(ref.skel));
    }
  }, 120_000);

  it('use more shards as the volume grows, so that a finishing block covers a bounded share of it', () => {
    const box = (x: number, y: number, z: number) => ({ min: [0, 0, 0] as Vec3, max: [x, y, z] as Vec3 });
    expect(finishShards(box(192, 192, 48))).toBe(FINISH_SHARDS);
    expect(finishShards(box(512, 512, 128))).toBe(FINISH_SHARDS);
    expect(finishShards(box(512, 512, 129))).toBe(2 * FINISH_SHARDS);
    expect(finishShards(box(512, 512, 512))).toBe(4 * FINISH_SHARDS);
    for (const b of [box(1024, 1024, 1000), box(2048, 2048, 1000), box(777, 333, 999)]) {
      const n = finishShards(b);
      expect((b.max[0] * b.max[1] * b.max[2]) / n).toBeLessThanOrEqual(FINISH_SHARD_VOXELS / FINISH_SHARDS);
      expect((b.max[0] * b.max[1] * b.max[2]) / (n / 2)).toBeGreaterThan(FINISH_SHARD_VOXELS / FINISH_SHARDS);
    }
  });

  it('sharded block files: sections by id mod count, other files refused', async () => {
    const dir = await tempDir();
    const items = [5n, 9n, 13n, 6n].map((id) => ({ id, v: Number(id) }));
    const enc = (its: Array<{ id: bigint; v: number }>) => Uint8Array.from(its.map((i) => i.v));
    const file = path.join(dir, '0_0_0.bin');
    await fs.writeFile(file, encodeSharded(items, 4, enc));
    expect(await shardLengths(file)).toEqual([0, 3, 1, 0]);
    expect([...(await readShard(file, 1, 4))]).toEqual([5, 9, 13]);
    expect([...(await readShard(file, 0, 4))]).toEqual([]);
    await expect(readShard(file, 1, 8)).rejects.toThrow(/has 4 shards, expected 8/);
    await fs.writeFile(file, new Uint8Array([1, 0, 0, 0, 7]));
    await expect(shardLengths(file)).rejects.toBeInstanceOf(FormatError);
    await expect(readShard(file, 0, 4)).rejects.toThrow(/0_0_0\.bin.*not a sharded block file|not a sharded block file/);
  });
});
