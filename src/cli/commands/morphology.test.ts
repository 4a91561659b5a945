import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { dataPath, describeData, tempDir } from '../../../test/data.js';
import { runInProcess } from '../../../test/cli-in-process.js';
import type { Vec3 } from '../../core/box.js';
import { Volume } from '../../core/volume.js';
import { decodePly } from '../../formats/mesh/plyobj.js';
import { decodeManifest, decodeMultiresLod, readLegacyMesh } from '../../formats/mesh/precomputed.js';
import { readSkeleton } from '../../formats/mesh/skeleton.js';
import { PrecomputedLayer, makeInfo } from '../../formats/precomputed/index.js';
import { holeEdges, meshArea, meshVolume, openEdges, weldVertices } from '../../stages/morphology/mesh.js';
import { paintTubes, randomTubes } from '../../stages/morphology/synthetic.js';
import { MESH_DEFAULTS } from '../../stages/morphology/tasks.js';
import { register as registerMesh } from './mesh.js';
import { register as registerStats } from './skeleton-stats.js';
import { register as registerSkel } from './skeletonize.js';

const cli = async (args: string[]): Promise<unknown> => JSON.parse(await runInProcess([registerMesh, registerSkel, registerStats], args));

describe('wiring mesh / skeletonize / skeleton-stats', () => {
  it('mesh and skeletonize a segmentation layer blockwise, readable back in Neuroglancer formats', async () => {
    const dir = await tempDir('wiring-morph-');
    const layerDir = path.join(dir, 'neurons');
    const shape: Vec3 = [48, 40, 24];
    const res: Vec3 = [8, 8, 16];
    const lab = new Uint32Array(shape[0] * shape[1] * shape[2]);
    paintTubes(lab, shape, randomTubes(shape, 6, { seed: 9, radius: [2, 4] }));
    // one closed ball in the middle of nowhere (label 100), away from the volume border
    for (let z = 8; z < 16; z++) for (let y = 2; y < 8; y++) for (let x = 2; x < 8; x++) lab[x + 48 * (y + 40 * z)] = 100;
    const ids = new BigUint64Array(lab.length);
    for (let i = 0; i < lab.length; i++) ids[i] = lab[i] ? (1n << 60n) + BigInt(lab[i]) : 0n;
    const layer = await PrecomputedLayer.create(layerDir, makeInfo({ type: 'segmentation', dtype: 'uint64', shape, voxelSize: res, chunkSize: [16, 16, 8] }));
    await layer.writeBox(new Volume('uint64', { min: [0, 0, 0], max: shape }, ids, 1, res));
    const ball = (1n << 60n) + 100n;

    const m = (await cli(['mesh', layerDir, '--block-shape', '16,16,8', '--fragment-size', '4', '--workers', '1', '--ply', path.join(dir, 'ply'), '--json'])) as {
      segments: number; open: number; fragment_shape_nm: number[]; segments_list: Array<{ id: string; closed: boolean; volume_nm3: number; fragments: number }>;
    };
    // octree cells of 4 voxels in x, y (32 nm) and 2 in z (32 nm)
    expect(m.fragment_shape_nm).toEqual([32, 32, 32]);
    const labelsPresent = new Set(lab);
    labelsPresent.delete(0);
    expect(m.segments).toBe(labelsPresent.size);
    const ballRow = m.segments_list.find((s) => s.id === ball.toString())!;
    expect(ballRow.closed).toBe(true);
    const voxVol = 6 * 6 * 8 * res[0] * res[1] * res[2];
    expect(Math.abs(ballRow.volume_nm3 / voxVol - 1)).toBeLessThan(0.2); // a small box: edges/corners cut
    const info = JSON.parse(await fs.readFile(path.join(layerDir, 'info'), 'utf8'));
    expect(info.mesh).toBe('mesh');
    const meshInfo = JSON.parse(await fs.readFile(path.join(layerDir, 'mesh', 'info'), 'utf8'));
    expect(meshInfo['@type']).toBe('neuroglancer_multilod_draco');
    // small cells (32 nm): 10-bit positions, a step of 32/1023 nm
    expect(meshInfo.vertex_quantization_bits).toBe(10);
    const bits = meshInfo.vertex_quantization_bits as 10 | 16;
    const manifest = new Uint8Array(await fs.readFile(path.join(layerDir, 'mesh', `${ball}.index`)));
    const data = new Uint8Array(await fs.readFile(path.join(layerDir, 'mesh', `${ball}`)));
    const mf = decodeManifest(manifest);
    expect(mf.lodScales.length).toBeGreaterThanOrEqual(1);
    // the 6x6x8-voxel box spans several 4-voxel cells: one fragment per cell at lod 0
    expect(mf.fragments[0].positions.length).toBeGreaterThan(4);
    expect(ballRow.fragments).toBe(mf.fragments.reduce((a, f) => a + f.positions.length, 0));
    // the fragments, welded by position, are the closed mesh, lod 0 simplified by default within
    // half a voxel (8 nm voxels: 4 nm), so the volume moves by at most area x 4 nm
    const lod0 = weldVertices(await decodeMultiresLod(manifest, data, 0, bits));
    expect(holeEdges(lod0)).toBe(0);
    const ply = decodePly(new Uint8Array(await fs.readFile(path.join(dir, 'ply', `${ball}.ply`))));
    expect(meshVolume(ply)).toBeCloseTo(ballRow.volume_nm3, 0);
    expect(Math.abs(meshVolume(lod0) - ballRow.volume_nm3)).toBeLessThan(meshArea(ply) * 4);
    expect(lod0.indices.length).toBeLessThan(ply.indices.length); // the flat box faces merged
    const tubeRow = m.segments_list.reduce((a, b) => (b.fragments > a.fragments ? b : a));
    const readLod0 = async (id: string) => weldVertices(await decodeMultiresLod(new Uint8Array(await fs.readFile(path.join(layerDir, 'mesh', `${id}.index`))), new Uint8Array(await fs.readFile(path.join(layerDir, 'mesh', id))), 0, bits));
    const tubeLod0 = await readLod0(tubeRow.id);
    expect(holeEdges(tubeLod0)).toBe(0);
    expect(Math.abs(meshVolume(tubeLod0) / tubeRow.volume_nm3 - 1)).toBeLessThan(0.05);
    // --lod0-error 0 --downsample 1 (the exact path; 8x8x16 nm is meshed at 16x16x16 by default):
    // lod 0 is the full-resolution marching-cubes mesh itself (closed, manifold, same volume)
    const exactRun = (await cli(['mesh', layerDir, '--block-shape', '16,16,8', '--fragment-size', '4', '--lod0-error', '0', '--downsample', '1', '--workers', '1', '--json'])) as typeof m;
    for (const row of [ballRow, tubeRow]) {
      const exact = await readLod0(row.id);
      const exactRow = exactRun.segments_list.find((s) => s.id === row.id)!;
      expect(openEdges(exact)).toBe(0);
      expect(Math.abs(meshVolume(exact) / exactRow.volume_nm3 - 1)).toBeLessThan(0.001);
    }
    // --lod0-error 0 on the default (coarse) path: lod 0 is the coarse marching-cubes mesh with its
    // thin patches, cavities and partial-volume vertices, decoded and welded by position: manifold
    // too (a partial-volume vertex moved half a fine voxel used to land on a thin-patch vertex of the
    // same segment and weld to it: edges of three or four triangles)
    const coarseExact = (await cli(['mesh', layerDir, '--block-shape', '16,16,8', '--fragment-size', '4', '--lod0-error', '0', '--workers', '1', '--json'])) as typeof m;
    expect(coarseExact.segments).toBe(labelsPresent.size);
    for (const row of coarseExact.segments_list) {
      const lod0 = await readLod0(row.id);
      expect(openEdges(lod0), `segment ${row.id}: edges not shared by exactly two triangles`).toBe(0);
      expect(Math.abs(meshVolume(lod0) / row.volume_nm3 - 1)).toBeLessThan(0.001);
    }
    // the default (coarse) marching-cubes volume of the largest tube within 5 % of the full-resolution one
    // (the 288-voxel box loses more at its coarse corners: its bound is the 20 % above)
    const tubeExact = exactRun.segments_list.find((s) => s.id === tubeRow.id)!;
    expect(Math.abs(tubeRow.volume_nm3 / tubeExact.volume_nm3 - 1)).toBeLessThan(0.05);
    await expect(cli(['mesh', layerDir, '--lod0-error', '-1', '--json'])).rejects.toThrow(/--lod0-error -1/);
    await expect(cli(['mesh', layerDir, '--min-lod-triangles', '2.5', '--json'])).rejects.toThrow(/--min-lod-triangles 2.5/);

    // legacy format, whole volume in one block: same closed meshes
    const l = (await cli(['mesh', layerDir, '--format', 'legacy', '--workers', '1', '--json'])) as { segments: number; closed: number };
    expect(l.segments).toBe(m.segments);
    const legacy = await readLegacyMesh(path.join(layerDir, 'mesh'), ball);
    expect(meshVolume(legacy)).toBeCloseTo(ballRow.volume_nm3, 0);

    const s = (await cli(['skeletonize', layerDir, '--block-shape', '16,16,8', '--workers', '1', '--swc', path.join(dir, 'swc'), '--json'])) as { segments: number };
    expect(s.segments).toBe(labelsPresent.size);
    const sk = await readSkeleton(path.join(layerDir, 'skeletons'), ball);
    expect(sk.radius.length).toBeGreaterThan(0);
    expect(JSON.parse(await fs.readFile(path.join(layerDir, 'info'), 'utf8')).skeletons).toBe('skeletons');

    const fromLayer = (await cli(['skeleton-stats', layerDir, '--json'])) as Array<{ id: string; nodes: number; cable_length_nm: number }>;
    expect(fromLayer.length).toBe(labelsPresent.size);
    const fromSwc = (await cli(['skeleton-stats', path.join(dir, 'swc'), '--json'])) as Array<{ id: string; nodes: number; cable_length_nm: number }>;
    const a = fromLayer.find((r) => r.id === ball.toString())!;
    const b = fromSwc.find((r) => r.id === ball.toString())!;
    expect(b.nodes).toBe(a.nodes);
    expect(b.cable_length_nm).toBeCloseTo(a.cable_length_nm, 0);
    // 8x8x16 nm voxels: skeletonized on every 2nd voxel in x and y by default (vertices on even
    // voxels), --sample-step 1 on the full grid (more vertices)
    for (let i = 0; i < sk.vertices.length; i += 3) expect([(sk.vertices[i] / 8 - 0.5) % 2, (sk.vertices[i + 1] / 8 - 0.5) % 2]).toEqual([0, 0]);
    const sampledNodes = fromLayer.reduce((n, r) => n + r.nodes, 0);
    const full = (await cli(['skeletonize', layerDir, '--block-shape', '16,16,8', '--sample-step', '1', '--workers', '1', '--json'])) as { segments: number; vertices: number };
    expect(full.segments).toBe(labelsPresent.size);
    expect(full.vertices).toBeGreaterThan(sampledNodes);
    await expect(cli(['skeletonize', layerDir, '--sample-step', '0', '--json'])).rejects.toThrow(/--sample-step 0/);
  });

  it('--merge-flat: the same surfaces (volumes), every mesh closed, fewer marching-cubes triangles through the block files', async () => {
    const dir = await tempDir('wiring-morph-flat-');
    // anisotropic slabs: each segment a stack of rectangles that shift between sections, so the
    // sections' tops and bottoms hold flat quads, across blocks and 4-voxel fragment cells
    const shape: Vec3 = [40, 36, 12];
    const res: Vec3 = [8, 8, 30];
    const ids = new BigUint64Array(shape[0] * shape[1] * shape[2]);
    for (let l = 1; l <= 4; l++)
      for (let z = l - 1; z < 8 + l; z++)
        for (let y = 2 + 7 * (l - 1); y < 9 + 7 * (l - 1); y++)
          for (let x = 1 + ((z * l) % 5); x < 30 + ((z + l) % 7); x++) ids[x + shape[0] * (y + shape[1] * z)] = 1000n + BigInt(l);
    type Summary = { open: number; segments: number; segments_list: Array<{ id: string; closed: boolean; volume_nm3: number }> };
    const run = async (name: string, extra: string[]): Promise<Summary> => {
      const layerDir = path.join(dir, name);
      const layer = await PrecomputedLayer.create(layerDir, makeInfo({ type: 'segmentation', dtype: 'uint64', shape, voxelSize: res, chunkSize: [16, 16, 8] }));
      await layer.writeBox(new Volume('uint64', { min: [0, 0, 0], max: shape }, ids, 1, res));
      return (await cli(['mesh', layerDir, '--block-shape', '16,16,8', '--fragment-size', '8', '--workers', '1', ...extra, '--json'])) as Summary;
    };
    // --merge-flat meshes at full resolution (it turns the downsampling off): the same as --downsample 1
    const plain = await run('plain', ['--downsample', '1']);
    const merged = await run('merged', ['--merge-flat']);
    expect(merged.segments).toBe(4);
    expect(merged.open).toBe(0);
    for (const [k, row] of merged.segments_list.entries()) {
      expect(row.closed).toBe(true);
      expect(row.id).toBe(plain.segments_list[k].id);
      expect(Math.abs(row.volume_nm3 / plain.segments_list[k].volume_nm3 - 1)).toBeLessThan(1e-6);
    }
    // the block files hold the marching-cubes meshes: fewer bytes when flat quads were merged
    const bytes = async (name: string) => {
      const work = path.join(dir, name, '.wiring-morphology');
      let n = 0;
      for (const sub of await fs.readdir(work)) for (const f of await fs.readdir(path.join(work, sub))) n += (await fs.stat(path.join(work, sub, f))).size;
      return n;
    };
    expect(await bytes('merged')).toBeLessThan(await bytes('plain'));
  });

  it('--downsample 2: meshes from the labels at 16x16x30 nm, every segment meshed and closed, volumes near full resolution, fewer marching-cubes triangles', async () => {
    const dir = await tempDir('wiring-morph-down-');
    // 8x8x30 nm, odd x and y extents (partial coarse voxels at the upper faces), 4 blocks in x-y;
    // thick tubes plus a one-voxel speck (label 99) that no coarse voxel keeps
    const shape: Vec3 = [41, 35, 12];
    const res: Vec3 = [8, 8, 30];
    const lab = new Uint32Array(shape[0] * shape[1] * shape[2]);
    paintTubes(lab, shape, randomTubes(shape, 5, { seed: 3, radius: [3, 5] }));
    const speck = 20 + 41 * (17 + 35 * 6);
    for (const d of [-1, 1, -41, 41]) lab[speck + d] = 0;
    lab[speck] = 99;
    const ids = new BigUint64Array(lab.length);
    for (let i = 0; i < lab.length; i++) ids[i] = lab[i] ? 5000n + BigInt(lab[i]) : 0n;
    type Summary = { open: number; segments: number; triangles: number; small_full_resolution?: number; segments_list: Array<{ id: string; closed: boolean; volume_nm3: number }> };
    const run = async (name: string, extra: string[]): Promise<Summary> => {
      const layerDir = path.join(dir, name);
      const layer = await PrecomputedLayer.create(layerDir, makeInfo({ type: 'segmentation', dtype: 'uint64', shape, voxelSize: res, chunkSize: [16, 16, 8] }));
      await layer.writeBox(new Volume('uint64', { min: [0, 0, 0], max: shape }, ids, 1, res));
      return (await cli(['mesh', layerDir, '--block-shape', '24,24,12', '--workers', '1', ...extra, '--json'])) as Summary;
    };
    const full = await run('full', ['--downsample', '1']);
    // every segment coarse (--full-res-below 0), then the default: segments under the threshold at full resolution
    const down = await run('down', ['--downsample', '2', '--full-res-below', '0']);
    const present = new Set(lab);
    present.delete(0);
    const voxels = new Map<string, number>();
    for (const v of ids) if (v) voxels.set(String(v), (voxels.get(String(v)) ?? 0) + 1);
    // a threshold between the segments' sizes
    const sizes = [...voxels.values()].sort((x, y) => x - y);
    const small = (sizes[sizes.length >> 1] + sizes[(sizes.length >> 1) - 1]) / 2;
    const mixed = await run('mixed', ['--downsample', '2', '--full-res-below', String(small)]);
    expect(down.segments).toBe(present.size);
    expect(down.open).toBe(0);
    expect(down.small_full_resolution).toBeUndefined();
    expect(down.segments_list.map((r) => r.id)).toEqual(full.segments_list.map((r) => r.id));
    for (const [k, row] of down.segments_list.entries()) {
      expect(row.closed).toBe(true);
      if (row.id === '5099') continue; // the speck: meshed at full resolution
      expect(Math.abs(row.volume_nm3 / full.segments_list[k].volume_nm3 - 1)).toBeLessThan(0.1);
    }
    expect(down.segments_list.find((r) => r.id === '5099')!.volume_nm3).toBeCloseTo(full.segments_list.find((r) => r.id === '5099')!.volume_nm3, 0);
    // vertices on the coarse faces (--no-partial-volume): other volumes, still closed, further from full resolution in sum
    expect(MESH_DEFAULTS.partialVolume).toBe(true);
    const mode = await run('mode', ['--downsample', '2', '--full-res-below', '0', '--no-partial-volume']);
    expect(mode.open).toBe(0);
    let dPv = 0, dMode = 0;
    for (const [k, row] of mode.segments_list.entries()) {
      if (row.id === '5099') continue;
      dPv += Math.abs(down.segments_list[k].volume_nm3 / full.segments_list[k].volume_nm3 - 1);
      dMode += Math.abs(row.volume_nm3 / full.segments_list[k].volume_nm3 - 1);
    }
    expect(dPv).toBeLessThan(dMode);
    // segments with fewer voxels than the threshold get the full-resolution surface, the others the coarse one
    const nSmall = [...voxels.values()].filter((n) => n < small).length;
    expect(nSmall).toBeGreaterThan(0);
    expect(nSmall).toBeLessThan(voxels.size);
    expect(mixed.small_full_resolution).toBe(nSmall);
    expect(mixed.open).toBe(0);
    for (const [k, row] of mixed.segments_list.entries()) {
      expect(row.closed).toBe(true);
      const want = voxels.get(row.id)! < small ? full.segments_list[k] : down.segments_list[k];
      expect(row.volume_nm3 / want.volume_nm3, `segment ${row.id}, ${voxels.get(row.id)} voxels`).toBeCloseTo(1, 6);
    }
    const bytes = async (name: string) => {
      const work = path.join(dir, name, '.wiring-morphology');
      let n = 0;
      for (const sub of await fs.readdir(work)) for (const f of await fs.readdir(path.join(work, sub))) n += (await fs.stat(path.join(work, sub, f))).size;
      return n;
    };
    expect(await bytes('down')).toBeLessThan((await bytes('full')) / 2);
    await expect(cli(['mesh', path.join(dir, 'down'), '--downsample', '3', '--json'])).rejects.toThrow(/--downsample 3/);
  });

  it('rejects bad options and non-segmentation layers', async () => {
    const dir = await tempDir('wiring-morph-bad-');
    const img = path.join(dir, 'raw');
    await PrecomputedLayer.create(img, makeInfo({ type: 'image', dtype: 'uint8', shape: [8, 8, 8], voxelSize: [4, 4, 40] }));
    await expect(cli(['mesh', img, '--workers', '1', '--json'])).rejects.toThrow(/expected "segmentation"/);
    await expect(cli(['mesh', img, '--format', 'stl', '--json'])).rejects.toThrow(/multires or legacy/);
    await expect(cli(['skeleton-stats', path.join(dir, 'nope.swc'), '--json'])).rejects.toThrow(/no such file/);
  });
});

