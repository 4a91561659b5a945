// wiring edit precompute on a phantom: the start roots' fragments are the recompute's, byte for byte;
// skeletons ingested from wiring skeletonize carry their supervoxels; a kill -9 mid-run resumes;
// the first edit of two start roots then reuses their fragments and skeletons.
import { spawnSync } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, tempDir } from '../../../test/data.js';
import { runInProcess } from '../../../test/cli-in-process.js';
import { Proofread } from '../../stages/proofread/io.js';
import { deriveRootMesh } from '../proofread-derive.js';
import { readSkeleton } from '../../formats/mesh/skeleton.js';
import { register as registerEdit } from './edit.js';
import { register as registerPhantom } from './phantom.js';
import { register as registerSegment } from './segment.js';
import { register as registerSkeletonize } from './skeletonize.js';

const cli = async (args: string[]): Promise<any> => JSON.parse(await runInProcess([registerPhantom, registerSegment, registerSkeletonize, registerEdit], [...args, '--json']));
let dir: string;
const head = () => path.join(dir, 'proofread', 'head');

beforeAll(async () => {
  dir = await tempDir('proofread-precompute-');
  // 96x80x40: 3x3x2 mesh cells, so groups cross cell faces in x, y and z
  await cli(['phantom', dir, '--size', '96,80,40', '--seed', '4', '--workers', '1', '--overwrite']);
  await cli(['segment', '--boundaries', path.join(dir, 'raw'), '--invert', '--threshold', 'auto', '--supervoxels-out', path.join(dir, 'sv'), path.join(dir, 'seg'), '--overwrite']);
  await cli(['edit', 'init', dir, '--supervoxels', path.join(dir, 'sv'), '--segmentation', path.join(dir, 'seg'), '--boundaries', path.join(dir, 'raw'), '--invert']);
  await cli(['skeletonize', path.join(dir, 'seg'), '--workers', '1']);
}, 180_000);
afterAll(async () => fs.rm(dir, { recursive: true, force: true }));

