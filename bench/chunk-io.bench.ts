// Chunk reads as a stage pays them: blocks with margins read from a precomputed layer.
//
// 1. compressed_segmentation: every block of 64x64x32 grown by a margin of 8,8,4 (so each block
//    touches up to 27 chunks, most of them only for a margin strip), from the chunk files' bytes
//    held in memory (the codec and the placement only, no file system):
//      ours     decodeChunkInto: each chunk decoded straight into the block, only where they overlap
//      before   what readBox did before: decode the whole chunk (our decoder), then copyBox
//      ng       Neuroglancer's own decoder (node_modules/neuroglancer, decodeChannels) on the whole
//               chunk, then copyBox
//    Every block of the three paths is checked to be the same bytes.
// 2. one channel of a 5-channel uint8 layer (a pixel classifier's output read as `?channel=2` by
//    the synapses stage), through the file system: readBox(b, 0, 2) against the former
//    readBox(b).channel(2).crop(b); same bytes checked.
// 3. gzip of chunk files at levels 1, 6 (what Wiring writes) and 9: node's zlib (ours) against
//    Python's zlib (bench/refs/ref_zlib.py) on the same chunks; size and CPU, round trip checked.
// Volumes: gala-medulla train-gt (int32 ids as uint64, 200x100x50) and the FIB-25 64^3 block of
// neuroglancer-testdata tiled to 192x192x128; the 5-channel layer from gala-medulla's raw.
// CPU seconds of this process (best of 3 passes), measured under load on the shared machine.
import { existsSync, promises as fs, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { gunzipSync, gzipSync } from 'node:zlib';
import { pathToFileURL } from 'node:url';
import { type Box, type Vec3, boxFromShape, boxGrow, boxIntersect, boxShape } from '../src/core/box.js';
import { ChunkGrid } from '../src/core/chunks.js';
import { Volume, copyBox } from '../src/core/volume.js';
import { openSource } from '../src/formats/open.js';
import { PrecomputedLayer, decodeChunk, decodeChunkInto, encodeChunk, makeInfo } from '../src/formats/precomputed/index.js';
import { sameBytes } from '../src/formats/precomputed/testing.js';
import { REPO_ROOT, dataPath } from '../test/data.js';
import { cpuAsync } from './cpu.js';

const CHUNK: Vec3 = [64, 64, 32];
const BLOCK: Vec3 = [64, 64, 32];
const MARGIN: Vec3 = [8, 8, 4];
const NG_DECODE = path.resolve('node_modules/neuroglancer/lib/sliceview/compressed_segmentation/decode_uint64.js');

type NgDecode = (out: Uint32Array, data: Uint32Array, base: number, size: number[], block: number[]) => void;

/** Blocks of BLOCK over `bounds`, each grown by MARGIN and clipped to the bounds. */
function blocks(bounds: Box): Box[] {
  const out: Box[] = [];
  for (const g of new ChunkGrid(bounds, BLOCK).chunksIn()) {
    const b = new ChunkGrid(bounds, BLOCK).chunkBox(g);
    const grown: Box = boxGrow(b, MARGIN);
    out.push(boxIntersect(grown, bounds));
  }
  return out;
}

async function best<T>(f: () => Promise<T>, reps = 3): Promise<[T, number]> {
  let r: T | undefined;
  let t = Infinity;
  for (let i = 0; i < reps; i++) {
    const [x, s] = await cpuAsync(f);
    r = x;
    t = Math.min(t, s);
  }
  return [r as T, t];
}

async function csegCase(name: string, vol: Volume<'uint64'>, ng: NgDecode | undefined): Promise<Record<string, unknown>> {
  const f = { dtype: 'uint64' as const, channels: 1, encoding: 'compressed_segmentation' as const, blockSize: [8, 8, 8] as Vec3 };
  const grid = new ChunkGrid(vol.box, CHUNK);
  const chunks = new Map<string, { box: Box; bytes: Uint8Array }>();
  for (const g of grid.chunksIn()) {
    const box = grid.chunkBox(g);
    chunks.set(String(g), { box, bytes: await encodeChunk(vol.crop(box).data, f, boxShape(box)) });
  }
  const bl = blocks(vol.box);
  const touching = (b: Box) => [...grid.chunksIn(b)].map((g) => chunks.get(String(g))!);
  const run = async (how: 'ours' | 'before' | 'ng'): Promise<Volume[]> => {
    const outs: Volume[] = [];
    for (const b of bl) {
      const out = Volume.zeros('uint64', b);
      for (const c of touching(b)) {
        if (how === 'ours') await decodeChunkInto(c.bytes, f, c.box, out, 'bench');
        else if (how === 'before') copyBox(new Volume('uint64', c.box, (await decodeChunk(c.bytes, f, boxShape(c.box), 'bench')) as BigUint64Array), out);
        else {
          const s = boxShape(c.box);
          const words = new Uint32Array(s[0] * s[1] * s[2] * 2);
          ng!(words, new Uint32Array(c.bytes.buffer, c.bytes.byteOffset, c.bytes.byteLength >>> 2), 0, [...s, 1], [8, 8, 8]);
          copyBox(new Volume('uint64', c.box, new BigUint64Array(words.buffer)), out);
        }
      }
      outs.push(out);
    }
    return outs;
  };
  const [ours, tOurs] = await best(() => run('ours'));
  const [before, tBefore] = await best(() => run('before'));
  const blockVoxels = bl.reduce((s, b) => s + boxShape(b).reduce((a, x) => a * x, 1), 0);
  for (let i = 0; i < bl.length; i++) {
    const want = vol.crop(bl[i]).data;
    if (!sameBytes(ours[i].data, want) || !sameBytes(before[i].data, want)) throw new Error(`${name}: block ${i} differs from the volume`);
  }
  const row: Record<string, unknown> = {
    volume: name,
    blocks: bl.length,
    block_mvox: +(blockVoxels / 1e6).toFixed(2),
    ours_cpu_s: +tOurs.toFixed(3),
    before_cpu_s: +tBefore.toFixed(3),
    ours_mvox_per_cpu_s: +(blockVoxels / tOurs / 1e6).toFixed(0),
    before_mvox_per_cpu_s: +(blockVoxels / tBefore / 1e6).toFixed(0),
    speedup_vs_before: +(tBefore / tOurs).toFixed(2),
  };
  if (ng) {
    const [theirs, tNg] = await best(() => run('ng'));
    for (let i = 0; i < bl.length; i++) if (!sameBytes(theirs[i].data, ours[i].data)) throw new Error(`${name}: block ${i}: Neuroglancer's decoder disagrees`);
    row.neuroglancer_cpu_s = +tNg.toFixed(3);
    row.neuroglancer_mvox_per_cpu_s = +(blockVoxels / tNg / 1e6).toFixed(0);
    row.speedup_vs_neuroglancer = +(tNg / tOurs).toFixed(2);
  }
  console.log(`${name}: ${bl.length} blocks (${row.block_mvox} Mvox with margins): ours ${row.ours_mvox_per_cpu_s}, before ${row.before_mvox_per_cpu_s}${ng ? `, Neuroglancer ${row.neuroglancer_mvox_per_cpu_s}` : ''} Mvox/CPU-s (x${row.speedup_vs_before} vs before${ng ? `, x${row.speedup_vs_neuroglancer} vs Neuroglancer` : ''}; same bytes)`);
  return row;
}

/** gzip every chunk at each level, ours (node) and Python's zlib; sizes and CPU seconds. */
function gzipCase(name: string, chunks: Uint8Array[], tmp: string): Array<Record<string, unknown>> {
  const levels = [1, 6, 9];
  const file = path.join(tmp, `${name.replace(/\W+/g, '-')}.chunks`);
  const parts: Buffer[] = [];
  for (const c of chunks) {
    const len = Buffer.alloc(4);
    len.writeUInt32LE(c.byteLength);
    parts.push(len, Buffer.from(c.buffer, c.byteOffset, c.byteLength));
  }
  writeFileSync(file, Buffer.concat(parts));
  const py = spawnSync('python3', [path.join(REPO_ROOT, 'bench/refs/ref_zlib.py'), file, levels.join(',')], { encoding: 'utf8' });
  const ref = py.status === 0 ? (JSON.parse(py.stdout) as { zlib: string; levels: Record<string, { cpu_s: number; bytes: number }> }) : undefined;
  if (!ref) console.log(`Python zlib reference failed: ${py.stderr}`);
  const raw = chunks.reduce((s, c) => s + c.byteLength, 0);
  return levels.map((level) => {
    let t = Infinity;
    let out: Buffer[] = [];
    for (let r = 0; r < 3; r++) {
      const c0 = process.cpuUsage();
      out = chunks.map((c) => gzipSync(c, { level }));
      const u = process.cpuUsage(c0);
      t = Math.min(t, (u.user + u.system) / 1e6);
    }
    const size = out.reduce((s, b) => s + b.byteLength, 0);
    out.forEach((b, i) => {
      if (!sameBytes(gunzipSync(b), chunks[i])) throw new Error(`${name}: gzip level ${level} does not round-trip`);
    });
    const r = ref?.levels[String(level)];
    const row: Record<string, unknown> = {
      chunks: name,
      level,
      raw_mb: +(raw / 1e6).toFixed(2),
      ours_percent_of_raw: +((100 * size) / raw).toFixed(2),
      ours_mb_per_cpu_s: +(raw / t / 1e6).toFixed(0),
    };
    if (r) {
      row.python_percent_of_raw = +((100 * r.bytes) / raw).toFixed(2);
      row.python_mb_per_cpu_s = +(raw / r.cpu_s / 1e6).toFixed(0);
      row.speedup_vs_python = +(r.cpu_s / t).toFixed(2);
      row.python_zlib = ref!.zlib;
    }
    return row;
  });
}

export default async function run(): Promise<Record<string, unknown>> {
  const record: Record<string, unknown> = { machine: `${os.cpus().length} cores, ${os.cpus()[0]?.model}; shared and loaded`, chunk: CHUNK, block: BLOCK, margin: MARGIN };
  const ng = existsSync(NG_DECODE) ? ((await import(pathToFileURL(NG_DECODE).href)) as { decodeChannels: NgDecode }).decodeChannels : undefined;
  record.reference = ng ? `neuroglancer ${NG_DECODE}` : 'Neuroglancer decoder not found (node_modules/neuroglancer): reference column skipped';
  const rows: Array<Record<string, unknown>> = [];
  const gala = dataPath('gala-medulla', 'train-gt.h5');
  if (existsSync(gala)) {
    const src = await openSource(`${gala}#stack`, { voxelSize: [10, 10, 10] });
    const v = await src.read(boxFromShape(src.shape));
    await src.close();
    const ids = new BigUint64Array(v.data.length);
    for (let i = 0; i < ids.length; i++) ids[i] = BigInt(Number(v.data[i]) >>> 0);
    rows.push(await csegCase('gala-medulla train-gt 200x100x50', new Volume('uint64', v.box, ids), ng));
  } else console.log(`skipped gala-medulla: ${gala} not found`);
  const fib = dataPath('neuroglancer-testdata/codec/compressed_segmentation/64x64x64-raw-uint64-segmentation.dat');
  if (existsSync(fib)) {
    const buf = await fs.readFile(fib);
    const d = new BigUint64Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
    const s: Vec3 = [192, 192, 128];
    const t = Volume.zeros('uint64', boxFromShape(s));
    for (let z = 0; z < s[2]; z++) for (let y = 0; y < s[1]; y++) for (let x = 0; x < s[0]; x++) t.data[x + s[0] * (y + s[1] * z)] = d[(x % 64) + 64 * ((y % 64) + 64 * (z % 64))];
    rows.push(await csegCase('FIB-25 64^3 tiled to 192x192x128', t, ng));
  } else console.log(`skipped FIB-25: ${fib} not found`);
  record.compressed_segmentation_blocks = rows;

  // 3. gzip levels, on gala-medulla's raw (uint8 chunks) and its ids (compressed_segmentation chunks)
  const gz: Array<Record<string, unknown>> = [];
  const tmpGz = await fs.mkdtemp(path.join(os.tmpdir(), 'wiring-bench-gzip-'));
  try {
    for (const [file, name, cseg] of [['train-image.h5', 'gala-medulla raw, uint8 raw chunks', false], ['train-gt.h5', 'gala-medulla ids, compressed_segmentation chunks', true]] as const) {
      const p = dataPath('gala-medulla', file);
      if (!existsSync(p)) continue;
      const src = await openSource(`${p}#stack`, { voxelSize: [10, 10, 10] });
      const v = await src.read(boxFromShape(src.shape));
      await src.close();
      const grid = new ChunkGrid(v.box, CHUNK);
      const chunks: Uint8Array[] = [];
      for (const g of grid.chunksIn()) {
        const b = grid.chunkBox(g);
        const c = v.crop(b);
        if (!cseg) chunks.push(new Uint8Array(c.data.buffer, c.data.byteOffset, c.data.byteLength));
        else {
          const ids = BigUint64Array.from(c.data as ArrayLike<number>, (x) => BigInt(x >>> 0));
          chunks.push(await encodeChunk(ids, { dtype: 'uint64', channels: 1, encoding: 'compressed_segmentation', blockSize: [8, 8, 8] }, boxShape(b)));
        }
      }
      gz.push(...gzipCase(name, chunks, tmpGz));
    }
  } finally {
    await fs.rm(tmpGz, { recursive: true, force: true });
  }
  record.gzip = gz;
  console.table(gz);

  const rawPath = dataPath('gala-medulla', 'train-image.h5');
  if (existsSync(rawPath)) {
    const src = await openSource(`${rawPath}#stack`, { voxelSize: [10, 10, 10] });
    const raw = await src.read(boxFromShape(src.shape));
    await src.close();
    const n = raw.data.length;
    const five = new Uint8Array(n * 5);
    for (let c = 0; c < 5; c++) for (let i = 0; i < n; i++) five[c * n + i] = (Number(raw.data[i]) * (c + 1) + 17 * c) & 255;
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'wiring-bench-chunkio-'));
    try {
      const layer = await PrecomputedLayer.create(dir, makeInfo({ type: 'image', dtype: 'uint8', shape: raw.shape, voxelSize: [10, 10, 10], chunkSize: CHUNK, channels: 5 }));
      await layer.writeBox(new Volume('uint8', raw.box, five, 5));
      const bl = blocks(raw.box);
      const [ours, tOurs] = await best(async () => Promise.all(bl.map((b) => layer.readBox(b, 0, 2))));
      const [before, tBefore] = await best(async () => Promise.all(bl.map(async (b) => (await layer.readBox(b)).channel(2).crop(b))));
      for (let i = 0; i < bl.length; i++) if (!sameBytes(ours[i].data, before[i].data)) throw new Error(`one-channel read of block ${i} differs`);
      const vox = bl.reduce((s, b) => s + boxShape(b).reduce((a, x) => a * x, 1), 0);
      record.one_channel_of_five = {
        volume: 'gala-medulla train-image as 5 uint8 channels, 200x100x50, read ?channel=2',
        blocks: bl.length,
        ours_cpu_s: +tOurs.toFixed(3),
        before_cpu_s: +tBefore.toFixed(3),
        speedup: +(tBefore / tOurs).toFixed(2),
      };
      console.log('one channel of five:', record.one_channel_of_five);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  }
  return record;
}