describeData('hemibrain-da1', 'wiring skeleton-stats on hemibrain SWC', () => {
  it('gives one row per file, id = file name', async () => {
    const rows = (await cli(['skeleton-stats', dataPath('hemibrain-da1', 'swc'), '--swc-scale', '8', '--json'])) as Array<Record<string, unknown>>;
    expect(rows.map((r) => r.id).sort()).toEqual(['1734350788', '1734350908', '722817260', '754534424', '754538881']);
    for (const r of rows) expect(Object.keys(r)).toEqual(expect.arrayContaining(['nodes', 'cable_length_nm', 'branch_points', 'end_points']));
    expect(rows.find((r) => r.id === '722817260')!.nodes).toBe(4332);
  });
  it('splits axon from dendrite with the synapse tables and reports the segregation index', async () => {
    const rows = (await cli(['skeleton-stats', dataPath('hemibrain-da1', 'swc'), '--swc-scale', '8', '--synapses', dataPath('hemibrain-da1', 'synapses'), '--json'])) as Array<{
      id: string; synapses: { pre: number; post: number; segregation_index: number; axon: { pre: number; post: number } };
    }>;
    expect(rows).toHaveLength(5);
    for (const r of rows) {
      expect(r.synapses.pre + r.synapses.post).toBeGreaterThan(2000);
      expect(r.synapses.segregation_index).toBeGreaterThan(0.2);
      expect(r.synapses.segregation_index).toBeLessThan(0.5);
      // the axon (calyx + lateral horn) is output-dominated
      expect(r.synapses.axon.pre).toBeGreaterThan(r.synapses.axon.post);
    }
  });
});
