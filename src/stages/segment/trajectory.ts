/**
 * Training examples for the learned agglomeration, drawn where the agglomeration goes (gala's active
 * learning, Nunez-Iglesias et al. 2013/2014).
 *
 * - `initialEdgeSamples`: every edge of the initial graph whose two supervoxels lie in the ground
 *   truth (what a classifier trained on the region graph alone sees).
 * - `episodeSamples`: replay the agglomeration under a policy (a scorer: mean boundary for the first
 *   round, the previous round's classifier after that) with an oracle: every edge the policy takes
 *   from the queue is labelled by the ground truth and recorded with the features it has at that
 *   moment (grown regions, pooled contacts); the merge happens only when both regions belong to
 *   the same body (gala's "strict" learning mode), so the next edges are those the policy would meet
 *   on a correct trajectory. Label 1 = different bodies (keep apart), 0 = same body.
 */
import { type EdgeState, type Scorer, agglomerate, initState } from './agglomerate.js';
import { type EdgeFeatureSet, EDGE_FEATURE_NAMES, computeEdgeFeatures } from './edge-features.js';
import type { Rag } from './rag.js';

export interface Samples {
  /** sample-major features, n x nFeatures */
  x: Float32Array;
  /** 1 = different bodies */
  y: Uint8Array;
  n: number;
  nFeatures: number;
}

class SampleBuffer {
  private xs: Float32Array;
  private ys: Uint8Array;
  n = 0;
  constructor(readonly nFeatures: number) {
    this.xs = new Float32Array(1024 * nFeatures);
    this.ys = new Uint8Array(1024);
  }
  /** a row to fill for a new sample with label y */
  row(y: number): { x: Float32Array; offset: number } {
    if (this.n === this.ys.length) {
      const x2 = new Float32Array(this.xs.length * 2);
      x2.set(this.xs);
      this.xs = x2;
      const y2 = new Uint8Array(this.ys.length * 2);
      y2.set(this.ys);
      this.ys = y2;
    }
    this.ys[this.n] = y;
    return { x: this.xs, offset: this.n++ * this.nFeatures };
  }
  done(): Samples {
    return { x: this.xs.slice(0, this.n * this.nFeatures), y: this.ys.slice(0, this.n), n: this.n, nFeatures: this.nFeatures };
  }
}

/** Every initial edge between two supervoxels inside the ground truth (body 0 = outside: left out). */
export function initialEdgeSamples(rag: Rag, body: Uint32Array, set: EdgeFeatureSet): Samples {
  const buf = new SampleBuffer(EDGE_FEATURE_NAMES[set].length);
  const s = initState(rag, false);
  for (let e = 0; e < rag.nEdges; e++) {
    const ba = body[rag.u[e]];
    const bb = body[rag.v[e]];
    if (ba === 0 || bb === 0) continue;
    const r = buf.row(ba !== bb ? 1 : 0);
    computeEdgeFeatures(set, s, e, r.x, r.offset);
  }
  return buf.done();
}

export type LearningMode = 'strict' | 'loose';

/**
 * One oracle-guided episode along `policy`'s merge order (see the file comment). `rescore`: rescore
 * a merged region's whole neighbourhood (needed for a learned policy, whose scores depend on sizes).
 * `mode`: 'strict' merges only same-body regions; 'loose' also follows the policy's own merges
 * (score <= `cut`) when they are wrong, so later examples include the states its mistakes lead to
 * (a region's body is then the body holding most of its voxels); above the cut the oracle decides.
 */
export function episodeSamples(rag: Rag, body: Uint32Array, set: EdgeFeatureSet, policy: Scorer, rescore: boolean, mode: LearningMode = 'strict', cut = 0.5): Samples {
  const buf = new SampleBuffer(EDGE_FEATURE_NAMES[set].length);
  // region -> voxels per body (loose mode); strict: a region keeps the body of its supervoxels
  const parent = new Uint32Array(rag.nNodes + 1);
  for (let i = 0; i <= rag.nNodes; i++) parent[i] = i;
  const find = (x: number): number => {
    while (parent[x] !== x) {
      parent[x] = parent[parent[x]];
      x = parent[x];
    }
    return x;
  };
  const votes: Array<Map<number, number> | undefined> = new Array(rag.nNodes + 1);
  const regionBody = Uint32Array.from(body);
  const bodyOf = (x: number): number => (mode === 'strict' ? body[x] : regionBody[find(x)]);
  agglomerate(rag, policy, {
    rescoreNeighbourhood: rescore,
    accept: (s: EdgeState, e: number, a: number, b: number, score: number) => {
      const ba = bodyOf(a);
      const bb = bodyOf(b);
      const known = ba !== 0 && bb !== 0;
      if (known) {
        const r = buf.row(ba !== bb ? 1 : 0);
        computeEdgeFeatures(set, s, e, r.x, r.offset);
      }
      const merge = mode === 'loose' && score <= cut ? true : known && ba === bb;
      if (merge && mode === 'loose') {
        const ra = find(a);
        const rb = find(b);
        const va = votes[ra] ?? new Map([[body[ra], rag.nodeSize[ra]]]);
        const vb = votes[rb] ?? new Map([[body[rb], rag.nodeSize[rb]]]);
        for (const [k, c] of vb) va.set(k, (va.get(k) ?? 0) + c);
        parent[rb] = ra;
        votes[ra] = va;
        votes[rb] = undefined;
        let best = 0;
        let bc = -1;
        for (const [k, c] of va) if (c > bc || (c === bc && k < best)) { best = k; bc = c; }
        regionBody[ra] = best;
      }
      return merge;
    },
  });
  return buf.done();
}

/** Concatenate sample sets of one feature set. */
export function concatSamples(parts: Samples[], nFeatures: number): Samples {
  const n = parts.reduce((a, p) => a + p.n, 0);
  const x = new Float32Array(n * nFeatures);
  const y = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    x.set(p.x.subarray(0, p.n * nFeatures), o * nFeatures);
    y.set(p.y.subarray(0, p.n), o);
    o += p.n;
  }
  return { x, y, n, nFeatures };
}
