import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Box, type Vec3, boxFromShape } from '../../core/box.js';
import { UsageError } from '../../core/errors.js';
import { ConnectomeStore } from '../../connectome/store.js';
import { PrecomputedLayer, suggestSharding } from '../../formats/precomputed/index.js';
import { generatePhantom } from './generate.js';
import { CONNECTION_RULES, COMPARTMENT, type CellType, type PhantomModel, buildModel, buildTile } from './model.js';
import { rasterize, smearedGaussian } from './raster/index.js';
import { PHANTOM_LAYERS, type PhantomParams, buildTables, phantomBlock, sectionArtefacts } from './tasks.js';

const block = (params: PhantomParams, box: Box = boxFromShape(params.size)) =>
  phantomBlock({ box, readBox: box, inputs: {}, params, blockIndex: [0, 0, 0] });

// One medium block shared by the statistics tests.
const P: PhantomParams = { seed: 7, size: [192, 192, 32], voxelSize: [8, 8, 30] };
let stats: ReturnType<typeof block>;
let model: PhantomModel;
const getModel = (p: PhantomParams) => {
  expect(p).toBe(P);
  return (model ??= buildModel(P));
};
beforeAll(() => {
  stats = block(P);
});

describe('phantom model', () => {
  it('is deterministic and seed-dependent', () => {
    const a = buildModel({ seed: 3, size: [64, 64, 8], voxelSize: [8, 8, 30] });
    const b = buildModel({ seed: 3, size: [64, 64, 8], voxelSize: [8, 8, 30] });
    const c = buildModel({ seed: 4, size: [64, 64, 8], voxelSize: [8, 8, 30] });
    expect(Buffer.from(a.pa.buffer).equals(Buffer.from(b.pa.buffer))).toBe(true);
    expect(a.synapses.map((s) => s.id)).toEqual(b.synapses.map((s) => s.id));
    expect(Buffer.from(a.pa.buffer).equals(Buffer.from(c.pa.buffer))).toBe(false);
  });

  it('has four cell types, ids above 2^53, and synapses that follow the connection rules', () => {
    const m = getModel(P);
    expect(new Set(m.cells.map((c) => c.type))).toEqual(new Set(['pyramidal', 'stellate', 'basket', 'glia']));
    expect(m.cells.some((c) => c.id > 2n ** 53n)).toBe(true);
    expect(new Set(m.cells.map((c) => c.id)).size).toBe(m.cells.length);
    expect(m.synapses.length).toBeGreaterThan(20);
    const kinds = new Set<string>();
    for (const s of m.synapses) {
      const pre = m.cells[s.pre].type;
      const post = m.cells[s.post].type;
      const rule = CONNECTION_RULES[post][s.kind];
      expect(pre === 'glia' ? undefined : rule?.[pre], `${pre} -> ${post} ${s.kind}`).toBeGreaterThan(0);
      // spines only receive excitatory input; basket axons only hit shafts and somata
      if (pre === 'basket') expect(s.kind).not.toBe('spine');
      if (s.kind === 'spine') expect(s.targetComp).toBe(COMPARTMENT.spineHead);
      kinds.add(`${pre}->${post}`);
    }
    expect(kinds.has('basket->pyramidal') || kinds.has('basket->stellate')).toBe(true);
    expect(kinds.has('pyramidal->pyramidal') || kinds.has('stellate->pyramidal')).toBe(true);
  });

  it('draws classes that differ as in tissue: basket neurites mitochondria-rich and thicker axons, glia without synapses or organelles', () => {
    // 27 tiles (a 6 µm cube) of another seed. Cells without a soma here are either dendrite-only or
    // axon-only; per type: cable, radius x cable and mitochondria (not those of boutons) of each kind.
    type S = { cells: number; axon: number; axonR: number; mitoA: number; dend: number; mitoD: number };
    const per: Record<string, S> = {};
    const glia = { cable: 0, other: 0 };
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) for (let k = 0; k < 3; k++) {
      const t = buildTile(11, i, j, k);
      const kind = new Array<string>(t.cells.length).fill('');
      for (let p = 0; p < t.nPrims; p++) {
        const c = t.pcell[p];
        const ty = t.cells[c].type;
        const l = Math.hypot(t.pb[3 * p] - t.pa[3 * p], t.pb[3 * p + 1] - t.pa[3 * p + 1], t.pb[3 * p + 2] - t.pa[3 * p + 2]);
        const s = (per[ty] ??= { cells: 0, axon: 0, axonR: 0, mitoA: 0, dend: 0, mitoD: 0 });
        if (t.pcomp[p] === COMPARTMENT.soma) kind[c] = 'soma';
        else if (kind[c] !== 'soma' && (t.pcomp[p] === COMPARTMENT.axon || t.pcomp[p] === COMPARTMENT.dendrite)) kind[c] = t.pcomp[p] === COMPARTMENT.axon ? 'axon' : 'dend';
        if (ty === 'glia') {
          glia.cable += l;
          if (t.pcomp[p] !== COMPARTMENT.none || t.psyn[p] >= 0) glia.other++;
        } else if (t.pcomp[p] === COMPARTMENT.axon && l > 0) {
          s.axon += l;
          s.axonR += l * t.pra[p];
        } else if (t.pcomp[p] === COMPARTMENT.dendrite && kind[c] !== 'soma') s.dend += l; // a soma comes before its dendrites
      }
      for (const c of t.cells) per[c.type].cells++;
      for (const g of t.organelles) {
        const ty = t.cells[g.host].type;
        if (ty === 'glia') glia.other++;
        else if (g.kind === 'mitochondrion' && kind[g.host] === 'axon') per[ty].mitoA++;
        else if (g.kind === 'mitochondrion' && kind[g.host] === 'dend') per[ty].mitoD++;
      }
      for (const s of t.synapses) if (t.cells[s.pre].type === 'glia' || t.cells[s.post].type === 'glia') glia.other++;
    }
    const sum = (f: (s: S) => number) => f(per.pyramidal) + f(per.stellate);
    const b = per.basket;
    // basket: more than 2x the mitochondria per µm of axon (boutons' included: 0.8 vs 0.4 of them),
    // more than 1.5x per µm of dendrite (2x drawn), axons > 1.3x as thick (75 vs 52.5 nm on average)
    expect(b.mitoA / b.axon).toBeGreaterThan((2 * sum((s) => s.mitoA)) / sum((s) => s.axon));
    expect(b.mitoD / b.dend).toBeGreaterThan((1.5 * sum((s) => s.mitoD)) / sum((s) => s.dend));
    expect(b.axonR / b.axon).toBeGreaterThan((1.3 * sum((s) => s.axonR)) / sum((s) => s.axon));
    // glia: a modest fraction of the cells, with cable, and no synapse, organelle or compartment other than none
    const cells = Object.values(per).reduce((a, s) => a + s.cells, 0);
    expect(per.glia.cells / cells).toBeGreaterThan(0.03);
    expect(per.glia.cells / cells).toBeLessThan(0.25);
    expect(glia.cable).toBeGreaterThan(0);
    expect(glia.other).toBe(0);
  });

  it('is local: the model of a box does not depend on the volume around it; tile ids are unique', () => {
    const box: Box = { min: [300, 200, 100], max: [364, 232, 108] };
    const a = buildModel({ seed: 5, size: [1024, 1024, 250], voxelSize: [8, 8, 30] }, box);
    const b = buildModel({ seed: 5, size: [4096, 4096, 250], voxelSize: [8, 8, 30] }, box);
    expect(a.nPrims).toBeGreaterThan(100);
    expect(Buffer.from(a.pa.buffer).equals(Buffer.from(b.pa.buffer))).toBe(true);
    expect(a.cells.map((c) => c.id)).toEqual(b.cells.map((c) => c.id));
    expect([...a.primItems]).toEqual([...b.primItems]);
    const ids = { cells: new Set<bigint>(), synapses: new Set<bigint>(), organelles: new Set<bigint>() };
    let n = { cells: 0, synapses: 0, organelles: 0 };
    for (let i = -1; i <= 1; i++) {
      for (let j = -1; j <= 1; j++) {
        const t = buildTile(5, i, j, i * j);
        for (const k of ['cells', 'synapses', 'organelles'] as const) {
          for (const x of t[k]) ids[k].add(x.id);
          n = { ...n, [k]: n[k] + t[k].length };
        }
      }
    }
    expect(n.synapses).toBeGreaterThan(20);
    for (const k of ['cells', 'synapses', 'organelles'] as const) expect(ids[k].size, k).toBe(n[k]);
  });

  it('rejects bad options', () => {
    expect(() => buildModel({ seed: -1, size: [8, 8, 8], voxelSize: [8, 8, 30] })).toThrow(UsageError);
    expect(() => buildModel({ seed: 1, size: [0, 8, 8], voxelSize: [8, 8, 30] })).toThrow(UsageError);
    expect(() => buildModel({ seed: 1, size: [8, 8, 8], voxelSize: [8, 0, 30] })).toThrow(UsageError);
    for (const d of [0, -1, 7, Number.NaN]) expect(() => buildModel({ seed: 1, size: [8, 8, 8], voxelSize: [8, 8, 30], synapseDensity: d })).toThrow(/synapse density/);
  });

  it('scales synapses with the synapse density factor; factor 1 is the default model', () => {
    // 8 tiles of seed 11: spines, shaft targets and so synapses (with one vesicle cloud each) grow
    // with the factor; the default (no factor) builds the same tiles as factor 1.
    const count = (d?: number) => {
      const n = { synapses: 0, clouds: 0, heads: 0 };
      for (let i = 0; i < 2; i++) for (let j = 0; j < 2; j++) for (let k = 0; k < 2; k++) {
        const t = d === undefined ? buildTile(11, i, j, k) : buildTile(11, i, j, k, d);
        n.synapses += t.synapses.length;
        n.clouds += t.organelles.filter((o) => o.kind === 'vesicle_cloud').length;
        for (let p = 0; p < t.nPrims; p++) if (t.pcomp[p] === COMPARTMENT.spineHead) n.heads++;
      }
      return n;
    };
    const base = count();
    expect(count(1)).toEqual(base);
    const dense = count(4);
    expect(dense.clouds).toBe(dense.synapses);
    expect(dense.heads / base.heads).toBeGreaterThan(2.5);
    expect(dense.synapses / base.synapses).toBeGreaterThan(2.5);
    expect(dense.synapses / base.synapses).toBeLessThan(6);
  });
});

