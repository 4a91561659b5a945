import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { dataPath, describeData, tempDir } from '../../../test/data.js';
import { decodeDracoIntMesh, encodeDracoIntMesh } from './draco.js';
import { decodeObj, decodePly, encodeObj, encodePly, type TriMesh } from './plyobj.js';
import {
  decodeLegacyFragment,
  decodeManifest,
  decodeMultiresFragments,
  decodeMultiresLod,
  encodeLegacyFragment,
  encodeMultiresOctree,
  type MeshOctree,
  readLegacyMesh,
  writeLegacyInfo,
  writeLegacyMesh,
  writeMultiresMesh,
  zorderLess,
} from './precomputed.js';

const tetra: TriMesh = {
  vertices: new Float32Array([0, 0, 0, 8, 0, 0, 0, 8, 0, 0, 0, 40]),
  indices: new Uint32Array([0, 2, 1, 0, 1, 3, 0, 3, 2, 1, 2, 3]),
};

describe('PLY and OBJ', () => {
  it('round-trip a mesh', () => {
    const p = decodePly(encodePly(tetra, 'segment 5'));
    expect(Array.from(p.vertices)).toEqual(Array.from(tetra.vertices));
    expect(Array.from(p.indices)).toEqual(Array.from(tetra.indices));
    const o = decodeObj(encodeObj(tetra));
    expect(Array.from(o.vertices)).toEqual(Array.from(tetra.vertices));
    expect(Array.from(o.indices)).toEqual(Array.from(tetra.indices));
  });
  it('reads ASCII PLY with quads and rejects broken files', () => {
    const text = 'ply\nformat ascii 1.0\nelement vertex 4\nproperty float x\nproperty float y\nproperty float z\nelement face 1\nproperty list uchar int vertex_indices\nend_header\n0 0 0\n1 0 0\n1 1 0\n0 1 0\n4 0 1 2 3\n';
    const m = decodePly(new TextEncoder().encode(text));
    expect(Array.from(m.indices)).toEqual([0, 1, 2, 0, 2, 3]);
    expect(() => decodePly(new TextEncoder().encode('ply\nformat binary_big_endian 1.0\nend_header\n'))).toThrow(/binary_big_endian/);
    expect(() => decodePly(new Uint8Array(10))).toThrow(/end_header/);
    const bin = encodePly(tetra);
    expect(() => decodePly(bin.subarray(0, bin.length - 5), 'x.ply')).toThrow(/x.ply: file ends/);
    expect(() => decodeObj('v 0 0 0\nf 1 2 3\n', 'a.obj')).toThrow(/a.obj: line 2/);
  });
});

describe('Neuroglancer legacy meshes', () => {
  it('encode the documented layout and read back from a folder', async () => {
    const bytes = encodeLegacyFragment(tetra);
    expect(bytes.length).toBe(4 + 4 * 12 + 4 * 12);
    expect(new DataView(bytes.buffer).getUint32(0, true)).toBe(4);
    expect(Array.from(decodeLegacyFragment(bytes).indices)).toEqual(Array.from(tetra.indices));
    expect(() => decodeLegacyFragment(bytes.subarray(0, 20), 'frag')).toThrow(/frag/);
    const dir = await tempDir();
    await writeLegacyInfo(dir);
    await writeLegacyMesh(dir, 864691135639556411n, tetra);
    expect(JSON.parse(await fs.readFile(path.join(dir, '864691135639556411:0'), 'utf8'))).toEqual({ fragments: ['864691135639556411:0:1'] });
    const back = await readLegacyMesh(dir, 864691135639556411n);
    expect(Array.from(back.vertices)).toEqual(Array.from(tetra.vertices));
  });
});

