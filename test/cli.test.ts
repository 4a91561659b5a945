// End-to-end tests of the `wiring` command as a user runs it (the compiled CLI; `npm test` builds first).
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { ConnectomeStore } from '../src/connectome/store.js';
import { type Vec3, boxFromShape } from '../src/core/box.js';
import { PrecomputedLayer } from '../src/formats/precomputed/index.js';
import { evaluateSegmentation } from '../src/metrics/segmentation.js';
import { REPO_ROOT, dataPath, describeData, tempDir } from './data.js';

const exec = promisify(execFile);
const BIN = path.join(REPO_ROOT, 'bin', 'wiring.js');

async function wiring(...args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const { stdout, stderr } = await exec(process.execPath, [BIN, ...args], { maxBuffer: 1 << 26 });
    return { stdout, stderr, code: 0 };
  } catch (err) {
    const e = err as { stdout: string; stderr: string; code: number };
    return { stdout: e.stdout, stderr: e.stderr, code: e.code };
  }
}

async function wiringJson(...args: string[]): Promise<any> {
  const r = await wiring(...args, '--json');
  if (r.code !== 0) throw new Error(`wiring ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** A C-order (z, y, x) .npy file written independently of the project's own NPY code. */
async function writeNpy(file: string, descr: string, shapeZYX: number[], data: ArrayBufferView): Promise<void> {
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shapeZYX.join(', ')}), }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const pre = Buffer.alloc(10);
  pre.write('\x93NUMPY', 0, 'latin1');
  pre[6] = 1;
  pre[7] = 0;
  pre.writeUInt16LE(header.length, 8);
  await fs.writeFile(file, Buffer.concat([pre, Buffer.from(header, 'latin1'), Buffer.from(data.buffer, data.byteOffset, data.byteLength)]));
}

let dir: string;
beforeAll(async () => {
  dir = await tempDir('wiring-cli-');
});

describe('wiring --help', () => {
  it('lists the commands', async () => {
    const r = await wiring('--help');
    expect(r.code).toBe(0);
    for (const c of ['import', 'export', 'info', 'downsample']) expect(r.stdout).toContain(c);
  });
});

describe('import -> info -> downsample -> export', () => {
  const [sx, sy, sz] = [70, 50, 20];
  it('round-trips an image exactly and builds a pyramid', async () => {
    const img = new Uint8Array(sx * sy * sz);
    for (let i = 0; i < img.length; i++) img[i] = (i * 2654435761) >>> 24;
    const npy = path.join(dir, 'raw.npy');
    await writeNpy(npy, '|u1', [sz, sy, sx], img);
    const layer = path.join(dir, 'ds', 'raw');
    const imported = await wiringJson('import', npy, layer, '--voxel-size', '8,8,40', '--chunk-size', '32,32,8');
    expect(imported.type).toBe('image');
    const info = await wiringJson('info', layer);
    expect(info).toMatchObject({ type: 'image', data_type: 'uint8', size: [sx, sy, sz], voxel_size: [8, 8, 40], chunk_size: [32, 32, 8], encoding: 'raw' });
    const ds = await wiringJson('downsample', layer);
    expect(ds.scales.length).toBeGreaterThan(1);
    expect(ds.scales[1]).toMatchObject({ voxel_size: [16, 16, 40], size: [35, 25, 20] });
    const out = path.join(dir, 'raw-out.npy');
    await wiringJson('export', layer, out);
    const back = await fs.readFile(out);
    expect(Buffer.compare(back.subarray(back.length - img.length), Buffer.from(img))).toBe(0);
  });

  it('keeps uint64 segment ids above 2^53 exact and downsamples labels by mode', async () => {
    const ids = new BigUint64Array(sx * sy * sz);
    const big = 864691135639556411n;
    for (let z = 0; z < sz; z++) for (let y = 0; y < sy; y++) for (let x = 0; x < sx; x++) ids[x + sx * (y + sy * z)] = big + BigInt(Math.floor(x / 10));
    const npy = path.join(dir, 'seg.npy');
    await writeNpy(npy, '<u8', [sz, sy, sx], ids);
    const layer = path.join(dir, 'ds', 'seg');
    await wiringJson('import', npy, layer, '--voxel-size', '8,8,8', '--chunk-size', '32,32,8');
    const info = await wiringJson('info', layer);
    expect(info).toMatchObject({ type: 'segmentation', data_type: 'uint64', encoding: 'compressed_segmentation' });
    await wiringJson('downsample', layer, '--levels', '1');
    const out = path.join(dir, 'seg-out.npy');
    await wiringJson('export', layer, out);
    const back = await fs.readFile(out);
    const tail = back.subarray(back.length - ids.byteLength);
    expect(Buffer.compare(tail, Buffer.from(ids.buffer))).toBe(0);
    const coarse = path.join(dir, 'seg-coarse.npy');
    await wiringJson('export', layer, coarse, '--scale', '1');
    const cb = await fs.readFile(coarse);
    const cv = new BigUint64Array(cb.buffer.slice(cb.byteOffset + cb.length - 35 * 25 * 10 * 8, cb.byteOffset + cb.length));
    expect(cv[0]).toBe(big);
    expect(cv[6]).toBe(big + 1n); // coarse x=6 covers fine x=12,13
  });

  it('gives clear errors for bad input', async () => {
    const missing = await wiring('info', path.join(dir, 'nope'));
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/nope/);
    const bad = await wiring('import', path.join(dir, 'raw.npy'), path.join(dir, 'x'), '--voxel-size', '8,8');
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/--voxel-size.*X,Y,Z/);
    const json = await wiring('info', path.join(dir, 'nope'), '--json');
    expect(JSON.parse(json.stdout).error).toMatch(/nope/);
  });
});

describeData('gala-medulla', 'import of real volumes', () => {
  it('imports the gala PNG stack and HDF5 raw to the same layer content', async () => {
    const a = path.join(dir, 'gala', 'png');
    const b = path.join(dir, 'gala', 'h5');
    await wiringJson('import', dataPath('gala-medulla', 'train-image-png'), a, '--voxel-size', '10,10,10');
    await wiringJson('import', `${dataPath('gala-medulla', 'train-image.h5')}#stack`, b, '--voxel-size', '10,10,10');
    const ia = await wiringJson('info', a);
    expect(ia.size).toEqual([200, 100, 50]);
    await wiringJson('export', a, path.join(dir, 'gala', 'a.npy'));
    await wiringJson('export', b, path.join(dir, 'gala', 'b.npy'));
    const [fa, fb] = await Promise.all([fs.readFile(path.join(dir, 'gala', 'a.npy')), fs.readFile(path.join(dir, 'gala', 'b.npy'))]);
    expect(Buffer.compare(fa, fb)).toBe(0);
  });
  it('rejects the LZF-compressed HDF5 file with a clear error', async () => {
    const r = await wiring('import', `${dataPath('gala-medulla', 'train-gt.lzf.h5')}#stack`, path.join(dir, 'gala', 'lzf'));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/train-gt\.lzf\.h5/);
    expect(r.stderr).toMatch(/LZF|filter/i);
  });
});