describe('wiring edit precompute', () => {
  it('resumes after kill -9; fragments equal the recompute\'s; skeleton vertices on their roots; edits reuse both', async () => {
    const args = ['node', 'wiring', 'edit', 'precompute', dir, '--skeletons', path.join(dir, 'seg', 'skeletons'), '--json'];
    const script = `const { run } = await import(${JSON.stringify(path.join(REPO_ROOT, 'src/cli/main.ts'))}); await run(JSON.parse(process.env.WIRING_TEST_ARGS));`;
    const killed = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: REPO_ROOT, env: { ...process.env, WIRING_PROOFREAD_CRASH: 'mid-precompute', WIRING_TEST_ARGS: JSON.stringify(args) }, encoding: 'utf8' });
    expect(killed.signal).toBe('SIGKILL');
    expect(existsSync(path.join(head(), 'precompute', 'z0.json'))).toBe(true);
    expect(existsSync(path.join(head(), 'precompute.json'))).toBe(false);
    const r = await cli(args.slice(2, -1));
    expect(r.slabs).toBe(2);
    expect(r.slabs_resumed).toBe(1);
    expect(r.meshes).toBeGreaterThan(20);
    expect(r.skeletons).toBeGreaterThan(10);
    // the phantom's cells are convex enough that TEASAR's voxel-centre vertices lie in their root
    expect(r.vertices_off_root).toBeLessThanOrEqual(r.skeleton_vertices * 0.01);
    expect(r.cpu_s).toBeGreaterThan(0);
    // done: a rerun returns the record without work
    expect((await cli(args.slice(2, -1))).fragments_written).toBe(r.fragments_written);

    const p = await Proofread.open(dir);
    try {
      const b = p.base;
      const roots = [...new Set(Array.from(b.startRoots.subarray(1)))];
      // every start root has a manifest; the recompute of a root from scratch names and marches the same fragments
      for (const root of roots) if (b.startRoots.some((x, l) => l > 0 && x === root && b.anchors[l] >= 0)) expect(existsSync(path.join(head(), 'meshes', `${root}:0`))).toBe(true);
      const pre = path.join(dir, 'pre-meshes');
      await fs.rename(path.join(head(), 'meshes'), pre);
      const size = (root: bigint) => Array.from(b.startRoots).filter((x) => x === root).length;
      const sample = roots.sort((x, y) => size(y) - size(x) || (x < y ? -1 : 1)).slice(0, 4);
      for (const root of sample) {
        const m = await deriveRootMesh(p, p.state, root);
        const manifest = JSON.parse(await fs.readFile(path.join(pre, `${root}:0`), 'utf8'));
        expect(m.fragments).toEqual(manifest.fragments);
        expect(m.fragments.length).toBeGreaterThan(0);
        for (const f of m.fragments) expect(Buffer.compare(await fs.readFile(path.join(head(), 'meshes', f)), await fs.readFile(path.join(pre, f)))).toBe(0);
      }
      await fs.rm(path.join(head(), 'meshes'), { recursive: true });
      await fs.rename(pre, path.join(head(), 'meshes'));
      // skeleton vertices carry supervoxels of their own root
      const skelRoot = sample.find((root) => existsSync(path.join(head(), 'skeletons', 'supervoxels', `${root}`)))!;
      expect(skelRoot).toBeDefined();
      const buf = await fs.readFile(path.join(head(), 'skeletons', 'supervoxels', `${skelRoot}`));
      const sv = new BigUint64Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length));
      expect(sv.length).toBeGreaterThan(0);
      const onRoot = Array.from(sv).filter((s) => b.startRoots[p.state.index.get(s)!] === skelRoot).length;
      expect(onRoot / sv.length).toBeGreaterThan(0.99);
      // two touching start roots with skeletons: a merge reuses their fragments and skeletons
      let pair: [bigint, bigint] | undefined;
      const hasSkel = (l: number) => existsSync(path.join(head(), 'skeletons', 'supervoxels', `${b.startRoots[l]}`));
      for (let e = 0; e < b.edgeA.length && !pair; e++) if (b.startRoots[b.edgeA[e]] !== b.startRoots[b.edgeB[e]] && hasSkel(b.edgeA[e]) && hasSkel(b.edgeB[e])) pair = [b.ids[b.edgeA[e]], b.ids[b.edgeB[e]]];
      expect(pair).toBeDefined();
      // fragments are groups of joined supervoxels per mesh cell (L2 ids): the merge joins one edge, so
      // only the cells holding both merged supervoxels get new groups (not every cell where the roots touch)
      const cellsOf = (id: bigint) => { const l = p.state.index.get(id)!; return new Set(b.cells.subarray(b.cellStart[l], b.cellStart[l + 1])); };
      const ca = cellsOf(pair![0]);
      const shared = [...cellsOf(pair![1])].filter((c) => ca.has(c)).length;
      expect(shared).toBeGreaterThan(0);
      await p.close();
      const m = await cli(['edit', 'merge', dir, pair![0].toString(), pair![1].toString()]);
      expect(m.derived_details).toHaveLength(1);
      expect(m.derived_details[0].skeleton_reused).toBe(true);
      expect(m.derived_details[0].fragments_computed).toBeLessThan(m.derived_details[0].fragments);
      expect(m.derived_details[0].fragments_computed).toBeLessThanOrEqual(shared);
      // the merged root's fragments came from its parents' manifests and the groups the merge changed;
      // so do the split's larger side and the undo's: each the same list a grouping of the whole root names
      expect(m.derived_details[0].fragments_incremental).toBe(true);
      // the merged skeleton: both parents' vertices (all on the merged root), joined into one piece
      {
        const root = m.created[0].id;
        const sk = await readSkeleton(path.join(head(), 'skeletons'), BigInt(root));
        const buf = await fs.readFile(path.join(head(), 'skeletons', 'supervoxels', root));
        const svs = new BigUint64Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length));
        const nv = sk.vertices.length / 3;
        expect(svs.length).toBe(nv);
        const parentVertices = await Promise.all(m.retired.map(async (r: string) => (await fs.stat(path.join(head(), 'skeletons', 'supervoxels', r))).size / 8));
        expect(nv).toBe(parentVertices[0] + parentVertices[1]);
        const pm = await Proofread.open(dir);
        try {
          for (const sv of svs) expect(pm.state.rootOf(sv).toString()).toBe(root);
        } finally {
          await pm.close();
        }
        const up = Int32Array.from({ length: nv }, (_, i) => i);
        const find = (x: number): number => (up[x] === x ? x : (up[x] = find(up[x])));
        for (let e = 0; e < sk.edges.length; e += 2) up[find(sk.edges[e])] = find(sk.edges[e + 1]);
        expect(new Set(Array.from({ length: nv }, (_, i) => find(i))).size).toBe(1);
      }
      const s = await cli(['edit', 'split', dir, '--source', pair![0].toString(), '--sink', pair![1].toString()]);
      expect(s.derived_details.filter((d: { fragments_incremental: boolean }) => d.fragments_incremental)).toHaveLength(1);
      const u = await cli(['edit', 'undo', dir, '2']);
      expect(u.derived_details[0].fragments_incremental).toBe(true);
      const manifestOf = async (r: string): Promise<string[]> => JSON.parse(await fs.readFile(path.join(head(), 'meshes', `${r}:0`), 'utf8')).fragments;
      const p2 = await Proofread.open(dir);
      try {
        for (const [op, roots] of [[1, m.created], [2, s.created], [3, u.created]] as const) {
          const state = await p2.version({ op });
          for (const c of roots as Array<{ id: string }>) {
            const listed = await manifestOf(c.id);
            expect((await deriveRootMesh(p2, state, BigInt(c.id))).fragments).toEqual(listed);
          }
        }
      } finally {
        await p2.close();
      }
      // a head derived before the joined rule has no groups.json: its edits group their roots in full
      expect(JSON.parse(await fs.readFile(path.join(head(), 'groups.json'), 'utf8')).groups).toBe('joined');
      await fs.rm(path.join(head(), 'groups.json'));
      const again = await cli(['edit', 'redo', dir, '2']);
      expect(again.derived_details.every((d: { fragments_incremental: boolean }) => !d.fragments_incremental)).toBe(true);
      expect(existsSync(path.join(head(), 'groups.json'))).toBe(false);
    } finally {
      await p.close();
    }
  }, 180_000);
});
