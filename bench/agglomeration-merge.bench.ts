// `npm run bench agglomeration-merge`: the greedy merge on typed arrays (src/stages/segment/agglomerate.ts)
// against the merge it replaced, a Map per region with copied edge statistics (test/agglomerate-maps.ts,
// the code as of commit 9e2a645), on the same region graphs in one run: the merge trees must be the
// same (merge for merge, score for score), and the CPU seconds of each are printed with their ratio
// (rounds alternate old and new; the median is kept).
// Graphs: gala-medulla (p1 boundaries, an over-segmentation of ours: minima seeds) with the mean and
// the quantile scores; MERGE_STATE=<a `wiring agglomerate --block` layer's .wiring-run> adds the
// graph merged from its rag block records (e.g. the 512x512x256 phantom of docs/THROUGHPUT.md).
// MERGE_ROUNDS (default 3).
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { iterateBlockData } from '../src/scheduler/index.js';
import { type MergeTree, type Scorer, agglomerate, meanScorer, quantileScorer } from '../src/stages/segment/agglomerate.js';
import { mergeBlockRagStream } from '../src/stages/segment/blockwise.js';
import { readWhole } from '../src/stages/segment/io.js';
import { boundaryMaps, computeSupervoxels } from '../src/stages/segment/pipeline.js';
import { type Rag, buildRag } from '../src/stages/segment/rag.js';
import { agglomerateWithMaps } from '../test/agglomerate-maps.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const DATA = process.env.WIRING_DATA ?? path.resolve(here, '../../shared/data');
const ROUNDS = Number(process.env.MERGE_ROUNDS ?? 3);
const cpu = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function same(a: MergeTree, b: MergeTree): boolean {
  if (a.count !== b.count) return false;
  for (let m = 0; m < a.count; m++) if (a.a[m] !== b.a[m] || a.b[m] !== b.b[m] || !Object.is(a.score[m], b.score[m])) return false;
  return true;
}

function compare(graph: string, rag: Rag, scoreName: string, scorer: Scorer): Record<string, unknown> {
  const old: number[] = [];
  const now: number[] = [];
  let agree = true;
  for (let r = 0; r < ROUNDS; r++) {
    let t = cpu();
    const a = agglomerateWithMaps(rag, scorer);
    old.push(cpu() - t);
    t = cpu();
    const b = agglomerate(rag, scorer);
    now.push(cpu() - t);
    agree &&= same(a, b);
  }
  if (!agree) throw new Error(`${graph}, ${scoreName}: the compact merge's tree differs from the Map merge's`);
  const row = { graph, score: scoreName, nodes: rag.nNodes, edges: rag.nEdges, maps_cpu_s: +median(old).toFixed(3), compact_cpu_s: +median(now).toFixed(3), speedup: +(median(old) / median(now)).toFixed(2), same_tree: agree };
  console.log(`${graph} (${rag.nNodes} nodes, ${rag.nEdges} edges), ${scoreName}: Map merge ${row.maps_cpu_s} s, compact ${row.compact_cpu_s} s CPU (${row.speedup}x), same tree`);
  return row;
}

export default async function run(): Promise<unknown> {
  const rows: unknown[] = [];
  const gala = path.join(DATA, 'gala-medulla');
  if (existsSync(gala)) {
    const { vol: p1 } = await readWhole(`${path.join(gala, 'train-p1.h5')}#stack`);
    const maps = boundaryMaps(p1);
    const sv = computeSupervoxels(maps, { seeds: 'minima', seedSigma: 1, minSize: 4 });
    const rag = buildRag(sv.labels, maps.boundary, maps.shape);
    rows.push(compare('gala-medulla p1, minima supervoxels', rag, 'mean', meanScorer));
    rows.push(compare('gala-medulla p1, minima supervoxels', rag, 'quantile 0.5', quantileScorer(0.5)));
  } else console.log(`[skip] gala: ${gala} not found`);
  const state = process.env.MERGE_STATE;
  if (state) {
    const { rag } = await mergeBlockRagStream(async function* () {
      for await (const r of iterateBlockData(state, 'rag')) yield r.data;
    }, { histograms: false });
    rows.push(compare(`rag records of ${state}`, rag, 'mean', meanScorer));
  }
  return { rounds: ROUNDS, rows, load_average: (await import('node:os')).loadavg() };
}
