// Load test of the HTTP API: a cell's partners (/api/cells/:id/partners) under an open-loop
// load of RATE requests/s for DURATION s on loopback, the server in its own process (as
// `wiring serve` runs). Latency is measured from each request's scheduled send time, so a
// server that falls behind is charged for the queueing (no coordinated omission).
// Input: a synthetic connectome (SERVER_BENCH_CELLS cells, SERVER_BENCH_SYNAPSES synapses with
// random partners). Check: every answer's partner counts add up to the cell's synapse counts
// computed here from the same rows. Target (issue 9): p95 <= 20 ms at 200 requests/s.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { mulberry32 } from '../src/core/random.js';

const RATE = Number(process.env.SERVER_BENCH_RATE ?? 200);
const DURATION = Number(process.env.SERVER_BENCH_SECONDS ?? 10);
const CELLS = Number(process.env.SERVER_BENCH_CELLS ?? 2000);
const SYNAPSES = Number(process.env.SERVER_BENCH_SYNAPSES ?? 200_000);
const TARGET_P95_MS = 20;

// Child mode: serve a dataset and print the address (the load generator must not share the
// server's event loop).
if (process.env.WIRING_BENCH_SERVE) {
  const { buildServer, partnerIndexReady } = await import('../src/server/app.js');
  const app = await buildServer({ dataset: process.env.WIRING_BENCH_SERVE, partnerIndexMaxPairs: process.env.SERVER_BENCH_SQL ? 0 : undefined });
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  await partnerIndexReady(app);
  process.stdout.write(JSON.stringify({ url }) + '\n');
  process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
}

function quantile(sorted: number[], q: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

async function buildDataset(dir: string, rand: () => number): Promise<{ ids: bigint[]; synapsesOf: Map<bigint, { in: number; out: number }>; pairs: number }> {
  const { ConnectomeStore } = await import('../src/connectome/store.js');
  const base = 864691135000000000n;
  const ids = Array.from({ length: CELLS }, (_, i) => base + BigInt(i) * 104729n);
  const types = ['L23', 'L4', 'L5', 'L6', 'BC', 'MC', 'NGC', 'BPC'];
  const synapsesOf = new Map(ids.map((id) => [id, { in: 0, out: 0 }]));
  const pairs = new Set<string>();
  const store = await ConnectomeStore.open(path.join(dir, 'connectome.duckdb'));
  try {
    await store.insertCells(ids.map((id, i) => ({ id, pt_position: [rand() * 1e5, rand() * 1e5, rand() * 4e4], cell_type: types[i % types.length] })));
    const rows = [];
    for (let i = 0; i < SYNAPSES; i++) {
      // skewed partner choice: some cells are hubs
      const pre = ids[Math.floor(rand() ** 2 * CELLS)];
      const post = ids[Math.floor(rand() * CELLS)];
      pairs.add(`${pre}>${post}`);
      synapsesOf.get(pre)!.out++;
      synapsesOf.get(post)!.in++;
      const p = [rand() * 1e5, rand() * 1e5, rand() * 4e4] as const;
      rows.push({ id: BigInt(i + 1), pre_pt_root_id: pre, post_pt_root_id: post, pre_pt_position: p, post_pt_position: p, ctr_pt_position: p, size: 10 + Math.floor(rand() * 500) });
    }
    await store.insertSynapses(rows);
  } finally {
    await store.close();
  }
  return { ids, synapsesOf, pairs: pairs.size };
}

async function startServer(dir: string): Promise<{ url: string; stop: () => void }> {
  const self = fileURLToPath(import.meta.url);
  const child = spawn(process.execPath, ['--import', 'tsx', self], { env: { ...process.env, WIRING_BENCH_SERVE: dir }, stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve, reject) => {
    let buf = '';
    child.stdout.on('data', (d) => {
      buf += d;
      const line = buf.split('\n').find((l) => l.startsWith('{'));
      if (line) resolve(JSON.parse(line).url);
    });
    child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
  return { url, stop: () => child.kill('SIGTERM') };
}

function get(agent: http.Agent, url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
  });
}

/** Open loop: request i is sent at start + i/rate whatever happened to the earlier ones. */
async function openLoop(agent: http.Agent, base: string, ids: bigint[], rate: number, seconds: number, rand: () => number, check?: (id: bigint, body: string) => void) {
  const n = Math.round(rate * seconds);
  const latencies: number[] = [];
  let errors = 0;
  let lateSends = 0;
  const start = performance.now() + 20;
  const pending: Promise<void>[] = [];
  for (let i = 0; i < n; i++) {
    const due = start + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    else if (wait < -5) lateSends++;
    const id = ids[Math.floor(rand() * ids.length)];
    pending.push(
      get(agent, `${base}/api/cells/${id}/partners`).then(
        (r) => {
          latencies.push(performance.now() - due);
          if (r.status !== 200) errors++;
          else check?.(id, r.body);
        },
        () => void errors++,
      ),
    );
  }
  await Promise.all(pending);
  const wall = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  return { requests: n, achievedRate: n / wall, errors, lateSends, p50: quantile(latencies, 0.5), p95: quantile(latencies, 0.95), p99: quantile(latencies, 0.99), max: latencies[latencies.length - 1] };
}

export default async function main() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'wiring-server-bench-'));
  const rand = mulberry32(42);
  try {
    let t = performance.now();
    const { ids, synapsesOf, pairs } = await buildDataset(dir, rand);
    console.log(`dataset: ${CELLS} cells, ${SYNAPSES} synapses, ${pairs} connected pairs (${((performance.now() - t) / 1000).toFixed(1)} s to build)`);
    const server = await startServer(dir);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
    let mismatches = 0;
    const check = (id: bigint, body: string) => {
      const r = JSON.parse(body);
      const want = synapsesOf.get(id)!;
      const got = { in: r.inputs.reduce((s: number, p: { count: number }) => s + p.count, 0), out: r.outputs.reduce((s: number, p: { count: number }) => s + p.count, 0) };
      if (r.id !== id.toString() || got.in !== want.in || got.out !== want.out) mismatches++;
    };
    try {
      await openLoop(agent, server.url, ids, 50, 2, rand); // warm-up
      const load = await openLoop(agent, server.url, ids, RATE, DURATION, rand, check);
      const loadavg = os.loadavg()[0];
      const f = (v: number) => v.toFixed(1);
      console.log(`open loop ${RATE} req/s for ${DURATION} s: ${load.requests} requests, achieved ${f(load.achievedRate)} req/s, ${load.errors} errors, ${mismatches} wrong answers`);
      console.log(`latency ms: p50 ${f(load.p50)}  p95 ${f(load.p95)}  p99 ${f(load.p99)}  max ${f(load.max)}   (target p95 <= ${TARGET_P95_MS} ms: ${load.p95 <= TARGET_P95_MS ? 'met' : 'NOT met'})`);
      console.log(`load average during the run: ${loadavg.toFixed(1)} on ${os.cpus().length} cores`);
      if (mismatches || load.errors) throw new Error(`server bench: ${mismatches} wrong answers, ${load.errors} errors`);
      return { rate: RATE, seconds: DURATION, cells: CELLS, synapses: SYNAPSES, pairs, ...load, targetP95Ms: TARGET_P95_MS, met: load.p95 <= TARGET_P95_MS, loadavg };
    } finally {
      agent.destroy();
      server.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
