// Driver of the reference segmentation chain (bench/refs/ref_seg_chain.py), used by
// bench/seg-chain.bench.ts and test/seg-chain-ref.test.ts.
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const REF_SEG_CHAIN = path.join(here, 'refs', 'ref_seg_chain.py');
export const PY = '/usr/bin/python3';
/** The modules ref_seg_chain.py imports. */
export const REF_SEG_CHAIN_MODULES = ['numpy', 'scipy', 'skimage', 'sklearn', 'vigra'];

/** Run a command; returns stdout and the child's CPU seconds (user + system, from /usr/bin/time). */
export function timed(cmd: string, args: string[]): { stdout: string; cpu: number } {
  const tf = path.join(os.tmpdir(), `segchain-time-${process.pid}-${Math.random().toString(36).slice(2)}`);
  try {
    const stdout = execFileSync('/usr/bin/time', ['-f', '%U %S', '-o', tf, cmd, ...args], { encoding: 'utf8', maxBuffer: 1 << 26, stdio: ['ignore', 'pipe', 'inherit'] });
    const [u, s] = readFileSync(tf, 'utf8').trim().split('\n').pop()!.split(' ').map(Number);
    return { stdout, cpu: +(u + s).toFixed(2) };
  } finally {
    rmSync(tf, { force: true });
  }
}

/**
 * `wiring <args> --json` (bin/wiring.js of this checkout) as a child process, timed: the object it prints
 * (one, possibly indented, at the end of stdout) and the child's CPU seconds.
 */
export function wiringJson<T = Record<string, unknown>>(...args: string[]): { json: T; cpu: number } {
  const r = timed(process.execPath, [path.resolve(here, '../bin/wiring.js'), ...args, '--json']);
  const out = r.stdout.trim();
  const at = out.startsWith('{') ? 0 : out.lastIndexOf('\n{') + 1;
  return { json: JSON.parse(out.slice(at)) as T, cpu: r.cpu };
}

export interface RefSegChainInfo {
  samples: number;
  trees: number;
  dims: number;
  mode: string;
  fold_axis: string;
  chosen: { seeds: string; cut: number; oof_voi_halves: number[] };
  supervoxels: number;
  segments: number;
  oof_best: Array<[string, number, number, number]>;
  cpu_seconds: Record<string, number>;
}

/**
 * Run the reference chain: train on (trainRaw, trainGt) (.npy, (z,y,x)), choose seeds and cut out of
 * fold on the training volume's halves, segment testRaw into `out` (.npy uint32). `args`: more
 * options of the script (--dims, --mode, --train-labels ..., --sigmas).
 */
export function runRefSegChain(o: { trainRaw: string; trainGt: string; testRaw: string; out: string; trees: number; samples: number; seed?: number; args?: string[] }): { info: RefSegChainInfo; cpu: number } {
  const r = timed(PY, [REF_SEG_CHAIN,
    '--train-raw', o.trainRaw, '--train-gt', o.trainGt, '--test-raw', o.testRaw, '--out', o.out,
    '--trees', String(o.trees), '--n-train', String(o.samples), '--seed', String(o.seed ?? 0), ...(o.args ?? [])]);
  return { info: JSON.parse(r.stdout.trim().split('\n').pop()!) as RefSegChainInfo, cpu: r.cpu };
}
