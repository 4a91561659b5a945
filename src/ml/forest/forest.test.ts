import { describe, expect, it } from 'vitest';
import { _useJsWalk, _useLockstepWalk, _usePackedWalk, COMPLETE_MAX_DEPTH, Forest, makeRng, treeDepths } from './index.js';
import { completeLayout } from './complete.js';
import { _useGenericWalk, _useRankSearch, _useRanksInPlace, _useSubtractStep, RANK_TABLE_MAX_RUN, rankTable, rowScratchBytes, specialisedWalk, wasmWalkAvailable } from './wasm.js';
import { assembleModule, webAssembly } from '../wat.js';
import { predictProbaParallel, trainForest } from './parallel.js';

/** 3 Gaussian blobs in 2-D + 3 noise features; feature-major layout. */
function blobs(n: number, seed: number): { x: Float32Array; y: Uint8Array } {
  const rng = makeRng(seed, 99);
  const u = (): number => (rng() + 0.5) / 2 ** 32;
  const gauss = (): number => Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
  const F = 5;
  const x = new Float32Array(n * F);
  const y = new Uint8Array(n);
  const centres = [[0, 0], [3, 0], [0, 3]];
  for (let i = 0; i < n; i++) {
    const c = i % 3;
    y[i] = c;
    x[i] = centres[c][0] + gauss() * 0.7;
    x[n + i] = centres[c][1] + gauss() * 0.7;
    for (let f = 2; f < F; f++) x[f * n + i] = gauss();
  }
  return { x, y };
}

function accuracy(prob: Float32Array, y: Uint8Array, K: number): number {
  const n = y.length;
  let ok = 0;
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let k = 1; k < K; k++) if (prob[k * n + i] > prob[best * n + i]) best = k;
    if (best === y[i]) ok++;
  }
  return ok / n;
}

const GOLDEN = ['8bdb6afb', '8bdb6afb', 'f60496dc', 'f60496dc', 'fd7b3377'];

/** Bit-for-bit equality of two predictions (the bytes of their views). */
const sameBits = (a: Float32Array, b: Float32Array): boolean => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

/** What a fresh copy of `f` (no layout or walker built yet) predicts for `x`, with the walk switches `on` turned on (each turned off again after, even on a throw). */
function predictedWith(f: Forest, x: Float32Array, n: number, on: ReadonlyArray<(v: boolean) => void> = []): Float32Array {
  for (const s of on) s(true);
  try {
    return new Forest(f.nFeatures, f.nClasses, f.trees, f.params).predictProba(x, n);
  } finally {
    for (const s of on) s(false);
  }
}