describe('phantom --pyramid', () => {
  it('adds downsampled scales to every layer of the phantom', async () => {
    const dir = path.join(await tempDir('phantom-pyramid'), 'ds');
    const r = await wiringJson('phantom', dir, '--size', '64,64,16', '--seed', '3', '--chunk-size', '32,32,8', '--pyramid', '--workers', '1');
    expect(r.pyramid_tasks).toBeGreaterThan(0);
    for (const layer of ['raw', 'neurons', 'clefts']) {
      const info = JSON.parse(await fs.readFile(path.join(dir, layer, 'info'), 'utf8'));
      expect(info.scales.length).toBeGreaterThan(1);
      expect(info.scales[1].size[0]).toBeLessThan(64);
    }
  });
});

/**
 * Bounds on `wiring run`'s scores for the fixed phantoms below (train: 96x96x24 seed 2, run on:
 * 64x64x24 seed 3; 8 trees, 8000 samples, --2d). Measured 2026-12-06 (under load): VOI split
 * 0.208, merge 0.295, ARAND 0.044, 32 segments for 10 true cells. A single segment on the same
 * truth fails them (checked in the test).
 */
const RUN_BOUNDS = { voi_split: 0.6, voi_merge: 0.7, arand: 0.15 };

describe('wiring run', () => {
  it('turns a volume into a complete dataset: every layer, mesh, skeleton and table, scored within bounds', async () => {
    const dir = await tempDir('wiring-run-ok-');
    const p = (...s: string[]) => path.join(dir, ...s);
    // Training on one phantom, running on another (a different seed): the model never saw the volume it segments.
    await wiringJson('phantom', p('train'), '--size', '96,96,24', '--seed', '2');
    await wiringJson('phantom', p('vol'), '--size', '64,64,24', '--seed', '3');
    await wiringJson('classes', p('classes'), '--neurons', p('train', 'neurons'), '--clefts', p('train', 'clefts'), '--vesicles', p('train', 'vesicles'), '--mitochondria', p('train', 'mitochondria'));
    const trained = await wiringJson('train-pixels', '--raw', p('train', 'raw'), '--labels', p('classes'), '-o', p('model.forest'), '--trees', '8', '--samples', '8000');
    expect(trained.classes, 'boundary, interior, cleft, vesicle, mitochondrion all in the training phantom').toEqual(['1', '2', '3', '4', '5']);
    const ds = p('ds');
    const cfg = p('config.json');
    await fs.writeFile(cfg, JSON.stringify({ raw: p('vol', 'raw'), out: ds, pixel_model: p('model.forest'), ground_truth: { neurons: p('vol', 'neurons'), database: p('vol', 'connectome.duckdb') }, args: { segment: ['--2d'] } }));
    const r = await wiringJson('run', cfg);
    expect(Object.keys(r.seconds)).toEqual(['import', 'predict', 'segment', 'evaluate', 'synapses', 'cells', 'mesh', 'skeletonize', 'downsample-raw', 'downsample-probabilities', 'downsample-segmentation']);

    // Layers: complete (every chunk present), the raw volume copied exactly.
    const whole = async (name: string) => {
      const layer = await PrecomputedLayer.open(path.join(ds, name));
      const s = layer.info.scales[0];
      const vol = await layer.readBox(boxFromShape(s.size as Vec3, s.voxel_offset as Vec3));
      expect(layer.stats.chunkFilesMissing, `${name}: chunks missing`).toBe(0);
      return vol;
    };
    const src = await PrecomputedLayer.open(p('vol', 'raw'));
    const raw = await whole('raw');
    expect(Buffer.from(raw.data.buffer, raw.data.byteOffset, raw.data.byteLength).equals(Buffer.from((await src.readBox(boxFromShape([64, 64, 24]))).data.buffer))).toBe(true);
    const probs = await whole('probabilities');
    expect(probs.channels, 'one channel per class').toBe(5);
    expect(probs.data.some((v) => Number(v) > 0)).toBe(true);
    await whole('supervoxels');
    const seg = await whole('segmentation');
    const ids = new Set<bigint>();
    for (const v of seg.data as BigUint64Array) if (v !== 0n) ids.add(v);
    expect(ids.size).toBe(r.evaluation.seg_segments);
    // Every segment has a mesh and a skeleton.
    const meshes = new Set(await fs.readdir(path.join(ds, 'segmentation', 'mesh')));
    const skeletons = new Set(await fs.readdir(path.join(ds, 'segmentation', 'skeletons')));
    for (const id of ids) {
      expect(meshes.has(`${id}.index`) && meshes.has(String(id)), `mesh of segment ${id}`).toBe(true);
      expect(skeletons.has(String(id)), `skeleton of segment ${id}`).toBe(true);
    }
    // Nothing half-written is left anywhere in the dataset.
    const all = await fs.readdir(ds, { recursive: true });
    expect(all.filter((f) => /\.tmp-/.test(String(f)))).toEqual([]);

    // Tables: one cell per segment, the synapses table, the organelles the run reported.
    const store = await ConnectomeStore.open(path.join(ds, 'connectome.duckdb'), { readOnly: true });
    try {
      const cells = await store.all('SELECT pt_root_id FROM cells');
      expect(new Set(cells.map((c) => BigInt(c.pt_root_id as bigint)))).toEqual(ids);
      expect(await store.count('synapses')).toBe(r.synapses.synapses);
      expect(await store.count('organelles')).toBe(r.synapses.organelles);
      expect(r.synapses.organelles).toBeGreaterThan(0);
    } finally {
      await store.close();
    }

    // Scores within bounds, and the bounds bite: a single segment on the same truth fails them.
    const passes = (s: { voi_split: number; voi_merge: number; arand: number }) => s.voi_split <= RUN_BOUNDS.voi_split && s.voi_merge <= RUN_BOUNDS.voi_merge && s.arand <= RUN_BOUNDS.arand;
    expect(passes(r.evaluation), `scores ${JSON.stringify(r.evaluation)} within ${JSON.stringify(RUN_BOUNDS)}`).toBe(true);
    const gt = (await (await PrecomputedLayer.open(p('vol', 'neurons'))).readBox(boxFromShape([64, 64, 24]))).data as BigUint64Array;
    const single = evaluateSegmentation(new Uint32Array(gt.length).fill(1), gt);
    expect(passes(single), `single segment ${JSON.stringify(single)}`).toBe(false);
  }, 300_000);
});