describe('phantom block', () => {
  it('packs cells densely (>= 90% of voxels belong to a cell, some extracellular space)', () => {
    const n = stats.volumes!.neurons.data as BigUint64Array;
    let inCell = 0;
    for (const v of n) if (v !== 0n) inCell++;
    const f = inCell / n.length;
    expect(f).toBeGreaterThanOrEqual(0.9);
    expect(f).toBeLessThan(1);
    const d = stats.data as { ecs: number; voxels: number };
    expect(d.ecs).toBe(n.length - inCell);
  });

  it('draws membranes darker than cytoplasm, mitochondria darker than cytoplasm', () => {
    const v = stats.volumes!;
    const n = v.neurons.data as BigUint64Array;
    const raw = v.raw.data as Uint8Array;
    const mito = v.mitochondria.data as BigUint64Array;
    const ves = v.vesicles.data as BigUint64Array;
    const [sx, sy, sz] = P.size;
    let mem = 0;
    let nm = 0;
    let cyt = 0;
    let nc = 0;
    let mi = 0;
    let nmi = 0;
    for (let z = 0; z < sz; z++) {
      for (let y = 2; y < sy - 2; y++) {
        for (let x = 2; x < sx - 2; x++) {
          const i = x + sx * (y + sy * z);
          const id = n[i];
          if (id !== n[i + 1] || id !== n[i + sx]) {
            mem += raw[i];
            nm++;
            continue;
          }
          let interior = id !== 0n && mito[i] === 0n && ves[i] === 0n;
          for (let d = -2; d <= 2 && interior; d++) if (n[i + d] !== id || n[i + d * sx] !== id) interior = false;
          if (interior) {
            cyt += raw[i];
            nc++;
          }
          if (mito[i] !== 0n) {
            mi += raw[i];
            nmi++;
          }
        }
      }
    }
    expect(nm).toBeGreaterThan(1000);
    expect(nc).toBeGreaterThan(1000);
    expect(nmi).toBeGreaterThan(100);
    expect(cyt / nc - mem / nm).toBeGreaterThan(40);
    expect(cyt / nc - mi / nmi).toBeGreaterThan(30);
  });

  it('puts clefts only where the pre and post cells touch, and the synapse table agrees with the labels', () => {
    const m = getModel(P);
    const v = stats.volumes!;
    const n = v.neurons.data as BigUint64Array;
    const cl = v.clefts.data as BigUint64Array;
    const [sx, sy, sz] = P.size;
    const byId = new Map(m.synapses.map((s) => [s.id, s]));
    const tables = buildTables(P, [{ data: stats.data }]);
    expect(tables.synapses.length).toBeGreaterThanOrEqual(2);
    // labels over the volume grown by the neighbourhood checked, so clefts at its faces are checked too
    const grownBox: Box = { min: [-2, -2, -1], max: [sx + 2, sy + 2, sz + 1] };
    const gm = buildModel(P, grownBox);
    const gl = rasterize(gm, grownBox, false).cell;
    const around = (x: number, y: number, z: number): bigint => {
      const c = gl[x + 2 + (sx + 4) * (y + 2 + (sy + 4) * (z + 1))];
      return c < 0 ? 0n : gm.cells[c].id;
    };
    const seen = new Map<bigint, number>();
    for (let z = 0; z < sz; z++) {
      for (let y = 0; y < sy; y++) {
        for (let x = 0; x < sx; x++) {
          const i = x + sx * (y + sy * z);
          if (cl[i] === 0n) continue;
          seen.set(cl[i], (seen.get(cl[i]) ?? 0) + 1);
          const s = byId.get(cl[i])!;
          const pre = m.cells[s.pre].id;
          const post = m.cells[s.post].id;
          // the voxel itself is pre, post or extracellular; pre and post both lie within 2 voxels in-plane, 1 section
          expect([pre, post, 0n]).toContain(n[i]);
          let hasPre = false;
          let hasPost = false;
          for (let dz = -1; dz <= 1; dz++) {
            for (let dy = -2; dy <= 2; dy++) {
              for (let dx = -2; dx <= 2; dx++) {
                const l = around(x + dx, y + dy, z + dz);
                if (l === pre) hasPre = true;
                if (l === post) hasPost = true;
              }
            }
          }
          expect(hasPre && hasPost, `cleft ${s.id} at ${x},${y},${z}`).toBe(true);
        }
      }
    }
    // the table: one row per rasterised cleft, size = its voxels, partners = the model's
    expect(tables.synapses.map((r) => r.id).sort()).toEqual([...seen.keys()].sort());
    let checked = 0;
    let agree = 0;
    const at = (p: readonly number[]) => {
      const q = p.map((c, a) => Math.floor(c / P.voxelSize[a]));
      if (q.some((c, a) => c < 0 || c >= P.size[a])) return undefined;
      return n[q[0] + sx * (q[1] + sy * q[2])];
    };
    for (const r of tables.synapses) {
      expect(r.size).toBe(seen.get(r.id));
      const s = byId.get(r.id)!;
      expect(r.pre_pt_root_id).toBe(m.cells[s.pre].id);
      expect(r.post_pt_root_id).toBe(m.cells[s.post].id);
      expect(cl[(() => { const q = r.ctr_pt_position.map((c, a) => Math.floor(c / P.voxelSize[a])); return q[0] + sx * (q[1] + sy * q[2]); })()]).toBe(r.id);
      for (const [p, id] of [[r.pre_pt_position, r.pre_pt_root_id], [r.post_pt_position, r.post_pt_root_id]] as const) {
        const l = at(p);
        if (l === undefined) continue;
        checked++;
        if (l === id) agree++;
      }
    }
    // pre/post points lie just inside each partner beside the cleft: nearly always labelled so
    if (checked > 0) expect(agree / checked).toBeGreaterThanOrEqual(0.85);
  });

  it('reflects the type rules in the synapse table', () => {
    const tables = buildTables(P, [{ data: stats.data }]);
    const m = getModel(P);
    const type = new Map(m.cells.map((c) => [c.id, c.type] as const));
    for (const r of tables.synapses) {
      const pre = type.get(r.pre_pt_root_id)!;
      const post = type.get(r.post_pt_root_id)!;
      const allowed = Object.values(CONNECTION_RULES[post]).some((rule) => (pre === 'glia' ? 0 : rule?.[pre] ?? 0) > 0);
      expect(allowed, `${pre} -> ${post}`).toBe(true);
      expect(r.synapse_type).toBe(pre === 'basket' ? 'inhibitory' : 'excitatory');
    }
  });

  it('gives the same bytes for a block cut from a bigger one (no seams), and noise from global coordinates', () => {
    const sub: Box = { min: [40, 56, 3], max: [104, 88, 19] };
    const small = block(P, sub);
    for (const name of PHANTOM_LAYERS) {
      const big = stats.volumes![name].crop(sub);
      expect(Buffer.from(small.volumes![name].data.buffer).equals(Buffer.from(big.data.buffer)), name).toBe(true);
    }
  });

  it('handles a one-voxel and a one-section volume', () => {
    const oneP: PhantomParams = { seed: 1, size: [1, 1, 1], voxelSize: [8, 8, 30] };
    const one = block(oneP);
    expect(one.volumes!.raw.data.length).toBe(1);
    // a single cell (or none) in the tables, the one in the voxel
    const t = buildTables(oneP, [{ data: one.data }]);
    const id = (one.volumes!.neurons.data as BigUint64Array)[0];
    expect(t.cells.map((c) => c.id)).toEqual(id === 0n ? [] : [id]);
    expect(t.synapses.length).toBe((one.volumes!.clefts.data as BigUint64Array)[0] === 0n ? 0 : 1);
    const flat = block({ seed: 2, size: [24, 16, 1], voxelSize: [4, 4, 40] });
    expect(flat.volumes!.neurons.data.length).toBe(24 * 16);
    expect((flat.data as { voxels: number }).voxels).toBe(24 * 16);
  });

  it('applies section artefacts to the image only', () => {
    const q: PhantomParams = { ...P, size: [64, 64, 12], shiftedSections: 2, missingSections: 1 };
    const art = sectionArtefacts(q);
    const zMissing = art.missing.indexOf(true);
    const zShift = art.shift.findIndex(([dx, dy]) => dx !== 0 || dy !== 0);
    expect(zMissing).toBeGreaterThanOrEqual(0);
    expect(zShift).toBeGreaterThanOrEqual(0);
    const a = block(q);
    const b = block({ ...q, shiftedSections: 0, missingSections: 0 });
    const plane = 64 * 64;
    const raw = a.volumes!.raw.data as Uint8Array;
    expect(raw.subarray(zMissing * plane, (zMissing + 1) * plane).every((v) => v === 0)).toBe(true);
    expect(Buffer.from(a.volumes!.neurons.data.buffer).equals(Buffer.from(b.volumes!.neurons.data.buffer))).toBe(true);
    if (zShift !== zMissing) {
      const rb = b.volumes!.raw.data as Uint8Array;
      expect(Buffer.from(raw.subarray(zShift * plane, (zShift + 1) * plane)).equals(Buffer.from(rb.subarray(zShift * plane, (zShift + 1) * plane)))).toBe(false);
    }
  });

  it('smears oblique membranes over the section thickness', () => {
    expect(smearedGaussian(0, 8, 0)).toBe(1);
    expect(smearedGaussian(0, 8, 60)).toBeLessThan(0.3);
    expect(smearedGaussian(25, 8, 60)).toBeGreaterThan(smearedGaussian(25, 8, 0));
  });
});