describe('Neuroglancer multi-resolution Draco meshes', () => {
  it('Draco round-trips integer positions exactly', async () => {
    const pos = new Int32Array([0, 0, 0, 65535, 0, 0, 0, 65535, 0, 0, 0, 65535]);
    const enc = await encodeDracoIntMesh(pos, tetra.indices);
    const dec = await decodeDracoIntMesh(enc);
    expect(dec.indices.length).toBe(12);
    // Draco may reorder points: compare as sets of triangles of positions
    const tri = (p: Int32Array, f: Uint32Array) =>
      Array.from({ length: f.length / 3 }, (_, t) => [0, 1, 2].map((k) => Array.from(p.subarray(3 * f[3 * t + k], 3 * f[3 * t + k] + 3)).join(',')).sort().join('|')).sort();
    expect(tri(dec.positions, dec.indices)).toEqual(tri(pos, tetra.indices));
  });

  it('writes an octree manifest and fragments that decode to the mesh within quantization', async () => {
    // the tetrahedron in 2 lod-0 cells of 8 x 8 x 20 nm (split at z = 20 by hand: the triangles
    // touching vertex 3 are cut at z = 20), and one lod-1 node holding the whole tetrahedron
    const v = new Float64Array([0, 0, 0, 8, 0, 0, 0, 8, 0, 0, 0, 40, 4, 0, 20, 0, 4, 20, 0, 0, 20]);
    const low = new Uint32Array([0, 2, 1, 0, 1, 4, 0, 4, 6, 0, 6, 5, 0, 5, 2, 1, 2, 5, 1, 5, 4]);
    const high = new Uint32Array([6, 4, 3, 6, 3, 5, 4, 5, 3]);
    const tree: MeshOctree = {
      chunkShape: [8, 8, 20],
      gridOrigin: [0, 0, 0],
      vertices: v,
      lodScales: [4, 8],
      lods: [
        [{ position: [0, 0, 1], indices: high }, { position: [0, 0, 0], indices: low }],
        [{ position: [0, 0, 0], indices: tetra.indices.slice() }],
      ],
    };
    const { manifest, data } = await encodeMultiresOctree(tree);
    const m = decodeManifest(manifest);
    expect(m.lodScales).toEqual([4, 8]);
    expect(m.chunkShape).toEqual([8, 8, 20]);
    // Z-curve order within a lod: [0,0,0] before [0,0,1]
    expect(m.fragments[0].positions).toEqual([[0, 0, 0], [0, 0, 1]]);
    expect(m.fragments.map((f) => f.sizes.length)).toEqual([2, 1]);
    expect(m.fragments.flatMap((f) => f.sizes).reduce((a, b) => a + b)).toBe(data.length);
    const f0 = await decodeMultiresFragments(manifest, data, 0);
    expect(f0.map((f) => f.mesh.indices.length / 3)).toEqual([7, 3]);
    for (const f of f0) for (const q of f.quantized) expect(q >= 0 && q <= 65535).toBe(true);
    // the cut vertices (z = 20) are the top of cell 0 and the bottom of cell 1: same nm position
    const top = f0[0].mesh.vertices.filter((_, i) => i % 3 === 2 && _ > 19.99);
    expect(top.length).toBe(3);
    expect(Array.from(top)).toEqual([20, 20, 20]);
    for (const lod of [0, 1]) {
      const d = await decodeMultiresLod(manifest, data, lod);
      expect(d.indices.length).toBe(lod === 0 ? 30 : 12);
      // every decoded vertex is within quantization error of an input vertex
      for (let i = 0; i < d.vertices.length; i += 3) {
        let best = Infinity;
        for (let j = 0; j < v.length; j += 3) best = Math.min(best, Math.hypot(d.vertices[i] - v[j], d.vertices[i + 1] - v[j + 1], d.vertices[i + 2] - v[j + 2]));
        expect(best).toBeLessThan(0.01);
      }
    }
    expect(() => decodeManifest(manifest.subarray(0, manifest.length - 4), 'm.index')).toThrow(/m.index/);
    await expect(decodeMultiresFragments(manifest, data.subarray(1), 0)).rejects.toThrow(/add up to/);
    // a vertex outside its node's cell is a bug in the octree: refused
    const bad: MeshOctree = { ...tree, lods: [[{ position: [0, 0, 0], indices: tetra.indices.slice() }]], lodScales: [4] };
    await expect(encodeMultiresOctree(bad)).rejects.toThrow(/outside its cell/);
    // two vertices closer than one quantization step are merged (the duplicate triangle they
    // make stays a separate face); Neuroglancer needs one position value per Draco point
    const near: MeshOctree = {
      chunkShape: [9, 9, 41],
      gridOrigin: [0, 0, 0],
      vertices: Float64Array.from([...tetra.vertices, 8.00001, 0, 0]),
      lodScales: [1],
      lods: [[{ position: [0, 0, 0], indices: new Uint32Array([...tetra.indices, 4, 2, 3]) }]],
    };
    const enc = await encodeMultiresOctree(near);
    const dm = await decodeDracoIntMesh(enc.data);
    expect(dm.attributeSize).toBe(dm.positions.length / 3);
    const keys = new Set(Array.from({ length: dm.positions.length / 3 }, (_, i) => Array.from(dm.positions.subarray(3 * i, 3 * i + 3)).join(',')));
    expect(keys.size).toBe(4);
    const dir = await tempDir();
    await writeMultiresMesh(dir, 7n, near);
    expect((await fs.readdir(dir)).sort()).toEqual(['7', '7.index']);
  });

  it('orders positions along Neuroglancer\'s Z-curve (x the lowest bit)', () => {
    const pts: Array<[number, number, number]> = [];
    for (let z = 0; z < 4; z++) for (let y = 0; y < 4; y++) for (let x = 0; x < 4; x++) pts.push([x, y, z]);
    const morton = (p: [number, number, number]) => {
      let c = 0;
      for (let b = 0; b < 2; b++) c |= ((p[0] >> b) & 1) << (3 * b) | ((p[1] >> b) & 1) << (3 * b + 1) | ((p[2] >> b) & 1) << (3 * b + 2);
      return c;
    };
    const sorted = [...pts].sort((a, b) => (zorderLess(a, b) ? -1 : zorderLess(b, a) ? 1 : 0));
    expect(sorted.map(morton)).toEqual(Array.from({ length: 64 }, (_, i) => i));
  });
});

describeData('neuroglancer-testdata', 'Neuroglancer test meshes', () => {
  it('reads the legacy mesh fragments shipped with Neuroglancer', async () => {
    for (const name of ['simple1', 'simple2']) {
      const file = dataPath('neuroglancer-testdata', 'mesh', name);
      const bytes = new Uint8Array(await fs.readFile(file));
      const m = decodeLegacyFragment(bytes, file);
      expect(m.vertices.length / 3).toBe(4);
      expect(m.indices.length / 3).toBe(4);
      expect(Array.from(encodeLegacyFragment(m))).toEqual(Array.from(bytes));
    }
  });
});

describeData('hemibrain-da1', 'hemibrain PLY meshes', () => {
  it('reads a trimesh-written binary PLY', async () => {
    const file = dataPath('hemibrain-da1', 'ply', '722817260.ply');
    const m = decodePly(new Uint8Array(await fs.readFile(file)), file);
    expect(m.vertices.length / 3).toBe(17875);
    expect(m.indices.length / 3).toBe(36127);
  });
});