describe('wiring run on serial sections ("align": true)', () => {
  it("imports the phantom's shifted sections, aligns them, and predicts from the aligned layer", async () => {
    const dir = await tempDir('wiring-run-align-');
    const p = (...s: string[]) => path.join(dir, ...s);
    await wiringJson('phantom', p('vol'), '--size', '192,192,8', '--seed', '7', '--chunk-size', '64,64,8', '--shifted-sections', '3', '--max-shift', '6', '--workers', '1');
    const truth = JSON.parse(await fs.readFile(p('vol', 'phantom.json'), 'utf8')) as { shifted_sections: Array<{ z: number; dx: number; dy: number }> };
    await wiringJson('train-pixels', '--raw', p('vol', 'raw'), '--gt', p('vol', 'neurons'), '-o', p('model.forest'), '--trees', '2', '--samples', '2000');
    const ds = p('ds');
    await fs.writeFile(p('config.json'), JSON.stringify({
      raw: p('vol', 'raw'), out: ds, pixel_model: p('model.forest'), align: true,
      // the phantom's sections are only shifted (as in src/cli/commands/align.test.ts)
      args: { align: ['--model', 'translation', '--no-elastic', '--match-nm', '8'] },
      skip: ['segment', 'cells', 'mesh', 'skeletonize', 'downsample-raw', 'downsample-probabilities', 'downsample-segmentation'],
    }));
    const r = await wiringJson('run', p('config.json'));
    expect(Object.keys(r.seconds)).toEqual(['import', 'align', 'predict']);
    // The transforms undo the known shifts: raw_z(q) = clean(q + d_z), output frame = the reference's.
    const tf = JSON.parse(await fs.readFile(path.join(ds, 'raw', 'transforms.json'), 'utf8')) as { sections: Array<{ status: string; affine: number[] }> };
    const d = (z: number) => truth.shifted_sections.find((s) => s.z === z) ?? { dx: 0, dy: 0 };
    const ref = tf.sections.findIndex((t) => t.status === 'reference');
    const errors: number[] = [];
    const before: number[] = [];
    tf.sections.forEach((t, z) => {
      const [a, b, c, dd, e, f] = t.affine;
      const tx = a * 96 + b * 96 + c - 96;
      const ty = dd * 96 + e * 96 + f - 96;
      errors.push(Math.hypot(tx - (d(ref).dx - d(z).dx), ty - (d(ref).dy - d(z).dy)));
      before.push(Math.hypot(d(ref).dx - d(z).dx, d(ref).dy - d(z).dy));
    });
    expect(Math.max(...before)).toBeGreaterThan(6);
    // The shifted sections (up to 8.5 px off) brought to within 2 px, and no section more than 3 px
    // off: neighbouring 30 nm phantom sections differ genuinely (oblique neurites in a 192 px field),
    // which any section-to-section matcher follows as a slow drift (docs/ALIGNMENT.md; measured
    // 0.4-1.6 px at the shifted sections, 2.7 px at z 7, under load).
    for (const s of truth.shifted_sections) expect(errors[s.z], `section ${s.z}`).toBeLessThan(2);
    expect(Math.max(...errors)).toBeLessThan(3);
    // predict read the aligned layer: the probabilities have its geometry
    const probs = await PrecomputedLayer.open(path.join(ds, 'probabilities'));
    expect(probs.info.scales[0].size).toEqual([192, 192, 8]);
    const unaligned = await PrecomputedLayer.open(path.join(ds, 'raw-unaligned'));
    expect(unaligned.info.scales[0].size).toEqual([192, 192, 8]);
  });
});