describe('phantom dataset through the scheduler', () => {
  let tmp: string;
  beforeAll(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'phantom-'));
  });
  afterAll(async () => {
    await fs.rm(tmp, { recursive: true, force: true });
  });
  const Q: PhantomParams = { seed: 11, size: [64, 48, 8], voxelSize: [8, 8, 30] };

  it('writes identical layers whatever the block shape or worker count, the tables, and resumes', async () => {
    const a = path.join(tmp, 'a');
    const b = path.join(tmp, 'b');
    const ra = await generatePhantom(a, Q, { chunkSize: [32, 16, 4], blockShape: [64, 48, 8], run: { workers: 1 } });
    const rb = await generatePhantom(b, Q, { chunkSize: [32, 16, 4], blockShape: [32, 16, 4], run: { workers: 2 } });
    expect(rb.report.blocks).toBe(2 * 3 * 2);
    for (const name of PHANTOM_LAYERS) {
      const la = await PrecomputedLayer.open(path.join(a, name));
      const lb = await PrecomputedLayer.open(path.join(b, name));
      const va = await la.readBox(boxFromShape(Q.size));
      const vb = await lb.readBox(boxFromShape(Q.size));
      expect(Buffer.from(va.data.buffer, va.data.byteOffset, va.data.byteLength).equals(Buffer.from(vb.data.buffer, vb.data.byteOffset, vb.data.byteLength)), name).toBe(true);
    }
    // block-order independence of the merged tables
    expect(ra.tables).toEqual(rb.tables);
    // the same as one in-memory block
    const direct = block(Q);
    const nb = await (await PrecomputedLayer.open(path.join(a, 'neurons'))).readBox(boxFromShape(Q.size));
    expect(Buffer.from(nb.data.buffer, nb.data.byteOffset, nb.data.byteLength).equals(Buffer.from(direct.volumes!.neurons.data.buffer))).toBe(true);
    // every cell's pt_position (nm) lies in the volume, on a voxel of that cell (as CAVE anchors a root id)
    expect(ra.tables.cells.length).toBeGreaterThan(1);
    for (const c of ra.tables.cells) {
      const v = c.pt_position!.map((p, i) => Math.floor(p / Q.voxelSize[i]));
      expect(v.every((x, i) => x >= 0 && x < Q.size[i]), `cell ${c.id} at [${c.pt_position}]`).toBe(true);
      expect(nb.data[v[0] + Q.size[0] * (v[1] + Q.size[1] * v[2])], `cell ${c.id}`).toBe(c.id);
    }

    const store = await ConnectomeStore.open(path.join(a, 'connectome.duckdb'), { readOnly: true });
    try {
      expect(await store.count('cells')).toBe(ra.tables.cells.length);
      expect(await store.count('synapses')).toBe(ra.tables.synapses.length);
      expect(await store.count('organelles')).toBe(ra.tables.organelles.length);
      const big = await store.all('SELECT pt_root_id FROM cells WHERE pt_root_id > 9007199254740993 ORDER BY pt_root_id LIMIT 1');
      if (big.length) expect(ra.tables.cells.some((c) => c.id === big[0].pt_root_id)).toBe(true);
    } finally {
      await store.close();
    }
    for (const f of ['synapses.parquet', 'cells.parquet', 'organelles.parquet', 'phantom.json']) await fs.access(path.join(a, f));

    // rerun: every block resumes, the tables come out the same
    const again = await generatePhantom(a, Q, { chunkSize: [32, 16, 4], blockShape: [64, 48, 8], run: { workers: 1 } });
    expect(again.report.computed).toBe(0);
    expect(again.report.resumed).toBe(ra.report.blocks);
    expect(again.tables).toEqual(ra.tables);
  }, 60000);

  it('writes Neuroglancer sharded layers (a shard per block) with the same voxels as unsharded ones', async () => {
    const S: PhantomParams = { seed: 5, size: [32, 32, 8], voxelSize: [8, 8, 30] };
    const plain = path.join(tmp, 'plain');
    const sharded = path.join(tmp, 'sharded');
    await generatePhantom(plain, S, { chunkSize: [8, 8, 4], run: { workers: 1 } });
    await generatePhantom(sharded, S, { chunkSize: [8, 8, 4], run: { workers: 1 }, sharding: (kind, shape, chunk) => suggestSharding([0, 1, 2].map((a) => Math.ceil(shape[a] / chunk[a])) as unknown as Vec3, { log2ChunksPerShard: 3, gzipData: kind === 'image' }) });
    for (const name of PHANTOM_LAYERS) {
      const a = await PrecomputedLayer.open(path.join(plain, name));
      const b = await PrecomputedLayer.open(path.join(sharded, name));
      expect(b.info.scales[0].sharding?.['@type'], name).toBe('neuroglancer_uint64_sharded_v1');
      const files = await fs.readdir(path.join(sharded, name, b.info.scales[0].key));
      expect(files.every((f) => f.endsWith('.shard')), `${name}: ${files.join(' ')}`).toBe(true);
      const va = await a.readBox(boxFromShape(S.size));
      const vb = await b.readBox(boxFromShape(S.size));
      expect(Buffer.from(vb.data.buffer, vb.data.byteOffset, vb.data.byteLength).equals(Buffer.from(va.data.buffer, va.data.byteOffset, va.data.byteLength)), name).toBe(true);
    }
  }, 60000);
});
