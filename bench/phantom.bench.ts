// `npm run bench phantom`: the phantom generator at scale.
//
// 1. Model build for ONE block (128x128x32 voxels at 8x8x30 nm, grown by the blur margin, in the
//    middle of the volume) of a 256 Mvoxel, 1 Gvoxel and 4 Gvoxel phantom, each in a fresh child
//    process: CPU seconds and peak RSS must not grow with the volume (the model is local: only
//    the tiles that reach the block are built). With PHANTOM_BENCH_BEFORE=<commit> the same is
//    measured for the whole-volume model of that commit (the reference: every worker built the
//    whole model), for 256 Mvoxel and 1 Gvoxel.
// 2. `phantomBlock` (model, rasterising, blur, labels, statistics) on 8 consecutive blocks of the
//    middle z-slab of the same three volumes, in a fresh process: CPU per block and peak RSS.
// 3. End to end: `generatePhantom` (all six layers + tables) on PHANTOM_BENCH_SIZE (default
//    512,512,64) with 2 workers, 1 worker, and 2 workers with another block shape (256x256x32
//    instead of 128x128x32), each in a fresh process (CPU of all threads, peak RSS of main +
//    workers); the three datasets must be byte-identical (sha256 over every chunk file and the
//    tables' rows). The ratio printed is 2 workers vs 1 (there is no other generator).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { PHANTOM_LAYERS } from '../src/stages/phantom/tasks.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

async function digest(dir: string): Promise<string> {
  const h = createHash('sha256');
  for (const layer of PHANTOM_LAYERS) {
    const files: string[] = [];
    const walk = async (d: string) => {
      for (const e of await fs.readdir(d, { withFileTypes: true })) {
        const p = path.join(d, e.name);
        if (e.isDirectory()) await walk(p);
        else if (!e.name.includes('.tmp-')) files.push(p);
      }
    };
    await walk(path.join(dir, layer));
    for (const f of files.sort()) {
      h.update(path.relative(dir, f));
      h.update(await fs.readFile(f));
    }
  }
  return h.digest('hex');
}

interface BuildRow {
  model: string;
  volume: number[];
  gigavoxels: number;
  cold_cpu_s: number;
  warm_next_block_cpu_s: number | null;
  rss_before_mb: number;
  peak_rss_mb: number;
  model_mb: number;
  prims: number;
  tiles_built: number | null;
  /** 24 consecutive blocks (scheduler order) from a cold cache: model CPU per block and tiles built per block. */
  sweep_per_block_cpu_s: number | null;
  sweep_tiles_per_block: number | null;
}

/** One block's model build in a fresh process (so peak RSS is this build's). */
async function buildInChild(tmp: string, size: number[], before?: string): Promise<BuildRow> {
  const modelUrl = before ? pathToFileURL(path.join(tmp, 'model-before.ts')).href : pathToFileURL(path.join(root, 'src/stages/phantom/model.ts')).href;
  const code = `
import * as M from ${JSON.stringify(modelUrl)};
const size = ${JSON.stringify(size)};
const o = { seed: 1, size, voxelSize: [8, 8, 30] };
const b0 = [Math.floor(size[0] / 256) * 128, Math.floor(size[1] / 256) * 128, Math.floor(size[2] / 64) * 32];
const box = (dx) => ({ min: [b0[0] + dx - 8, b0[1] - 8, b0[2] - 2], max: [b0[0] + dx + 136, b0[1] + 136, b0[2] + 34] });
globalThis.gc?.();
const rss0 = process.memoryUsage().rss;
let c = process.cpuUsage();
const m = ${before ? 'M.buildModel(o)' : 'M.buildModel(o, box(0))'};
const cold = process.cpuUsage(c);
let warm = null;
${before ? '' : 'c = process.cpuUsage(); M.buildModel(o, box(128)); const w = process.cpuUsage(c); warm = (w.user + w.system) / 1e6;'}
// 24 blocks in the scheduler's order (x fastest) from the start of the middle z-slab, as one worker would meet them
let sweep = null;
${before ? '' : `M.clearTileCache(); const t0 = M.tileStats().built; c = process.cpuUsage();
for (let k = 0; k < 24; k++) { const nx = Math.ceil(size[0] / 128); const bx = (k % nx) * 128; const by = Math.floor(k / nx) * 128;
  M.buildModel(o, { min: [bx - 8, by - 8, b0[2] - 2], max: [bx + 136, by + 136, b0[2] + 34] }); }
const sw = process.cpuUsage(c); sweep = { per_block_cpu_s: (sw.user + sw.system) / 1e6 / 24, tiles_per_block: (M.tileStats().built - t0) / 24 };`}
const bytes = Object.values(m).reduce((s, v) => s + (ArrayBuffer.isView(v) ? v.byteLength : 0), 0);
console.log(JSON.stringify({
  cold_cpu_s: (cold.user + cold.system) / 1e6, warm, rss0, peak: process.resourceUsage().maxRSS * 1024, bytes,
  prims: m.nPrims, tiles: ${before ? 'null' : 'M.tileStats().built'}, sweep }));
`;
  const file = path.join(tmp, `child-${before ? 'before' : 'now'}-${size.join('x')}.mts`);
  await fs.writeFile(file, code);
  const out = execFileSync(process.execPath, ['--expose-gc', '--import', 'tsx', file], { cwd: root, encoding: 'utf8', maxBuffer: 1 << 24 });
  const r = JSON.parse(out.trim().split('\n').pop()!);
  return {
    model: before ? `whole volume (${before.slice(0, 7)})` : 'local (tiles)',
    volume: size,
    gigavoxels: +((size[0] * size[1] * size[2]) / 1e9).toFixed(3),
    cold_cpu_s: +r.cold_cpu_s.toFixed(2),
    warm_next_block_cpu_s: r.warm === null ? null : +r.warm.toFixed(3),
    rss_before_mb: Math.round(r.rss0 / 1e6),
    peak_rss_mb: Math.round(r.peak / 1e6),
    model_mb: +(r.bytes / 1e6).toFixed(1),
    prims: r.prims,
    tiles_built: r.tiles,
    sweep_per_block_cpu_s: r.sweep ? +r.sweep.per_block_cpu_s.toFixed(3) : null,
    sweep_tiles_per_block: r.sweep ? +r.sweep.tiles_per_block.toFixed(1) : null,
  };
}

