// Sharded multi-resolution meshes (`wiring mesh --sharded`): the same manifests and fragment data
// per segment as the unsharded folder, read back through MultiresMeshReader, one shard file per
// finishing block, the size rule for the default, and clear errors for truncated shard files.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../../test/data.js';
import { boxFromShape, type Vec3 } from '../../core/box.js';
import { FormatError, WiringError } from '../../core/errors.js';
import { mulberry32 } from '../../core/random.js';
import { Volume } from '../../core/volume.js';
import { MultiresMeshReader, decodeMultiresLod, decodeManifest } from '../../formats/mesh/precomputed.js';
import { PrecomputedLayer, ShardReader, locateChunk, makeInfo } from '../../formats/precomputed/index.js';
import { runTasks } from '../../scheduler/index.js';
import { listSkeletons, readSkeleton } from '../../formats/mesh/skeleton.js';
import { MESH_DEFAULTS, finishMeshes, finishSkeletons, planMesh, planSkeletons } from './tasks.js';

/** A seeded segmentation of boxes with ids spread over many residues mod 64. */
async function segmentation(dir: string): Promise<string> {
  const layerDir = path.join(dir, 'seg');
  const shape: Vec3 = [40, 40, 16];
  const layer = await PrecomputedLayer.create(layerDir, makeInfo({ type: 'segmentation', dtype: 'uint64', shape, voxelSize: [8, 8, 16], chunkSize: [8, 8, 8] }));
  const vol = Volume.zeros('uint64', boxFromShape(shape));
  const rnd = mulberry32(7);
  for (let n = 0; n < 30; n++) {
    const id = BigInt(1 + Math.floor(rnd() * 100000)) * 7919n;
    const lo = [0, 1, 2].map((k) => Math.floor(rnd() * (shape[k] - 4)));
    const hi = lo.map((l, k) => Math.min(shape[k], l + 3 + Math.floor(rnd() * 12)));
    for (let z = lo[2]; z < hi[2]; z++) for (let y = lo[1]; y < hi[1]; y++) for (let x = lo[0]; x < hi[0]; x++) vol.data[vol.index(x, y, z)] = id;
  }
  await layer.writeBox(vol);
  return layerDir;
}

async function meshes(layerDir: string, stateDir: string, sharded: boolean | undefined, out: string) {
  const task = await planMesh(layerDir, { blockShape: [24, 24, 16] });
  await runTasks([task], { stateDir, workers: 1, json: true });
  const summary = await finishMeshes(layerDir, task, { lods: 2, fragmentVoxels: 8, sharded });
  await fs.rename(path.join(layerDir, 'mesh'), out);
  return summary;
}

