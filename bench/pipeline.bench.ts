// The whole chain, stage by stage: predict (cleft/vesicle/mitochondrion and boundary forests),
// supervoxels, agglomeration, synapses + organelles, cells, meshes, skeletons on a phantom
// (PIPELINE_SIZE, default 512,512,128 at 8x8x30 nm, seed 7) with pixel models trained on another
// phantom (seed 101; PIPELINE_TRAIN_SIZE) before the clock starts, with 1 and 2 workers
// (PIPELINE_WORKERS=1,2; both forests predicted in one `wiring predict` pass unless
// PIPELINE_PREDICT=separate), the worker counts of one stage run back to back (so they see the same
// load) on their own copies of the chain, whose layers are then checked to be identical. Per stage:
// wall and CPU seconds (the whole process, all threads), the CPU split by thread (main, block
// workers, the rest: V8 compiler/GC helpers, file-system and DuckDB threads), Mvox per CPU second,
// peak RSS, the 2-worker speed-up measured (wall) and CPU-normalised (from the threads' CPU, so
// other jobs on the machine do not move it: see speedups()); the total; core-hours and cost per
// teravoxel at PIPELINE_PRICE $/core-hour (default 0.05, an on-demand cloud vCPU). Beside it, in
// the same run, scikit-image's watershed on the same boundary map (the supervoxel stage's
// reference; its input and seeds differ in detail, so only the time is compared), and one stage
// (PIPELINE_REDIS_STAGE, default supervoxels) again, right after it, through BullMQ on a private redis-server with
// one `wiring worker` process (PIPELINE_REDIS=0 leaves it out; PIPELINE_REFERENCE=0 leaves out the
// scikit-image watershed, e.g. for the 1 Gvox run). With the watershed, the other stages that have a
// reference run it on the same input after the chain (PIPELINE_REFERENCE=0 leaves them all out;
// PIPELINE_REFERENCE=watershed keeps only the watershed): predict against ilastik-style vigra features
// and two scikit-learn forests of the same trees, samples and targets (bench/refs/ref_two_forests.py,
// also scoring both chains' boundary and cleft maps against the test phantom's truth), meshes against
// scikit-image's marching cubes and skeletons against its skeletonize_3d (Lee 94) per segment of our
// 1-worker segmentation (../shared/refs/ref_mesh_skel.py): a reference does less than the stage
// (no simplification, levels of detail, Draco or files; no graph or files), so the ratio is a bound.
// Writes bench/out/pipeline.json (another PIPELINE_SIZE: bench/out/pipeline-<x>x<y>x<z>.json) and docs/PIPELINE.md (PIPELINE_DOC: another doc; generated: do not edit by hand), the doc
// after every stage, so an interrupted run leaves the stages it finished (marked partial).
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const MAIN = path.join(root, 'dist', 'cli', 'main.js');
import { CLASS as CLASS_VALUES } from '../src/stages/classes/classes.js';

/**
 * Block shape of the supervoxel and agglomeration stages (both blockwise, so that they can use
 * the workers; the supervoxels depend on the tile, 128^3 by default, not on the block).
 */
const BLOCK = process.env.PIPELINE_BLOCK ?? '128,128,128';

/** CPU seconds by thread (bench/wiring-usage.mjs; Linux only). */
interface Threads {
  main: number;
  workers: number[];
  other: number;
}

/** Runs `wiring args` in a child process; wall, CPU (user + system, all threads) and peak RSS of that process. */
function wiring(args: string[]): { wall: number; cpu: number; rss_mb: number; out: string; threads?: Threads } {
  const t = performance.now();
  const r = spawnSync(process.execPath, [path.join(here, 'wiring-usage.mjs')], { env: { ...process.env, WIRING_ARGS: JSON.stringify(args) }, encoding: 'utf8', maxBuffer: 1 << 28 });
  const wall = (performance.now() - t) / 1000;
  const m = /@@usage (\{.*\})/.exec(r.stderr ?? '');
  const u = m ? (JSON.parse(m[1]) as { cpu: number; rss: number; code: number; threads?: Threads }) : undefined;
  if (r.status !== 0 || !u || u.code !== 0) throw new Error(`wiring ${args.join(' ')} failed (${r.status}):\n${r.stderr}`);
  return { wall, cpu: u.cpu, rss_mb: u.rss, out: r.stdout, threads: u.threads };
}

/** CPU seconds (all threads) of a running process, from /proc (Linux); undefined elsewhere. */
function processCpu(pid: number): number | undefined {
  try {
    const st = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return undefined;
  }
}

/** sha256 over a folder's files (relative name and bytes), leaving out the scheduler's resume records, `info` and `merge_tree.json` (they name the input paths). */
function folderHash(dir: string): string {
  const h = createHash('sha256');
  const walk = (d: string) => {
    for (const e of readdirSync(d).sort()) {
      if (e === '.wiring-run' || e === 'info' || e === 'merge_tree.json' || e.includes('.tmp-')) continue;
      const f = path.join(d, e);
      if (statSync(f).isDirectory()) walk(f);
      else h.update(path.relative(dir, f)).update('\0').update(readFileSync(f));
    }
  };
  walk(dir);
  return h.digest('hex');
}