interface BlockRunRow {
  volume: number[];
  gigavoxels: number;
  blocks: number;
  cpu_s_per_block: number;
  cpu_us_per_voxel: number;
  peak_rss_mb: number;
}

/** `phantomBlock` (model + rasterising + blur + labels + statistics) on 8 consecutive blocks of the middle z-slab, in a fresh process. */
async function blocksInChild(tmp: string, size: number[]): Promise<BlockRunRow> {
  const tasksUrl = pathToFileURL(path.join(root, 'src/stages/phantom/tasks.ts')).href;
  const code = `
import { phantomBlock } from ${JSON.stringify(tasksUrl)};
const size = ${JSON.stringify(size)};
const params = { seed: 1, size, voxelSize: [8, 8, 30] };
const z0 = Math.floor(size[2] / 64) * 32;
const c = process.cpuUsage();
for (let k = 0; k < 8; k++) {
  const box = { min: [k * 128, 0, z0], max: [k * 128 + 128, 128, z0 + 32] };
  phantomBlock({ box, readBox: box, inputs: {}, params, blockIndex: [k, 0, 0] });
}
const u = process.cpuUsage(c);
console.log(JSON.stringify({ cpu: (u.user + u.system) / 1e6, peak: process.resourceUsage().maxRSS * 1024 }));
`;
  const file = path.join(tmp, `blocks-${size.join('x')}.mts`);
  await fs.writeFile(file, code);
  const out = execFileSync(process.execPath, ['--import', 'tsx', file], { cwd: root, encoding: 'utf8', maxBuffer: 1 << 24 });
  const r = JSON.parse(out.trim().split('\n').pop()!);
  return {
    volume: size,
    gigavoxels: +((size[0] * size[1] * size[2]) / 1e9).toFixed(3),
    blocks: 8,
    cpu_s_per_block: +(r.cpu / 8).toFixed(2),
    cpu_us_per_voxel: +(r.cpu / (8 * 128 * 128 * 32) * 1e6).toFixed(2),
    peak_rss_mb: Math.round(r.peak / 1e6),
  };
}

interface GenRow {
  workers: number;
  block: number[];
  size: number[];
  seconds: number;
  megavoxels_per_s: number;
  cpu_s: number;
  cpu_us_per_voxel: number;
  peak_rss_mb: number;
  cells: number;
  synapses: number;
  load_average_before: number;
  digest: string;
}