describe('sharded multi-resolution meshes', () => {
  it('hold the same manifest and fragment data per segment as the unsharded folder', async () => {
    const dir = await tempDir();
    const layerDir = await segmentation(dir);
    const plain = await meshes(layerDir, path.join(dir, 's1'), false, path.join(dir, 'plain'));
    const shard = await meshes(layerDir, path.join(dir, 's2'), true, path.join(dir, 'sharded'));
    expect(plain.sharding).toBeUndefined();
    expect(shard.sharding).toMatchObject({ hash: 'identity', preshift_bits: 0, minishard_bits: 0, shard_bits: 6, data_encoding: 'raw' });
    expect(shard.segments_list).toEqual(plain.segments_list);
    expect(plain.segments).toBeGreaterThan(20);
    const files = await fs.readdir(path.join(dir, 'sharded'));
    const shardFiles = files.filter((f) => f.endsWith('.shard'));
    expect(files.length).toBe(shardFiles.length + 1);
    expect(shard.files).toBe(files.length);
    expect(plain.files).toBe(1 + 2 * plain.segments);
    // one file per non-empty residue of the ids mod 64, named by it in two hex digits
    const residues = new Set(plain.segments_list.map((e) => Number(e.id % 64n)));
    expect(shardFiles.sort()).toEqual([...residues].sort((a, b) => a - b).map((r) => `${r.toString(16).padStart(2, '0')}.shard`));
    expect(shardFiles.length).toBeGreaterThan(10);
    const info = JSON.parse(await fs.readFile(path.join(dir, 'sharded', 'info'), 'utf8'));
    expect(info.sharding).toEqual(shard.sharding);

    const a = await MultiresMeshReader.open(path.join(dir, 'plain'));
    const b = await MultiresMeshReader.open(path.join(dir, 'sharded'));
    try {
      expect(b.sharded).toBe(true);
      const ids = plain.segments_list.map((e) => e.id);
      expect(await a.ids()).toEqual(ids);
      expect(await b.ids()).toEqual(ids);
      for (const e of plain.segments_list) {
        const x = (await a.read(e.id))!;
        const y = (await b.read(e.id))!;
        expect(Buffer.from(y.manifest).equals(Buffer.from(x.manifest))).toBe(true);
        expect(Buffer.from(y.data).equals(Buffer.from(x.data))).toBe(true);
        const lods = decodeManifest(y.manifest).lodScales.length;
        expect(lods).toBe(e.lods);
        for (let lod = 0; lod < lods; lod++) {
          const [p, q] = [await decodeMultiresLod(x.manifest, x.data, lod, 10), await decodeMultiresLod(y.manifest, y.data, lod, 10)];
          expect(q.indices.length).toBeGreaterThan(0);
          expect(Array.from(q.vertices)).toEqual(Array.from(p.vertices));
          expect(Array.from(q.indices)).toEqual(Array.from(p.indices));
        }
      }
      // the manifest is the id's chunk in its shard (what Neuroglancer reads first), the data lie before it
      const id = ids[0];
      const r = (await ShardReader.open(path.join(dir, 'sharded', `${(id % 64n).toString(16).padStart(2, '0')}.shard`), shard.sharding!))!;
      try {
        expect(locateChunk(id, shard.sharding!).shard).toBe(id % 64n);
        const m = (await r.read(id))!;
        expect(Buffer.from(m).equals(Buffer.from((await a.read(id))!.manifest))).toBe(true);
      } finally {
        await r.close();
      }
      expect(await b.read(ids[0] + 64n * 1000n)).toBeUndefined();
      expect(await a.read(ids[0] + 64n * 1000n)).toBeUndefined();
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('are the default above MESH_DEFAULTS.shardedAboveSegments segment pieces only; legacy has no sharded form', async () => {
    const dir = await tempDir();
    const layerDir = await segmentation(dir);
    expect(MESH_DEFAULTS.shardedAboveSegments).toBe(50_000);
    const auto = await meshes(layerDir, path.join(dir, 's1'), undefined, path.join(dir, 'auto'));
    expect(auto.sharding).toBeUndefined();
    const task = await planMesh(layerDir, { blockShape: [24, 24, 16] });
    await expect(finishMeshes(layerDir, task, { format: 'legacy', sharded: true })).rejects.toThrow(WiringError);
  });

  it('a truncated or damaged shard file gives an error naming it', async () => {
    const dir = await tempDir();
    const layerDir = await segmentation(dir);
    const s = await meshes(layerDir, path.join(dir, 's1'), true, path.join(dir, 'sharded'));
    const id = s.segments_list[0].id;
    const file = path.join(dir, 'sharded', `${(id % 64n).toString(16).padStart(2, '0')}.shard`);
    const whole = await fs.readFile(file);
    for (const cut of [8, 40, whole.length - 3]) {
      await fs.writeFile(file, whole.subarray(0, cut));
      const r = await MultiresMeshReader.open(path.join(dir, 'sharded'));
      try {
        const err = await r.read(id).then(() => undefined, (e: unknown) => e);
        expect(err).toBeInstanceOf(FormatError);
        expect(String((err as Error).message)).toContain(file);
      } finally {
        await r.close();
      }
    }
    // a manifest that claims more fragment bytes than lie before it
    const bad = Buffer.from(whole);
    await fs.writeFile(file, whole);
    const r0 = (await ShardReader.open(file, s.sharding!))!;
    const at = (await r0.locate(id))!;
    await r0.close();
    bad.writeUInt32LE(2 ** 30, at.start + at.size - 4); // the last fragment size of the last lod
    await fs.writeFile(file, bad);
    const r = await MultiresMeshReader.open(path.join(dir, 'sharded'));
    try {
      await expect(r.read(id)).rejects.toThrow(new RegExp(`${path.basename(file)}.*segment ${id}`));
    } finally {
      await r.close();
    }
  });

  it('skeletons: the same bytes per segment sharded as in one file each, read back by readSkeleton / listSkeletons', async () => {
    const dir = await tempDir();
    const layerDir = await segmentation(dir);
    const task = await planSkeletons(layerDir, { blockShape: [24, 24, 16] });
    await runTasks([task], { stateDir: path.join(dir, 's'), workers: 1, json: true });
    const plain = await finishSkeletons(layerDir, task, { sharded: false });
    await fs.rename(path.join(layerDir, 'skeletons'), path.join(dir, 'plain'));
    const shard = await finishSkeletons(layerDir, task, { sharded: true });
    const sdir = path.join(layerDir, 'skeletons');
    expect(plain.sharding).toBeUndefined();
    expect(shard.sharding).toMatchObject({ hash: 'identity', minishard_bits: 0, shard_bits: 6 });
    expect({ ...shard, files: 0, sharding: undefined }).toEqual({ ...plain, files: 0, sharding: undefined });
    expect(plain.segments).toBeGreaterThan(20);
    expect(plain.files).toBe(1 + plain.segments);
    expect(shard.files).toBe((await fs.readdir(sdir)).length);
    expect(shard.files).toBeLessThan(plain.files);
    const ids = await listSkeletons(path.join(dir, 'plain'));
    expect(ids.length).toBe(plain.segments);
    expect(await listSkeletons(sdir)).toEqual(ids);
    for (const id of ids) expect(await readSkeleton(sdir, id)).toEqual(await readSkeleton(path.join(dir, 'plain'), id));
    // a truncated shard file: the error names it
    const file = path.join(sdir, `${(ids[0] % 64n).toString(16).padStart(2, '0')}.shard`);
    await fs.writeFile(file, (await fs.readFile(file)).subarray(0, 12));
    await expect(readSkeleton(sdir, ids[0])).rejects.toThrow(file);
  });
});