const WS_REF = String.raw`
import sys, time, json, numpy as np
from skimage.segmentation import watershed
from skimage.measure import label
import scipy.ndimage as ndi
a = np.load(sys.argv[1])
if a.ndim == 4: a = a[0]
b = a.astype(np.float32) / 255.0
t = time.perf_counter(); c = time.process_time()
out = np.zeros(b.shape, np.uint32); n = 0
for z in range(b.shape[0]):
    s = ndi.gaussian_filter(b[z], 1.0)
    m = label(s < 0.1)
    w = watershed(s, m)
    out[z] = np.where(w > 0, w + n, 0); n += int(w.max())
print(json.dumps({'seconds': time.perf_counter() - t, 'cpu_seconds': time.process_time() - c, 'segments': n}))
`;

/** A reference's result, or why it did not run. */
type RefResult = Record<string, unknown> | string;

function pythonJson(args: string[]): Record<string, unknown> {
  const r = spawnSync('/usr/bin/python3', args, { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`python3 ${path.basename(args[0])} failed (${r.status}): ${(r.stderr ?? '').trim().split('\n').slice(-1)[0]}`);
  // one JSON object, on one line or indented (../shared/refs' emit), after any chatter
  const start = r.stdout.search(/^\{/m);
  if (start < 0) throw new Error(`python3 ${path.basename(args[0])} printed no JSON`);
  return JSON.parse(r.stdout.slice(start)) as Record<string, unknown>;
}

const refError = (err: unknown): string => `not run: ${(err as Error).message.split('\n')[0]}`;

/**
 * References of predict, meshes and skeletons on the same inputs as the chain's stages (after the
 * chain, untimed by it): see the header. `p` names files in the bench's folder; `ds` is the
 * 1-worker chain; `cleft` the cleft channel of its class map.
 */
function stageReferences(p: (...s: string[]) => string, ds: string, cleft: number): Record<string, RefResult> {
  const refs: Record<string, RefResult> = {};
  const npy = (layer: string, file: string) => {
    wiring(['export', layer, p(file)]);
    return p(file);
  };
  try {
    console.log('reference: predict (vigra features, two scikit-learn forests)');
    wiring(['classes', p('truth', 'classes'), '--neurons', p('truth', 'neurons'), '--clefts', p('truth', 'clefts'), '--vesicles', p('truth', 'vesicles'), '--mitochondria', p('truth', 'mitochondria')]);
    const args = [
      path.join(here, 'refs', 'ref_two_forests.py'),
      '--train-raw', npy(p('train', 'raw'), 'train-raw.npy'), '--train-classes', npy(p('train', 'classes'), 'train-classes.npy'),
      '--test-raw', npy(p('truth', 'raw'), 'test-raw.npy'), '--test-classes', npy(p('truth', 'classes'), 'test-classes.npy'),
      '--train-neurons', npy(p('train', 'neurons'), 'train-neurons.npy'), '--test-neurons', npy(p('truth', 'neurons'), 'test-neurons.npy'),
      '--ours-boundary', npy(path.join(ds, 'boundaries'), 'ours-boundaries.npy'), '--ours-classes', npy(path.join(ds, 'probabilities'), 'ours-classes.npy'),
      '--ours-cleft-channel', String(cleft), '--trees', '32', '--n-train', '60000',
    ];
    refs.predict = pythonJson(args);
  } catch (err) {
    refs.predict = refError(err);
  }
  try {
    console.log('reference: meshes and skeletons (scikit-image marching cubes and skeletonize_3d per segment)');
    const seg = npy(path.join(ds, 'segmentation'), 'segmentation.npy');
    const raw = p('segmentation-u32.raw');
    const shape = pythonJson(['-c', `import sys, json, numpy as np
a = np.load(sys.argv[1]); u, inv = np.unique(a, return_inverse=True)
if u[0] != 0: inv = inv + 1
inv.astype(np.uint32).reshape(a.shape).tofile(sys.argv[2]); print(json.dumps({'shape': list(a.shape), 'segments': int((u != 0).sum())}))`, seg, raw]);
    const r = pythonJson([path.join(process.env.WIRING_REFS ?? path.resolve(here, '../../shared/refs'), 'ref_mesh_skel.py'), raw, '--shape', (shape.shape as number[]).join(','), '--dtype', 'uint32', '--labels', 'all', '--spacing', '30,8,8']);
    const keep = ['n_objects', 'object_voxels', 'bbox_voxels', 'mesh_total_s', 'mesh_total_cpu_s', 'skel_total_s', 'skel_total_cpu_s'];
    refs.meshes_skeletons = Object.fromEntries(keep.map((k) => [k, r[k]]));
  } catch (err) {
    refs.meshes_skeletons = refError(err);
  }
  return refs;
}

interface StageRow {
  stage: string;
  workers: number;
  wall: number;
  cpu: number;
  mvox_per_cpu_s: number;
  rss_mb: number;
  /** CPU seconds of the main thread, of each block worker thread, and of the rest. */
  main?: number;
  worker_threads?: number[];
  other?: number;
  /** Idle-machine wall estimated from the threads' CPU (speedups()). */
  est_wall?: number;
  /** With workers > first: whether its layers are identical to the first worker count's ('-' when not checked). */
  identical?: string;
}

/**
 * What a run would take on an idle machine with `cores` cores, from its threads' CPU: at least
 * the critical path (the main thread's own work, then the blocks: with worker threads, the
 * busiest one runs after the main thread's set-up) and at least all its CPU spread over the cores.
 * With one worker the blocks run on the main thread (on one worker thread with
 * WIRING_ONE_WORKER_THREAD=1: src/scheduler/pool.ts oneWorkerOnThread). Other jobs on the machine stretch wall
 * times but (caches and frequency aside) not CPU times, so the ratio of two estimates is a
 * load-independent speed-up; it assumes the main thread's work does not overlap the blocks (it
 * mostly precedes and follows them) and counts the helper threads' CPU only in the spread term.
 */
export function estimatedWall(cpu: number, t: Threads | undefined, cores: number): number | undefined {
  if (!t) return undefined;
  const path = t.main + (t.workers.length ? Math.max(...t.workers) : 0);
  return Math.max(path, cpu / cores);
}

/** Start a private redis-server and one `wiring worker` process (2 threads); stop() reports their CPU seconds. */
async function startRedisWorkers(concurrency: number): Promise<{ url: string; stop: () => Promise<{ worker_cpu?: number; redis_cpu?: number }> }> {
  const port = 20000 + Math.floor(Math.random() * 20000);
  const redis = spawn('redis-server', ['--port', String(port), '--save', '', '--appendonly', 'no', '--bind', '127.0.0.1'], { stdio: 'ignore' });
  const url = `redis://127.0.0.1:${port}`;
  const redisGone = new Promise<never>((_, rej) => redis.once('error', (e) => rej(e)));
  for (let i = 0; ; i++) {
    const ping = spawnSync('redis-cli', ['-p', String(port), 'ping'], { encoding: 'utf8' });
    if (ping.stdout?.trim() === 'PONG') break;
    if (i > 100) throw new Error(`redis-server did not answer on port ${port}`);
    await Promise.race([new Promise((r) => setTimeout(r, 100)), redisGone]);
  }
  const worker = spawn(process.execPath, [path.join(root, 'bin', 'wiring.js'), 'worker', '--redis', url, '--concurrency', String(concurrency), '--json'], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    let buf = '';
    worker.stdout!.on('data', (b: Buffer) => {
      buf += b.toString();
      if (buf.includes('"ready"')) resolve();
    });
    worker.once('exit', (code) => reject(new Error(`wiring worker exited (${code}) before it was ready`)));
  });
  return {
    url,
    async stop() {
      const worker_cpu = processCpu(worker.pid!);
      const redis_cpu = processCpu(redis.pid!);
      const exited = (p: ChildProcess) => new Promise((r) => (p.exitCode !== null ? r(null) : p.once('exit', r)));
      worker.kill('SIGTERM');
      await exited(worker);
      redis.kill('SIGTERM');
      await exited(redis);
      return { worker_cpu, redis_cpu };
    },
  };
}

export default async function bench(): Promise<Record<string, unknown> | undefined> {
  // PIPELINE_REDOC=<bench/out/pipeline(.partial).json>: write docs/PIPELINE.md again from a run's record, without running
  // (returns no record, so bench/out/pipeline.json stays the record it was)
  if (process.env.PIPELINE_REDOC) {
    redoc(process.env.PIPELINE_REDOC);
    return undefined;
  }
  if (!existsSync(MAIN)) throw new Error('dist/cli/main.js missing: run `npm run build:src` first');
  const size = (process.env.PIPELINE_SIZE ?? '512,512,128').split(',').map(Number);
  // the issue's 512x512x128 run is the named record (bench/out/pipeline.json, docs/BENCHMARKS.md);
  // another size writes bench/out/pipeline-<x>x<y>x<z>.json itself and returns no record
  const record = size.join(',') === '512,512,128' ? 'pipeline' : `pipeline-${size.join('x')}`;
  const trainSize = process.env.PIPELINE_TRAIN_SIZE ?? '192,192,48';
  const workersList = (process.env.PIPELINE_WORKERS ?? '1,2').split(',').map(Number);
  const price = Number(process.env.PIPELINE_PRICE ?? 0.05);
  const cores = os.availableParallelism();
  const voxels = size[0] * size[1] * size[2];
  const tmp = mkdtempSync(path.join(process.env.PIPELINE_TMP ?? os.tmpdir(), 'wiring-pipeline-bench-'));
  const p = (...s: string[]) => path.join(tmp, ...s);
  const t0 = Date.now();
  try {
    // untimed: the models, trained on another phantom
    console.log(`setup: training phantom ${trainSize} (seed 101), pixel and boundary forests; test phantom ${size.join(',')} (seed 7)`);
    wiring(['phantom', p('train'), '--size', trainSize, '--seed', '101']);
    wiring(['classes', p('train', 'classes'), '--neurons', p('train', 'neurons'), '--clefts', p('train', 'clefts'), '--vesicles', p('train', 'vesicles'), '--mitochondria', p('train', 'mitochondria')]);
    const model = process.env.PIPELINE_MODEL ?? p('pixels.forest');
    const bmodel = process.env.PIPELINE_BOUNDARY_MODEL ?? p('boundary.forest');
    const trained = process.env.PIPELINE_MODEL
      ? { labelValues: (process.env.PIPELINE_CLASSES ?? '1,2,3,4,5').split(',') }
      : (JSON.parse(wiring(['train-pixels', '--raw', p('train', 'raw'), '--labels', p('train', 'classes'), '-o', model, '--trees', '32', '--samples', '60000', '--json']).out) as { labelValues?: unknown[]; classes?: unknown[] });
    // the channels of the cleft, vesicle and mitochondrion classes (label values of `wiring classes`)
    const labels = (trained.labelValues ?? trained.classes ?? []).map(String);
    const ch = (v: number) => {
      const c = labels.indexOf(String(v));
      if (c < 0) throw new Error(`the pixel model has no class ${v} (classes ${labels.join(', ')})`);
      return c;
    };
    if (!process.env.PIPELINE_BOUNDARY_MODEL) wiring(['train-pixels', '--raw', p('train', 'raw'), '--gt', p('train', 'neurons'), '-o', bmodel, '--trees', '32', '--samples', '60000']);
    wiring(['phantom', p('truth'), '--size', size.join(','), '--seed', '7']);
    const rows: StageRow[] = [];
    const out: Record<string, unknown> = { size, voxels, train_size: trainSize, price_per_core_hour: price, cores, machine: `${cores} cores (${os.cpus()[0]?.model ?? '?'})`, loadavg_start: os.loadavg().map((x) => +x.toFixed(2)) };
    /** Each stage's arguments with `w` workers on the chain in ds<w>, and the folders it writes (checked to agree across worker counts). */
    const separatePredict = process.env.PIPELINE_PREDICT === 'separate';
    const stageArgs = (w: number): Array<[string, string[], string[]]> => {
      const ds = p(`ds${w}`);
      const W = ['--workers', String(w)];
      return [
        // both forests in one pass (one raw read and one feature stack per block: they share the
        // feature configuration); PIPELINE_PREDICT=separate runs them one after the other as before
        ...(separatePredict
          ? ([
              ['predict (5 classes)', ['predict', '--raw', p('truth', 'raw'), '--model', model, path.join(ds, 'probabilities'), '--dtype', 'uint8', ...W], [path.join(ds, 'probabilities')]],
              ['predict (boundaries)', ['predict', '--raw', p('truth', 'raw'), '--model', bmodel, path.join(ds, 'boundaries'), '--dtype', 'uint8', ...W], [path.join(ds, 'boundaries')]],
            ] as Array<[string, string[], string[]]>)
          : ([
              ['predict (5 classes + boundaries)', ['predict', '--raw', p('truth', 'raw'), '--model', model, '--model', bmodel, path.join(ds, 'probabilities'), path.join(ds, 'boundaries'), '--dtype', 'uint8', ...W], [path.join(ds, 'probabilities'), path.join(ds, 'boundaries')]],
            ] as Array<[string, string[], string[]]>)),
        ['supervoxels', ['supervoxels', '--boundaries', path.join(ds, 'boundaries'), path.join(ds, 'supervoxels'), '--2d', '--block', BLOCK, ...W], [path.join(ds, 'supervoxels')]],
        ['agglomeration', ['agglomerate', '--supervoxels', path.join(ds, 'supervoxels'), '--boundaries', path.join(ds, 'boundaries'), path.join(ds, 'segmentation'), '--block', BLOCK, ...W], [path.join(ds, 'segmentation')]],
        ['synapses + organelles', ['synapses', path.join(ds, 'connectome.duckdb'), '--clefts', `${path.join(ds, 'probabilities')}?channel=${ch(CLASS_VALUES.cleft)}`, '--vesicles', `${path.join(ds, 'probabilities')}?channel=${ch(CLASS_VALUES.vesicle)}`, '--mitochondria', `${path.join(ds, 'probabilities')}?channel=${ch(CLASS_VALUES.mitochondrion)}`, '--segmentation', path.join(ds, 'segmentation'), ...W], []],
        ['cells', ['cells', path.join(ds, 'segmentation'), path.join(ds, 'connectome.duckdb'), '--replace', ...W], []],
        ['meshes', ['mesh', path.join(ds, 'segmentation'), ...W], [path.join(ds, 'segmentation', 'mesh')]],
        ['skeletons', ['skeletonize', path.join(ds, 'segmentation'), ...W], [path.join(ds, 'segmentation', 'skeletons')]],
      ];
    };
    const nStages = stageArgs(1).length;
    const redisStage = process.env.PIPELINE_REDIS === '0' ? undefined : process.env.PIPELINE_REDIS_STAGE ?? 'supervoxels';
    const save = (partial: boolean) => {
      out.stages = rows;
      out.totals = totalsOf(rows, workersList, voxels, price);
      out.speedups = speedups(rows, workersList);
      out.partial = partial ? `${new Set(rows.map((r) => r.stage)).size} of ${nStages} stages` : false;
      out.minutes = +((Date.now() - t0) / 60000).toFixed(1);
      writeDoc(out, rows, out.totals as Array<Record<string, number>>, partial ? `partial: ${out.partial}` : undefined);
      writeFileSync(path.join(here, 'out', `${record}.partial.json`), JSON.stringify(out, null, 2));
    };
    // one stage at a time, each worker count back to back (the same machine load for both)
    for (let k = 0; k < nStages; k++) {
      const hashes: string[] = [];
      for (const w of workersList) {
        const [stage, args, writes] = stageArgs(w)[k];
        const r = wiring(args);
        const est = estimatedWall(r.cpu, r.threads, cores);
        const hash = writes.map(folderHash).join(',');
        hashes.push(hash);
        const row: StageRow = {
          stage, workers: w, wall: +r.wall.toFixed(2), cpu: +r.cpu.toFixed(2), mvox_per_cpu_s: +(voxels / 1e6 / r.cpu).toFixed(3), rss_mb: Math.round(r.rss_mb),
          ...(r.threads ? { main: +r.threads.main.toFixed(2), worker_threads: r.threads.workers.map((x) => +x.toFixed(2)), other: +r.threads.other.toFixed(2) } : {}),
          ...(est !== undefined ? { est_wall: +est.toFixed(2) } : {}),
          ...(hashes.length > 1 ? { identical: writes.length === 0 ? '-' : hash === hashes[0] ? 'yes' : 'NO' } : {}),
        };
        rows.push(row);
        console.log(`${w} worker(s) ${stage}: ${row.wall} s wall, ${row.cpu} s CPU (main ${row.main}, workers ${row.worker_threads?.join('+')}, other ${row.other}), ${row.mvox_per_cpu_s} Mvox/CPU-s, ${row.rss_mb} MB peak${row.identical ? `, identical to ${workersList[0]}w: ${row.identical}` : ''}`);
      }
      // the BullMQ path right after its stage (an interrupted run still has it)
      if (stageArgs(1)[k][0] === redisStage) out.redis = await redisPart(redisStage, stageArgs, rows, workersList);
      save(true);
    }
    // the supervoxel stage's reference on the same boundary map
    let ref: { seconds: number; cpu_seconds: number; segments: number } | undefined;
    if (process.env.PIPELINE_REFERENCE === '0') out.reference_skimage_watershed_2d = 'not run: PIPELINE_REFERENCE=0';
    else try {
      const npy = p('boundaries.npy');
      wiring(['export', path.join(p(`ds${workersList[0]}`), 'boundaries'), npy]);
      ref = JSON.parse(execFileSync('/usr/bin/python3', ['-c', WS_REF, npy], { encoding: 'utf8' }));
      out.reference_skimage_watershed_2d = ref;
    } catch (err) {
      out.reference_skimage_watershed_2d = `not run: ${(err as Error).message.split('\n')[0]}`;
    }
    if (process.env.PIPELINE_REFERENCE !== '0' && process.env.PIPELINE_REFERENCE !== 'watershed') {
      out.references = stageReferences(p, p(`ds${workersList[0]}`), ch(CLASS_VALUES.cleft));
      save(true);
    }
    out.stages = rows;
    out.totals = totalsOf(rows, workersList, voxels, price);
    out.speedups = speedups(rows, workersList);
    out.partial = false;
    out.minutes = +((Date.now() - t0) / 60000).toFixed(1);
    writeDoc(out, rows, out.totals as Array<Record<string, number>>, undefined, ref);
    rmSync(path.join(here, 'out', `${record}.partial.json`), { force: true });
    if (record === 'pipeline') return out;
    writeFileSync(path.join(here, 'out', `${record}.json`), JSON.stringify({ name: 'pipeline', date: new Date().toISOString(), result: out }, null, 2));
    return undefined;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * The chosen stage with the largest worker count again, its blocks through BullMQ (a private
 * redis-server, one `wiring worker` process with as many threads), into a fresh copy of its
 * output; wall and CPU (the run, the worker process and redis-server) beside the local run's.
 */
async function redisPart(stage: string, stageArgs: (w: number) => Array<[string, string[], string[]]>, rows: StageRow[], workersList: number[]): Promise<Record<string, unknown>> {
  const w = workersList[workersList.length - 1];
  const entry = stageArgs(w).find(([s]) => s === stage);
  const local = rows.find((r) => r.stage === stage && r.workers === w);
  if (!entry || !local) return { stage, error: `no stage ${JSON.stringify(stage)} with ${w} workers in this run` };
  const [, args, writes] = entry;
  // the same command writing a copy: the output argument (the layer folder the stage writes) renamed
  const outDir = writes[0];
  if (!outDir) return { stage, error: 'only a stage writing a layer can be compared' };
  const copy = `${outDir}-redis`;
  // the run queues blocks ahead (no --workers: with --redis it defaults to 256 queued at once),
  // so a worker thread that finishes a block takes the next one from Redis at once instead of
  // waiting for the run's next poll; the worker process's --concurrency sets the parallelism
  const rargs = args.map((a) => (a === outDir ? copy : a)).filter((a, i, all) => a !== '--workers' && all[i - 1] !== '--workers');
  let server: Awaited<ReturnType<typeof startRedisWorkers>> | undefined;
  try {
    server = await startRedisWorkers(w);
    const r = wiring([...rargs, '--redis', server.url]);
    const { worker_cpu, redis_cpu } = await server.stop();
    server = undefined;
    const cpu = r.cpu + (worker_cpu ?? NaN) + (redis_cpu ?? 0);
    const identical = folderHash(copy) === folderHash(outDir) ? 'yes' : 'NO';
    const res = { stage, workers: w, wall: +r.wall.toFixed(2), cpu: +cpu.toFixed(2), run_cpu: +r.cpu.toFixed(2), worker_cpu, redis_cpu, local_wall: local.wall, local_cpu: local.cpu, wall_ratio: +(r.wall / local.wall).toFixed(2), cpu_ratio: +(cpu / local.cpu).toFixed(2), identical };
    console.log(`BullMQ ${stage} (${w} threads in one wiring worker): ${res.wall} s wall, ${res.cpu} s CPU (run ${res.run_cpu}, worker ${worker_cpu}, redis ${redis_cpu}); local ${local.wall} s, ${local.cpu} s CPU: ratio wall ${res.wall_ratio}, CPU ${res.cpu_ratio}; identical ${identical}`);
    return res;
  } catch (err) {
    return { stage, error: (err as Error).message.split('\n')[0] };
  } finally {
    await server?.stop();
  }
}

function totalsOf(rows: StageRow[], workersList: number[], voxels: number, price: number): Array<Record<string, number>> {
  return workersList.map((w) => {
    const rs = rows.filter((r) => r.workers === w);
    const wall = rs.reduce((a, r) => a + r.wall, 0);
    const cpu = rs.reduce((a, r) => a + r.cpu, 0);
    const est = rs.reduce((a, r) => a + (r.est_wall ?? NaN), 0);
    const coreHoursPerTvox = (cpu / voxels) * 1e12 / 3600;
    return { workers: w, wall: +wall.toFixed(1), cpu: +cpu.toFixed(1), est_wall: +est.toFixed(1), mvox_per_cpu_s: +(voxels / 1e6 / cpu).toFixed(3), core_hours_per_teravoxel: Math.round(coreHoursPerTvox), dollars_per_teravoxel: Math.round(coreHoursPerTvox * price) };
  });
}

/** Per stage, the last worker count against the first: wall speed-up, CPU-normalised speed-up (estimatedWall), CPU ratio. */
function speedups(rows: StageRow[], workersList: number[]): Array<{ stage: string; wall: number; cpu_normalised?: number; cpu_ratio: number }> {
  if (workersList.length < 2) return [];
  const a = workersList[0], b = workersList[workersList.length - 1];
  const stages = [...new Set(rows.map((r) => r.stage))];
  return stages.flatMap((s) => {
    const x = rows.find((r) => r.stage === s && r.workers === a), y = rows.find((r) => r.stage === s && r.workers === b);
    if (!x || !y) return [];
    return [{ stage: s, wall: +(x.wall / y.wall).toFixed(2), ...(x.est_wall && y.est_wall ? { cpu_normalised: +(x.est_wall / y.est_wall).toFixed(2) } : {}), cpu_ratio: +(y.cpu / x.cpu).toFixed(2) }];
  });
}

/** The generated doc: docs/PIPELINE.md, or PIPELINE_DOC (a path from the repository root; the 1 Gvox run's docs/PIPELINE-1G.md). */
function docPath(): string {
  return path.resolve(root, process.env.PIPELINE_DOC ?? path.join('docs', 'PIPELINE.md'));
}

/** docs/PIPELINE.md from a record this bench wrote (the whole run's, or an interrupted run's partial one). */
function redoc(file: string): void {
  const rec = JSON.parse(readFileSync(file, 'utf8')) as Record<string, any>;
  const out = (rec.result ?? rec) as Record<string, any>;
  const rows = out.stages as StageRow[];
  const ws = [...new Set(rows.map((r) => r.workers))];
  const totals = totalsOf(rows, ws, out.voxels, out.price_per_core_hour);
  const ref = typeof out.reference_skimage_watershed_2d === 'object' ? out.reference_skimage_watershed_2d : undefined;
  writeDoc(out, rows, totals, out.partial ? `partial: ${typeof out.partial === 'string' ? out.partial : `${new Set(rows.map((r) => r.stage)).size} stages`}` : undefined, ref);
  console.log(`${path.relative(root, docPath())} written from ${file}`);
}

/** The references' table of the doc (header): each stage's 1-worker CPU beside its reference's on the same input. */
function referenceTable(refs: Record<string, RefResult> | undefined, ws: { cpu_seconds: number } | undefined, ours: (stage: string) => number | undefined): string[] {
  if (!refs) return [];
  const rows: string[] = [];
  const ratio = (r: number | undefined, o: number | undefined) => (r !== undefined && o ? `**${(r / o).toFixed(2)}x**` : '-');
  // both forests in one pass, or (PIPELINE_PREDICT=separate) the two predict rows together
  const predictParts = ['predict (5 classes + boundaries)', 'predict (5 classes)', 'predict (boundaries)'].map(ours).filter((c): c is number => c !== undefined);
  const pr = refs.predict;
  if (typeof pr === 'object') {
    const c = pr.cpu_seconds as Record<string, number>;
    const o = predictParts.length ? +predictParts.reduce((a, c) => a + c, 0).toFixed(2) : undefined;
    rows.push(`| predict | ${o ?? '-'} | vigra 2-D features (${(pr.sigmas as number[]).join(', ')}; 32 channels, once per section) + two scikit-learn forests of ${pr.trees} trees (trained on the same phantom, ${pr.samples_classes} / ${pr.samples_boundary} samples; training not counted: ${c.train_features} + ${c.fit_classes} + ${c.fit_boundary} s) | ${c.predict} (features ${c.predict_features}, forests ${c.predict_forests}) | ${ratio(c.predict, o)} | pixel AUC against the test phantom's truth (boundary: ${pr.boundary_target}; cleft: its cleft class), ours (uint8 maps) / reference as uint8 (float): boundary ${pr.auc_boundary_ours ?? '-'} / ${pr.auc_boundary_reference_uint8 ?? '-'} (${pr.auc_boundary_reference ?? '-'}), cleft ${pr.auc_cleft_ours ?? '-'} / ${pr.auc_cleft_reference_uint8 ?? '-'} (${pr.auc_cleft_reference ?? '-'}) |`);
  } else if (pr) rows.push(`| predict | - | ${pr} | - | - | - |`);
  if (ws) rows.push(`| supervoxels | ${ours('supervoxels') ?? '-'} | scikit-image watershed per section on our boundary map (Gaussian 1, seeds below 0.1) | ${ws.cpu_seconds.toFixed(2)} | ${ratio(ws.cpu_seconds, ours('supervoxels'))} | seeds and input differ in detail: time only |`);
  const ms = refs.meshes_skeletons;
  if (typeof ms === 'object') {
    rows.push(`| meshes | ${ours('meshes') ?? '-'} | scikit-image marching cubes (Lewiner) per segment of our segmentation, ${ms.n_objects} segments, ${(Number(ms.bbox_voxels) / 1e6).toFixed(0)} Mvox of boxes; no simplification, levels of detail, Draco or files | ${Number(ms.mesh_total_cpu_s).toFixed(2)} | ${ratio(Number(ms.mesh_total_cpu_s), ours('meshes'))} | - |`);
    rows.push(`| skeletons | ${ours('skeletons') ?? '-'} | scikit-image skeletonize_3d (Lee 94 thinning) per segment, the same boxes; no graph, radii or files | ${Number(ms.skel_total_cpu_s).toFixed(2)} | ${ratio(Number(ms.skel_total_cpu_s), ours('skeletons'))} | - |`);
  } else if (ms) rows.push(`| meshes, skeletons | - | ${ms} | - | - | - |`);
  if (!rows.length) return [];
  return [
    'References in the same run, on the same input (after the chain; one thread each; the reference\'s CPU counts its computation only, ours the whole stage with reading and writing layers; reference / ours above 1 = ours faster):',
    '',
    '| stage | ours CPU s (1 worker) | reference | reference CPU s | reference / ours | agreement |',
    '|---|---|---|---|---|---|',
    ...rows,
    '',
  ];
}

function writeDoc(out: Record<string, unknown>, rows: StageRow[], totals: Array<Record<string, number>>, partial?: string, ref?: { seconds: number; cpu_seconds: number }): void {
  const ws = [...new Set(rows.map((r) => r.workers))];
  const stages = [...new Set(rows.map((r) => r.stage))];
  const get = (s: string, w: number) => rows.find((r) => r.stage === s && r.workers === w);
  const two = ws.length > 1;
  const sp = new Map(speedups(rows, ws).map((x) => [x.stage, x]));
  const f = (v: number | undefined) => (v === undefined || Number.isNaN(v) ? '-' : String(v));
  const head = ['stage', ...ws.flatMap((w) => [`wall s (${w}w)`, `CPU s (${w}w)`, `Mvox/CPU-s (${w}w)`, `peak MB (${w}w)`]), ...(two ? [`speed-up wall ${ws[ws.length - 1]}w/${ws[0]}w`, 'speed-up CPU-normalised', `CPU ${ws[ws.length - 1]}w/${ws[0]}w`] : [])];
  const threadHead = ['stage', ...ws.map((w) => `${w}w: main + workers + other = CPU s`), ...(two ? ['identical layers'] : [])];
  const redis = out.redis as Record<string, any> | undefined;
  const lines = [
    '# Whole-pipeline throughput',
    '',
    `Generated by \`npm run bench pipeline\` on ${new Date().toISOString().slice(0, 10)}${partial ? ` (**${partial}**: the run was interrupted; the rows below are the stages it finished)` : ''}; do not edit by hand. Phantom ${(out.size as number[]).join('x')} voxels at 8x8x30 nm (seed 7), pixel models trained on a phantom of seed 101 (${out.train_size}) before the clock starts. ${out.machine}; load average at start ${(out.loadavg_start as number[]).join(', ')} (other jobs on the machine inflate wall times); ${out.minutes} min in all. Each stage ran with ${ws.join(' and ')} worker(s) back to back, each on its own copy of the chain.`,
    '',
    `| ${head.join(' | ')} |`,
    `|${head.map(() => '---').join('|')}|`,
    ...stages.map((s) => {
      const cells = ws.flatMap((w): Array<number | string> => {
        const r = get(s, w);
        return r ? [r.wall, r.cpu, r.mvox_per_cpu_s, r.rss_mb] : ['-', '-', '-', '-'];
      });
      const x = sp.get(s);
      const spc = two ? [x ? x.wall.toFixed(2) : '-', f(x?.cpu_normalised), f(x?.cpu_ratio)] : [];
      return `| ${s} | ${[...cells, ...spc].join(' | ')} |`;
    }),
    '',
    'The CPU-normalised speed-up is the ratio of idle-machine wall times estimated from each run\'s per-thread CPU: max(main thread + busiest worker thread, all CPU / cores) (with 1 worker the blocks run on the main thread, or on one worker thread with WIRING_ONE_WORKER_THREAD=1). Other jobs on the machine stretch wall times but hardly CPU times, so it is the figure to compare across runs; it assumes the main thread\'s work (set-up, global steps) does not overlap the blocks. CPU 2w/1w above 1 is the extra CPU of the second worker.',
    '',
    'CPU seconds by thread: the main thread (the CLI: set-up, the scheduler, global steps, and the blocks with 1 worker unless WIRING_ONE_WORKER_THREAD=1), each block worker thread, and the rest (V8\'s JIT compiler and garbage-collector helper threads, file-system and DuckDB threads).',
    '',
    `| ${threadHead.join(' | ')} |`,
    `|${threadHead.map(() => '---').join('|')}|`,
    ...stages.map((s) => {
      const cells = ws.map((w) => {
        const r = get(s, w);
        if (!r || r.main === undefined) return '-';
        return `${r.main} + ${(r.worker_threads ?? []).length ? `(${r.worker_threads!.join(' + ')})` : '0'} + ${r.other} = ${r.cpu}`;
      });
      const id = two ? [get(s, ws[ws.length - 1])?.identical ?? '-'] : [];
      return `| ${s} | ${[...cells, ...id].join(' | ')} |`;
    }),
    '',
    ...(partial ? [`Totals of the ${stages.length} stages above only (the run was interrupted before the others):`, ''] : []),
    '| workers | wall s | CPU s | estimated idle wall s | Mvox/CPU-s | core-hours per teravoxel | $ per teravoxel |',
    '|---|---|---|---|---|---|---|',
    ...totals.map((t) => `| ${t.workers} | ${t.wall} | ${t.cpu} | ${f(t.est_wall)} | ${t.mvox_per_cpu_s} | ${t.core_hours_per_teravoxel} | ${t.dollars_per_teravoxel} |`),
    '',
    `Cost at $${out.price_per_core_hour} per core-hour. SyConn2 reports 34 Mvox/h per core (0.0094 Mvox/CPU-s) for annotation alone and about $2,000 per teravoxel.`,
    '',
    ...referenceTable(out.references as Record<string, RefResult> | undefined, ref, (st) => get(st, ws[0])?.cpu),
    out.references ? '' : ref ? `Reference in the same run: scikit-image watershed per section on the same boundary map (Gaussian 1, seeds below 0.1): ${ref.seconds.toFixed(2)} s wall, ${ref.cpu_seconds.toFixed(2)} s CPU, beside our supervoxel stage's ${get('supervoxels', ws[0])?.cpu} CPU s (which includes reading and writing the layers).` : partial ? '' : out.reference_skimage_watershed_2d === 'not run: PIPELINE_REFERENCE=0' ? 'Reference: left out of this run (PIPELINE_REFERENCE=0); the same-input ratios are in the 512x512x128 run (docs/PIPELINE.md).' : 'Reference: scikit-image was not available in this run.',
    '',
    ...(redis
      ? redis.error
        ? [`BullMQ path: not measured (${redis.error}).`, '']
        : [
            `BullMQ path, same run: ${redis.stage} with ${redis.workers} workers again, its blocks through a private redis-server to one \`wiring worker --concurrency ${redis.workers}\` process (the run queueing blocks ahead, its default): ${redis.wall} s wall and ${redis.cpu} s CPU (the run ${redis.run_cpu}, the worker ${redis.worker_cpu}, redis-server ${redis.redis_cpu}) against ${redis.local_wall} s and ${redis.local_cpu} s on local threads: **${redis.wall_ratio}x the wall, ${redis.cpu_ratio}x the CPU**; layers identical: ${redis.identical}.`,
            '',
          ]
      : []),
    'Kernel and stage speed-ups behind these figures (connected components, recursive Gaussian features, the mesh stage\'s phases, the pixel forest\'s trees/depth curve), and the scaling work (what the second worker costs and why): [THROUGHPUT.md](THROUGHPUT.md).',
    '',
  ];
  writeFileSync(docPath(), lines.join('\n'));
}