describe('random forest', () => {
  const train = blobs(3000, 1);
  const test = blobs(3000, 2);
  const data = { x: train.x, nSamples: 3000, nFeatures: 5, layout: 'feature-major' as const, y: train.y, nClasses: 3 };

  it('learns separable multi-class data and ranks informative features first', () => {
    const f = Forest.train(data, { nTrees: 30, seed: 5 });
    const acc = accuracy(f.predictProba(test.x, 3000), test.y, 3);
    expect(acc).toBeGreaterThan(0.93);
    const imp = f.importances();
    expect(imp[0] + imp[1]).toBeGreaterThan(0.6);
    expect(imp.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 9);
    // probabilities sum to 1
    const p = f.predictProba(test.x, 3000);
    for (let i = 0; i < 3000; i += 97) expect(p[i] + p[3000 + i] + p[6000 + i]).toBeCloseTo(1, 5);
    // sample-major layout gives the same
    const sm = new Float32Array(3000 * 5);
    for (let i = 0; i < 3000; i++) for (let k = 0; k < 5; k++) sm[i * 5 + k] = test.x[k * 3000 + i];
    expect(Array.from(f.predictProba(sm, 3000, 'sample-major'))).toEqual(Array.from(p));
  });

  it('predicts exactly what a plain walk over the float thresholds gives', () => {
    const f = Forest.train(data, { nTrees: 7, seed: 2 });
    const { roots, feature, threshold, child, leafProb } = f.trees;
    const p = f.predictProba(test.x, 3000);
    for (let i = 0; i < 3000; i += 13) {
      const acc = [0, 0, 0];
      for (const r of roots) {
        let node = r;
        while (feature[node] >= 0) node = child[node] + (test.x[feature[node] * 3000 + i] <= threshold[node] ? 0 : 1);
        for (let k = 0; k < 3; k++) acc[k] += leafProb[child[node] * 3 + k];
      }
      for (let k = 0; k < 3; k++) expect(p[k * 3000 + i]).toBeCloseTo(acc[k] / 7, 6);
    }
    // values exactly on a threshold go left
    const t0 = threshold[roots[0]];
    const fx = feature[roots[0]];
    const probe = new Float32Array(5);
    probe[fx] = t0;
    const q = f.predictProba(probe, 1, 'sample-major');
    const acc = [0, 0, 0];
    for (const r of roots) {
      let node = r;
      while (feature[node] >= 0) node = child[node] + (probe[feature[node]] <= threshold[node] ? 0 : 1);
      for (let k = 0; k < 3; k++) acc[k] += leafProb[child[node] * 3 + k];
    }
    for (let k = 0; k < 3; k++) expect(q[k]).toBeCloseTo(acc[k] / 7, 6);
  });

  it('takes the compact walk when features use all 255 thresholds of their 256 training bins, with the plain walk\'s bits', () => {
    // 256 bins give up to 255 thresholds per feature; such forests (every deep pixel forest) used
    // to fall back to the slower packed walk.
    // classes in thin stripes of feature 0: nearly every bin edge becomes a threshold
    const n = 20000;
    const rng = makeRng(8, 1);
    const x = new Float32Array(n * 5);
    const y = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      for (let f = 0; f < 5; f++) x[f * n + i] = rng() / 2 ** 32;
      y[i] = Math.floor(x[i] * 400) % 3;
    }
    const f = Forest.train({ ...data, x, nSamples: n, y }, { nTrees: 4, seed: 8 });
    const layout = f.predictionLayout();
    expect(layout).not.toBeNull();
    expect(Math.max(...layout!.edges.map((e) => e.length))).toBe(255);
    const { roots, feature, threshold, child, leafProb } = f.trees;
    const p = f.predictProba(test.x, 3000);
    const T = roots.length;
    for (let i = 0; i < 3000; i++) {
      const acc = new Float32Array(3); // float32 sums in tree order, as the walks keep them
      for (const r of roots) {
        let node = r;
        while (feature[node] >= 0) node = child[node] + (test.x[feature[node] * 3000 + i] <= threshold[node] ? 0 : 1);
        for (let k = 0; k < 3; k++) acc[k] += leafProb[child[node] * 3 + k];
      }
      for (let k = 0; k < 3; k++) expect(p[k * 3000 + i]).toBe(Math.fround(acc[k] * (1 / T)));
    }
    // the packed walk (the benches' 'before') gives the same bits
    _usePackedWalk(true);
    try {
      expect(Buffer.from(f.predictProba(test.x, 3000).buffer).equals(Buffer.from(p.buffer))).toBe(true);
    } finally {
      _usePackedWalk(false);
    }
  });

  it('predictions of a seeded forest are fixed (bit for bit)', () => {
    // FNV-1a over the output bytes; the values were recorded before the prediction code was
    // rewritten, so any change to the walk or the accumulation order shows up here.
    const fnv = (a: Float32Array): string => {
      const b = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
      let h = 0x811c9dc5;
      for (let i = 0; i < b.length; i++) h = Math.imul(h ^ b[i], 0x01000193) >>> 0;
      return h.toString(16);
    };
    const big = blobs(9001, 4); // several prediction chunks and a ragged tail
    const sm = new Float32Array(9001 * 5);
    for (let i = 0; i < 9001; i++) for (let f = 0; f < 5; f++) sm[i * 5 + f] = big.x[f * 9001 + i];
    const f = Forest.train(data, { nTrees: 9, seed: 21 });
    const deep = Forest.train({ ...data, x: big.x, nSamples: 9001, y: big.y }, { nTrees: 5, seed: 22 });
    const got = [
      fnv(f.predictProba(big.x, 9001)), fnv(f.predictProba(sm, 9001, 'sample-major')),
      fnv(deep.predictProba(big.x, 9001)), fnv(deep.predictProba(sm, 9001, 'sample-major')),
      fnv(f.predictProba(big.x.subarray(0, 5 * 3), 3)),
    ];
    expect(got).toEqual(GOLDEN);
  });

  it('the WebAssembly walk gives the same bits as the JS walk (ragged tails, several tiles, one sample)', () => {
    expect(wasmWalkAvailable()).toBe(true); // else both runs below would be the JS walk
    const big = blobs(40001, 6); // two 32768-sample tiles, a tail that is not a multiple of 8 lanes
    const f = Forest.train(data, { nTrees: 6, seed: 3 });
    for (const n of [1, 7, 8, 9, 40001]) expect(sameBits(predictedWith(f, big.x.subarray(0, 5 * n), n), predictedWith(f, big.x.subarray(0, 5 * n), n, [_useJsWalk]))).toBe(true);
  });

  it('the walks specialised to the forest\'s row length and class count (SIMD sums of 4, 2 and 1 classes) give the generic walks\' bits', () => {
    const big = blobs(40001, 8); // two tiles, a tail that is not a multiple of 8 lanes
    for (const K of [2, 3, 5, 7, 8]) {
      // K classes: the blob's class, refined by the sign of noise features so every class occurs
      const y = Uint8Array.from(train.y, (c, i) => (c + 3 * (train.x[2 * 3000 + i] > 0 ? 1 : 0) + (train.x[3 * 3000 + i] > 0.5 ? 1 : 0)) % K);
      for (const F of [5, 3]) {
        const x = train.x.subarray(0, F * 3000);
        // deep trees (lockstep walk) and shallow ones (complete walk) in one forest
        const deep = Forest.train({ x, nSamples: 3000, nFeatures: F, layout: 'feature-major', y, nClasses: K }, { nTrees: 3, seed: K });
        const shallow = Forest.train({ x, nSamples: 3000, nFeatures: F, layout: 'feature-major', y, nClasses: K }, { nTrees: 3, seed: K + 1, maxDepth: 5 });
        expect(specialisedWalk(F + 1, K)).toBe(true);
        expect(Math.max(...treeDepths(deep.trees))).toBeGreaterThan(COMPLETE_MAX_DEPTH); // else no tree would take the lockstep walk
        for (const f of [deep, shallow]) {
          for (const n of [1, 9, 40001]) {
            const xs = big.x.subarray(0, F * n);
            const spec = predictedWith(f, xs, n);
            for (const on of [[_useGenericWalk], [_useJsWalk]]) expect(sameBits(spec, predictedWith(f, xs, n, on))).toBe(true);
          }
        }
      }
    }
    _useGenericWalk(true);
    try {
      expect(specialisedWalk(6, 3)).toBe(false);
    } finally {
      _useGenericWalk(false);
    }
  });

  it('the lockstep walk (rank rows copied to address 0, the carry step over flipped bins) gives the bits of the walk before (rows in place, subtract step), of each change alone and of the JS walk (rows of 4 to 41 bytes, tails)', () => {
    for (const [F, K] of [[3, 2], [15, 5], [32, 5], [40, 3]]) {
      // F features of uniform noise, the class from a few of them: deep trees over many features
      const n0 = 4000;
      const rng = makeRng(F, K);
      const x = Float32Array.from({ length: F * n0 }, () => rng() / 2 ** 32);
      const y = Uint8Array.from({ length: n0 }, (_, i) => Math.floor(K * ((x[i] + x[(F - 1) * n0 + i] + 0.3 * x[Math.floor(F / 2) * n0 + i]) / 2.3)) % K);
      const f = Forest.train({ x, nSamples: n0, nFeatures: F, layout: 'feature-major', y, nClasses: K }, { nTrees: 3, seed: F });
      expect(Math.max(...treeDepths(f.trees))).toBeGreaterThan(COMPLETE_MAX_DEPTH); // the lockstep walk, not the complete one
      expect(rowScratchBytes(F + 1)).toBeGreaterThanOrEqual(7 * (F + 1) + 256); // a leaf lane reads 'feature 255' of its copied row
      const xt = Float32Array.from({ length: F * 40001 }, () => rng() / 2 ** 32);
      for (const n of [1, 9, 17, 40001]) {
        const xs = new Float32Array(F * n);
        for (let j = 0; j < F; j++) xs.set(xt.subarray(j * 40001, j * 40001 + n), j * n);
        const copied = predictedWith(f, xs, n);
        // the walk before (rows in place and the subtract step), each change alone, the JS walk
        for (const on of [[_useRanksInPlace, _useSubtractStep], [_useRanksInPlace], [_useSubtractStep], [_useJsWalk]]) expect(sameBits(copied, predictedWith(f, xs, n, on))).toBe(true);
      }
    }
  });

  it('rank tables give the search\'s ranks: thresholds close together, around zero, huge and tiny; values at and beside them, NaN, infinities, signed zeros', () => {
    const f32 = (v: number): number => Math.fround(v);
    const e = Float32Array.from([-3e38, -1.5, -1e-40, 0, 1e-45, 1, f32(1 + 2 ** -23), f32(1 + 2 ** -22), f32(1 + 2 ** -21), 2, 3e38]);
    const padded = new Float32Array(255 + RANK_TABLE_MAX_RUN).fill(Infinity);
    padded.set(e);
    const lo = new Uint8Array(65536);
    const run = rankTable(padded, e.length, lo);
    expect(run).toBe(4); // 1 .. 1 + 2^-21 share a bucket
    const u = new Uint32Array(1);
    const fl = new Float32Array(u.buffer);
    const byTable = (v: number): number => {
      fl[0] = v;
      const b = u[0];
      const key = (b ^ ((b >> 31) | 0x80000000)) >>> 16;
      let j = lo[key];
      const l0 = j;
      for (let c = 0; c < run; c++) j += padded[l0 + c] < fl[0] ? 1 : 0;
      return Number.isNaN(fl[0]) ? 0 : j;
    };
    const bySearch = (v: number): number => e.filter((t) => t < Math.fround(v)).length; // NaN: 0
    const next = (v: number, d: 1 | -1): number => {
      fl[0] = v;
      if (v === 0) return d * 1e-45;
      u[0] += (v > 0) === (d > 0) ? 1 : -1;
      return fl[0];
    };
    const values = [NaN, -NaN, Infinity, -Infinity, 0, -0, 1e-45, -1e-45, 1e-38, -1e-38, 0.5, 7, -7, 1e30, -1e30];
    for (const t of e) values.push(t, next(t, 1), next(t, -1));
    for (let i = 0; i < 2000; i++) values.push(Math.sin(i) * 10 ** ((i % 20) - 10));
    for (const v of values) expect([v, byTable(v)]).toEqual([v, bySearch(v)]);
    // a NaN threshold: no table (the search ranks)
    const bad = Float32Array.from([1, NaN]);
    expect(rankTable(bad, 2, lo)).toBe(Infinity);
  });

  it('ranks through the tables in WebAssembly with the search\'s bits (runs of close thresholds, a feature beyond the tables\' run, special values)', () => {
    const n = 4000;
    const rng = makeRng(21, 1);
    const u = (): number => (rng() + 0.5) / 2 ** 32;
    const F = 4;
    const x = new Float32Array(n * F);
    const y = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      x[i] = Math.fround(1 + Math.floor(u() * 4) * 2 ** -22); // 4 values in one bucket: thresholds in a run
      x[n + i] = Math.fround(1 + Math.floor(u() * 40) * 2 ** -22); // 40: a run longer than the tables take
      x[2 * n + i] = (u() - 0.5) * 1e-40; // denormals around zero
      x[3 * n + i] = 10 ** (u() * 20 - 10) * (u() < 0.5 ? -1 : 1);
      y[i] = ((x[i] > 1 + 2 ** -21 ? 1 : 0) + (x[n + i] > 1 + 20 * 2 ** -22 ? 1 : 0) + (x[2 * n + i] > 0 ? 1 : 0) + (x[3 * n + i] > 1 ? 1 : 0) + (u() < 0.1 ? 1 : 0)) % 3;
    }
    const f = Forest.train({ x, nSamples: n, nFeatures: F, layout: 'feature-major', y, nClasses: 3 }, { nTrees: 4, seed: 5 });
    // queries: the training values, every threshold and its float neighbours, special values
    const q: number[][] = Array.from({ length: F }, (_, k) => Array.from(x.subarray(k * n, k * n + 500)));
    for (let i = 0; i < f.nNodes; i++) {
      const k = f.trees.feature[i];
      if (k >= 0) q[k].push(f.trees.threshold[i], f.trees.threshold[i] * (1 + 2 ** -23), f.trees.threshold[i] * (1 - 2 ** -24));
    }
    for (const k of q) k.push(NaN, Infinity, -Infinity, 0, -0, 1e-45, -1e-45);
    const m = Math.max(...q.map((a) => a.length));
    const xs = new Float32Array(m * F);
    q.forEach((a, k) => a.forEach((v, i) => (xs[k * m + i] = v)));
    const table = predictedWith(f, xs, m);
    for (const on of [[_useRankSearch], [_useJsWalk]]) expect(sameBits(table, predictedWith(f, xs, m, on))).toBe(true);
    // the first feature's thresholds share a bucket (a run > 1), the second's run is past the tables' limit
    const c = f.predictionLayout()!;
    const runOf = (k: number): number => {
      const p = new Float32Array(255).fill(Infinity);
      p.set(c.edges[k]);
      return rankTable(p, c.edges[k].length, new Uint8Array(65536));
    };
    expect(runOf(0)).toBeGreaterThan(1);
    expect(runOf(0)).toBeLessThanOrEqual(RANK_TABLE_MAX_RUN);
    expect(runOf(1)).toBeGreaterThan(RANK_TABLE_MAX_RUN);
  });

  it('walks shallow trees as complete trees with the plain walk\'s bits (padded short leaves, mixed forests, JS and WebAssembly)', () => {
    const big = blobs(40001, 7); // two tiles, a tail that is not a multiple of 8 lanes
    const plain = (f: Forest, x: Float32Array, n: number): Float32Array => {
      const { roots, feature, threshold, child, leafProb } = f.trees;
      const out = new Float32Array(n * 3);
      for (let i = 0; i < n; i++) {
        const acc = new Float32Array(3); // float32 sums in tree order, as the walks keep them
        for (const r of roots) {
          let node = r;
          while (feature[node] >= 0) node = child[node] + (x[feature[node] * n + i] <= threshold[node] ? 0 : 1);
          for (let k = 0; k < 3; k++) acc[k] += leafProb[child[node] * 3 + k];
        }
        for (let k = 0; k < 3; k++) out[k * n + i] = Math.fround(acc[k] * (1 / roots.length));
      }
      return out;
    };
    const run = (f: Forest, x: Float32Array, n: number, o: { js?: boolean; lockstep?: boolean } = {}): Float32Array => {
      _useJsWalk(!!o.js);
      _useLockstepWalk(!!o.lockstep);
      try {
        return f.predictProba(x, n);
      } finally {
        _useJsWalk(false);
        _useLockstepWalk(false);
      }
    };
    // depth 6: leaves at many levels (minSamplesLeaf), so padding below short leaves is exercised
    const shallow = Forest.train(data, { nTrees: 5, seed: 11, maxDepth: 6, minSamplesLeaf: 40 });
    const depths = Array.from(treeDepths(shallow.trees));
    expect(Math.max(...depths)).toBe(6);
    const layout = shallow.predictionLayout()!;
    expect(Array.from(layout.complete!.depth)).toEqual(depths);
    // leaves above level 6 exist (else the padding would go untested)
    const leaves = shallow.trees.feature.filter((f) => f < 0).length;
    expect(leaves).toBeLessThan(5 * 2 ** 6);
    for (const n of [1, 7, 8, 9, 40001]) {
      const x = big.x.subarray(0, 5 * n);
      const want = plain(shallow, x, n);
      expect(sameBits(run(shallow, x, n), want), `wasm, n = ${n}`).toBe(true);
      expect(sameBits(run(shallow, x, n, { js: true }), want), `js, n = ${n}`).toBe(true);
      expect(sameBits(run(shallow, x, n, { lockstep: true }), want), `lockstep, n = ${n}`).toBe(true);
    }
    // a forest of deep and shallow trees: only the trees within the limit take the complete walk
    const deep = Forest.train(data, { nTrees: 6, seed: 12 });
    const d = treeDepths(deep.trees);
    const limit = [...d].sort((a, b) => a - b)[2]; // about half the trees fit
    expect(Math.max(...d)).toBeGreaterThan(limit);
    const own = deep.predictionLayout()!;
    const mixed = completeLayout(deep.trees, own.words, limit)!;
    expect(Array.from(mixed.depth)).toEqual(Array.from(d, (v) => (v <= limit ? v : 0)));
    const g = new Forest(deep.nFeatures, deep.nClasses, deep.trees, deep.params);
    g.usePredictionLayout({ ...own, complete: mixed });
    const want = plain(deep, big.x, 40001);
    expect(sameBits(run(g, big.x, 40001), want)).toBe(true);
    expect(sameBits(run(g, big.x, 40001, { js: true }), want)).toBe(true);
    // with the default limit, exactly the trees within COMPLETE_MAX_DEPTH are complete
    expect(Array.from(own.complete?.depth ?? new Int32Array(d.length))).toEqual(Array.from(d, (v) => (v <= COMPLETE_MAX_DEPTH ? v : 0)));
  });

  it('the kernel assembler names what it cannot assemble', () => {
    const fn = (body: string) => ({ name: 'f', params: ['$a'], locals: ['$b'], body });
    expect(() => assembleModule([fn('(local.set $c (i32.const 1))')])).toThrow(/f: unknown local \$c/);
    expect(() => assembleModule([fn('(br $nowhere)')])).toThrow(/unknown label \$nowhere/);
    expect(() => assembleModule([fn('(i64.add (local.get $a) (local.get $b))')])).toThrow(/unsupported instruction i64.add/);
    expect(() => assembleModule([fn('(local.set $b (i32.const 1)')])).toThrow(/unbalanced/);
    // a valid function runs: b = a * 3 - 100000 stored at address 0
    const wa = webAssembly!;
    const mem = new wa.Memory({ initial: 1 });
    const bytes = assembleModule([fn('(local.set $b (i32.add (i32.mul (local.get $a) (i32.const 3)) (i32.const -100000))) (i32.store (i32.const 0) (local.get $b))')]);
    (new wa.Instance(new wa.Module(bytes), { env: { mem } }).exports.f as (a: number) => void)(50000);
    expect(new Int32Array(mem.buffer)[0]).toBe(50000);
  });

  it('is deterministic from the seed and identical for 1 and 2 threads', async () => {
    const a = Forest.train(data, { nTrees: 6, seed: 9 });
    const b = await trainForest(data, { nTrees: 6, seed: 9 }, {}, { threads: 2 });
    expect(Buffer.from(b.toBytes()).equals(Buffer.from(a.toBytes()))).toBe(true);
    const c = Forest.train(data, { nTrees: 6, seed: 10 });
    expect(Buffer.from(c.toBytes()).equals(Buffer.from(a.toBytes()))).toBe(false);
    const p1 = a.predictProba(test.x, 3000);
    const p2 = await predictProbaParallel(a, test.x, 3000, 'feature-major', 2);
    expect(Array.from(p2)).toEqual(Array.from(p1));
  });

  it('predicts on persistent worker threads: same result, forests reused, concurrent calls queue', async () => {
    const big = blobs(9000, 3); // > 2 x 4096 samples: two workers
    const a = Forest.train(data, { nTrees: 6, seed: 9 });
    const b = Forest.train(data, { nTrees: 3, seed: 4, maxDepth: 3 });
    const sm = new Float32Array(9000 * 5);
    for (let i = 0; i < 9000; i++) for (let f = 0; f < 5; f++) sm[i * 5 + f] = big.x[f * 9000 + i];
    const want = [a.predictProba(big.x, 9000), b.predictProba(big.x, 9000), a.predictProba(sm, 9000, 'sample-major')];
    const got = await Promise.all([
      predictProbaParallel(a, big.x, 9000, 'feature-major', 2),
      predictProbaParallel(b, big.x, 9000, 'feature-major', 2),
      predictProbaParallel(a, sm, 9000, 'sample-major', 2),
    ]);
    got.forEach((g, k) => expect(Array.from(g), `call ${k}`).toEqual(Array.from(want[k])));
    // again, on the warm pool
    expect(Array.from(await predictProbaParallel(b, big.x, 9000, 'feature-major', 2))).toEqual(Array.from(want[1]));
    expect(big.x.length).toBe(45000); // the caller's array is not transferred away
  }, 30000);

  it('serialises and loads again; rejects corrupt files', () => {
    const f = Forest.train(data, { nTrees: 4, seed: 1 }, { features: ['a', 'b'] });
    const g = Forest.fromBytes(f.toBytes());
    expect(g.meta).toEqual({ features: ['a', 'b'] });
    expect(g.nTrees).toBe(4);
    expect(Array.from(g.predictProba(test.x, 3000))).toEqual(Array.from(f.predictProba(test.x, 3000)));
    expect(Array.from(g.importances())).toEqual(Array.from(f.importances()));
    const bytes = f.toBytes();
    expect(() => Forest.fromBytes(bytes.subarray(0, bytes.length - 4), 'm.rf')).toThrow(/m.rf: file has/);
    expect(() => Forest.fromBytes(new TextEncoder().encode('hello world'))).toThrow(/WRF1/);
    expect(() => f.predictProba(new Float32Array(10), 3)).toThrow(/feature values/);
  });

  it('respects max depth and min leaf size', () => {
    const stump = Forest.train(data, { nTrees: 3, maxDepth: 0 });
    expect(stump.nNodes).toBe(3);
    const p = stump.predictProba(test.x.subarray(0, 5), 1);
    expect(p[0]).toBeCloseTo(1 / 3, 1);
    const shallow = Forest.train(data, { nTrees: 3, maxDepth: 2 });
    expect(shallow.nNodes).toBeLessThanOrEqual(3 * 7);
    const big = Forest.train(data, { nTrees: 2, minSamplesLeaf: 500, balanced: false });
    // every leaf holds >= 500 of 3000 bootstrap samples -> at most 6 leaves, 11 nodes per tree
    expect(big.nNodes).toBeLessThanOrEqual(2 * 11);
  });

  it('handles one sample, constant features, and rejects bad input', () => {
    const one = Forest.train({ x: Float32Array.of(1, 2), nSamples: 1, nFeatures: 2, layout: 'sample-major', y: Uint8Array.of(1), nClasses: 2 }, { nTrees: 2 });
    expect(Array.from(one.predictProba(Float32Array.of(5, 5), 1, 'sample-major'))).toEqual([0, 1]);
    const flat = Forest.train({ x: new Float32Array(20), nSamples: 10, nFeatures: 2, layout: 'sample-major', y: Uint8Array.from([0, 1, 0, 1, 0, 1, 0, 1, 0, 1]), nClasses: 2 }, { nTrees: 2 });
    expect(flat.nNodes).toBe(2);
    const xs = Float32Array.of(1, NaN, 3, 4);
    expect(() => Forest.train({ x: xs, nSamples: 2, nFeatures: 2, layout: 'sample-major', y: Uint8Array.of(0, 1), nClasses: 2 })).toThrow(/feature 1 of sample 0 is NaN/);
    expect(() => Forest.train({ x: new Float32Array(0), nSamples: 0, nFeatures: 2, layout: 'sample-major', y: new Uint8Array(0), nClasses: 2 })).toThrow(/no training samples/);
    expect(() => Forest.train({ x: new Float32Array(2), nSamples: 1, nFeatures: 2, layout: 'sample-major', y: Uint8Array.of(3), nClasses: 2 })).toThrow(/class 3/);
  });

  it('balanced sampling lifts a rare class', () => {
    // 95% class 0; class 1 lives in x0 > 2 (with overlap noise)
    const n = 4000;
    const rng = makeRng(3, 0);
    const x = new Float32Array(n * 2);
    const y = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      y[i] = i % 20 === 0 ? 1 : 0;
      x[i] = (y[i] ? 2.5 : 0) + (rng() / 2 ** 32) * 3;
      x[n + i] = rng() / 2 ** 32;
    }
    const bal = Forest.train({ x, nSamples: n, nFeatures: 2, layout: 'feature-major', y, nClasses: 2 }, { nTrees: 20, balanced: true, minSamplesLeaf: 20 });
    const unb = Forest.train({ x, nSamples: n, nFeatures: 2, layout: 'feature-major', y, nClasses: 2 }, { nTrees: 20, balanced: false, minSamplesLeaf: 20 });
    const probe = Float32Array.of(3.0, 0.5); // inside the rare class region, overlapping class 0's tail
    const pb = bal.predictProba(probe, 1, 'sample-major')[1];
    const pu = unb.predictProba(probe, 1, 'sample-major')[1];
    expect(pb).toBeGreaterThan(pu);
  });
});
