// Test support for the scheduler: a throw-away redis-server, child processes running TypeScript.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, promises as fs, mkdtempSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomInt } from 'node:crypto';
import { type Vec3, boxFromShape } from '../core/box.js';
import { mulberry32 } from '../core/random.js';
import { Volume } from '../core/volume.js';
import { writeNpy } from '../formats/npy.js';
import { PrecomputedLayer, makeInfo } from '../formats/precomputed/index.js';
import type { BlockTask } from './types.js';

export const REDIS_SERVER = '/usr/bin/redis-server';
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

async function waitPort(port: number, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const ok = await new Promise<boolean>((resolve) => {
      const c = net.connect(port, '127.0.0.1');
      c.once('connect', () => {
        c.write('PING\r\n');
      });
      c.once('data', (d) => {
        c.destroy();
        resolve(d.toString().startsWith('+PONG'));
      });
      c.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`redis-server on port ${port} did not answer within ${ms} ms`);
}

/** A redis-server on a free loopback port, no persistence, in its own temp folder. Throws when redis-server is missing. */
export class TestRedis {
  private proc?: ChildProcess;
  /** Resolves when the current server process has exited (set at spawn, so it never misses the event). */
  private exited?: Promise<unknown>;
  readonly dir = mkdtempSync(path.join(os.tmpdir(), 'wiring-redis-'));
  private constructor(readonly port: number) {}

  static async start(): Promise<TestRedis> {
    if (!existsSync(REDIS_SERVER)) {
      throw new Error(`${REDIS_SERVER} is missing: the Redis tests need Debian's redis-server (apt-get install redis-server)`);
    }
    const r = new TestRedis(await freePort());
    await r.up();
    return r;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async up(): Promise<void> {
    this.proc = spawn(REDIS_SERVER, ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', this.dir], {
      stdio: 'ignore',
    });
    const p = this.proc;
    this.exited = new Promise((r) => p.once('exit', r));
    await waitPort(this.port, 10_000);
  }

  /**
   * SIGKILL the server (all queued data is lost: no persistence). Idempotent: a second call, or
   * one after the server died by itself, returns once the process has exited (a process killed
   * by a signal keeps exitCode null, so testing exitCode alone waited for an exit already past).
   */
  async kill(): Promise<void> {
    const p = this.proc;
    if (!p) return;
    if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    await this.exited;
  }

  async stop(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Spawn `node --import tsx <script> ...args` from the repository root. */
export function spawnTs(script: string, args: string[], opts: { onStdout?: (line: string) => void } = {}): ChildProcess & { exited: Promise<number | null> } {
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let buf = '';
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      opts.onStdout?.(line);
    }
  });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
    if (err.length > 20000) err = err.slice(-10000);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return Object.assign(child, { exited, get stderrText() { return err; } });
}

export const WORKER_SCRIPT = path.join(ROOT, 'src/cli/commands/worker.ts');
export const RUN_SCRIPT = path.join(ROOT, 'src/scheduler/run-process.ts');

/** Start `wiring worker` (the CLI command) as a child process and wait until it is ready. */
export async function startWorkerProcess(url: string, opts: { concurrency?: number; lockMs?: number; queue?: string } = {}) {
  let ready!: () => void;
  const isReady = new Promise<void>((r) => (ready = r));
  const child = spawnTs(
    WORKER_SCRIPT,
    ['--redis', url, '--concurrency', String(opts.concurrency ?? 1), '--lock-duration', String(opts.lockMs ?? 1000), '--json', ...(opts.queue ? ['--queue', opts.queue] : [])],
    { onStdout: (l) => l.includes('"ready"') && ready() },
  );
  await Promise.race([
    isReady,
    child.exited.then((c) => {
      throw new Error(`worker exited early (${c}): ${(child as unknown as { stderrText: string }).stderrText}`);
    }),
  ]);
  return child;
}

export async function killProcess(child: ChildProcess & { exited: Promise<number | null> }): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGKILL');
  await child.exited;
}

export async function waitFor(cond: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const until = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > until) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Every file under `dir` (relative path -> bytes), leaving out the state folder and temp files. */
export async function snapshot(dir: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  const walk = async (d: string) => {
    for (const e of await fs.readdir(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (!/\.tmp-/.test(e.name)) out.set(path.relative(dir, p), await fs.readFile(p));
    }
  };
  await walk(dir);
  return out;
}

export function expectSameFiles(a: Map<string, Buffer>, b: Map<string, Buffer>, what: string): void {
  const ka = [...a.keys()].sort().join('\n');
  const kb = [...b.keys()].sort().join('\n');
  if (ka !== kb) throw new Error(`${what}: different files:\n${ka}\n---\n${kb}`);
  for (const [k, v] of a) if (!v.equals(b.get(k)!)) throw new Error(`${what}: ${k} differs`);
}


/** Deterministic pseudo-random volume (xorshift). */
export function noise(dtype: 'uint8' | 'uint16' | 'uint64', shape: Vec3, seed = 7, max = 1000): Volume {
  const v = Volume.zeros(dtype, shape);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < v.data.length; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    const x = s % max;
    if (dtype === 'uint64') (v.data as BigUint64Array)[i] = BigInt(x);
    else (v.data as Uint16Array)[i] = x;
  }
  return v;
}

/** A uint16 input volume: an .npy file (read through openSource) or a precomputed layer folder. */
export async function makeInput(dir: string, shape: Vec3, form: 'npy' | 'precomputed' = 'npy'): Promise<string> {
  const vol = noise('uint16', shape);
  if (form === 'npy') {
    const file = path.join(dir, 'in.npy');
    await writeNpy(file, vol);
    return file;
  }
  const layerDir = path.join(dir, 'in-layer');
  const layer = await PrecomputedLayer.create(layerDir, makeInfo({ type: 'image', dtype: 'uint16', shape, voxelSize: [4, 4, 40], chunkSize: [8, 8, 8] }));
  await layer.writeBox(vol);
  return layerDir;
}

export async function makeOutput(dir: string, shape: Vec3, chunk: Vec3 = [4, 4, 4]): Promise<string> {
  await PrecomputedLayer.create(dir, makeInfo({ type: 'image', dtype: 'float32', shape, voxelSize: [4, 4, 40], chunkSize: chunk }));
  return dir;
}

export function filterTask(input: string, layer: string, shape: Vec3, blockShape: Vec3, params: object = {}): BlockTask {
  return {
    name: 'filter',
    module: new URL('./fixtures.ts', import.meta.url).href,
    fn: 'boxFilter',
    params,
    inputs: { in: input },
    outputs: { out: { layer } },
    bounds: boxFromShape(shape),
    blockShape,
    margin: [1, 1, 1],
  };
}


/**
 * Seeded randomness for a test's random choices (kill points): the seed is WIRING_TEST_SEED when
 * set, else a fresh one; it is printed, and `tag` goes into assertion messages, so a failure can
 * be replayed with WIRING_TEST_SEED=<seed>.
 */
export function seededRandom(test: string): { seed: number; random: () => number; tag: string } {
  const env = process.env.WIRING_TEST_SEED;
  const seed = env !== undefined && env !== '' ? Number(env) >>> 0 : randomInt(2 ** 32 - 1);
  const tag = `${test} (replay with WIRING_TEST_SEED=${seed})`;
  console.log(`seed ${seed}: ${test}`);
  return { seed, random: mulberry32(seed), tag };
}