/** One whole `generatePhantom` in a fresh process: wall, CPU (all threads), peak RSS (main + workers), digest of layers + tables. */
async function generateInChild(tmp: string, size: number[], workers: number, blockShape: number[]): Promise<GenRow> {
  const dir = path.join(tmp, `w${workers}-${blockShape.join('x')}`);
  const code = `
import { createHash } from 'node:crypto';
import { generatePhantom } from ${JSON.stringify(pathToFileURL(path.join(root, 'src/stages/phantom/generate.ts')).href)};
import { toJson } from ${JSON.stringify(pathToFileURL(path.join(root, 'src/core/ids.ts')).href)};
const c = process.cpuUsage();
const t0 = performance.now();
const r = await generatePhantom(${JSON.stringify(dir)}, { seed: 1, size: ${JSON.stringify(size)}, voxelSize: [8, 8, 30] }, { chunkSize: [64, 64, 32], blockShape: ${JSON.stringify(blockShape)}, run: { workers: ${workers} } });
const seconds = (performance.now() - t0) / 1000;
const u = process.cpuUsage(c);
console.log(JSON.stringify({ seconds, cpu: (u.user + u.system) / 1e6, peak: process.resourceUsage().maxRSS * 1024, cells: r.tables.cells.length, synapses: r.tables.synapses.length,
  tables: createHash('sha256').update(toJson(r.tables)).digest('hex') }));
`;
  const file = path.join(tmp, `gen-${workers}-${blockShape.join('x')}.mts`);
  await fs.writeFile(file, code);
  const load = os.loadavg()[0];
  const out = execFileSync(process.execPath, ['--import', 'tsx', file], { cwd: root, encoding: 'utf8', maxBuffer: 1 << 24 });
  const r = JSON.parse(out.trim().split('\n').pop()!);
  const voxels = size[0] * size[1] * size[2];
  const row: GenRow = {
    workers,
    block: blockShape,
    size,
    seconds: +r.seconds.toFixed(1),
    megavoxels_per_s: +(voxels / 1e6 / r.seconds).toFixed(3),
    cpu_s: +r.cpu.toFixed(1),
    cpu_us_per_voxel: +((r.cpu * 1e6) / voxels).toFixed(2),
    peak_rss_mb: Math.round(r.peak / 1e6),
    cells: r.cells,
    synapses: r.synapses,
    load_average_before: +load.toFixed(1),
    digest: (await digest(dir)) + r.tables,
  };
  await fs.rm(dir, { recursive: true, force: true });
  return row;
}

export default async function run() {
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'phantom-bench-'));
  const builds: BuildRow[] = [];
  const blockRuns: BlockRunRow[] = [];
  const rows: GenRow[] = [];
  try {
    // ---- 1. one block's model, three volume sizes
    console.log(`load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
    const sizes = [
      [1024, 1024, 250],
      [1024, 1024, 1000],
      [2048, 2048, 1000],
    ];
    for (const size of sizes) {
      const r = await buildInChild(tmp, size);
      builds.push(r);
      console.log(JSON.stringify(r));
    }
    const before = process.env.PHANTOM_BENCH_BEFORE;
    if (before) {
      const src = execFileSync('git', ['show', `${before}:src/stages/phantom/model.ts`], { cwd: root, encoding: 'utf8', maxBuffer: 1 << 26 })
        .replace(/'\.\.\/\.\.\/core\/(\w+)\.js'/g, (_m, f) => JSON.stringify(pathToFileURL(path.join(root, `src/core/${f}.ts`)).href));
      await fs.writeFile(path.join(tmp, 'model-before.ts'), src);
      for (const size of sizes.slice(0, 2)) {
        const r = await buildInChild(tmp, size, before);
        builds.push(r);
        console.log(JSON.stringify(r));
      }
    }

    // ---- 2. phantomBlock on 8 blocks of a 256 Mvoxel, 1 Gvoxel and 4 Gvoxel volume
    for (const size of sizes) {
      const r = await blocksInChild(tmp, size);
      blockRuns.push(r);
      console.log(JSON.stringify(r));
    }

    // ---- 3. end to end, 2 workers / 1 worker / another block shape, each in a fresh process
    const size = (process.env.PHANTOM_BENCH_SIZE ?? '512,512,64').split(',').map(Number);
    for (const [workers, blockShape] of [
      [2, [128, 128, 32]],
      [1, [128, 128, 32]],
      [2, [256, 256, 32]],
    ] as const) {
      const r = await generateInChild(tmp, size, workers, [...blockShape]);
      rows.push(r);
      const { digest: _d, ...show } = r;
      console.log(JSON.stringify(show));
    }
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
  if (new Set(rows.map((r) => r.digest)).size !== 1) throw new Error('phantom: datasets differ between worker counts / block shapes');
  const ratio = rows[1].seconds / rows[0].seconds;
  console.log(`identical bytes (layers + tables) with 2 workers, 1 worker, and blocks 256x256x32; 2 workers ${ratio.toFixed(2)}x faster than 1 (wall, shared machine)`);
  return { builds, blockRuns, rows: rows.map(({ digest: _d, ...r }) => r), identical: true, speedup_2_vs_1: +ratio.toFixed(2) };
}
