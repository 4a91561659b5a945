/**
 * Directed graphs on dense node indices (no I/O): reciprocity, the triad census (all 16
 * three-cell motifs, Batagelj & Mrvar's O(m * degree) algorithm) and a degree-preserving null
 * model by seeded edge swaps.
 */

export interface Digraph {
  n: number;
  /** Edge i is src[i] -> dst[i]; no self-loops, no duplicate edges. */
  src: Int32Array;
  dst: Int32Array;
}

export const TRIAD_NAMES = ['003', '012', '102', '021D', '021U', '021C', '111D', '111U', '030T', '030C', '201', '120D', '120U', '120C', '210', '300'] as const;
export type TriadName = (typeof TRIAD_NAMES)[number];

/** Seeded PRNG (mulberry32): a float in [0, 1). */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Build a digraph from (possibly repeated, possibly self-looped) edges: loops and repeats dropped. */
export function makeDigraph(n: number, src: ArrayLike<number>, dst: ArrayLike<number>): Digraph {
  const seen = new Set<number>();
  const s: number[] = [];
  const d: number[] = [];
  for (let i = 0; i < src.length; i++) {
    const a = src[i];
    const b = dst[i];
    if (a === b) continue;
    const k = a * n + b;
    if (seen.has(k)) continue;
    seen.add(k);
    s.push(a);
    d.push(b);
  }
  return { n, src: Int32Array.from(s), dst: Int32Array.from(d) };
}

/** Unordered pairs {a, b} with both a -> b and b -> a. */
export function reciprocalPairs(g: Digraph): number {
  const set = new Set<number>();
  for (let i = 0; i < g.src.length; i++) set.add(g.src[i] * g.n + g.dst[i]);
  let r = 0;
  for (let i = 0; i < g.src.length; i++) if (g.src[i] < g.dst[i] && set.has(g.dst[i] * g.n + g.src[i])) r++;
  return r;
}

/** Triad type index (into TRIAD_NAMES) of the 6-bit code of a 3-node digraph. */
const CODE_TO_TRIAD: Uint8Array = (() => {
  // bits: 1 a->b, 2 b->a, 4 a->c, 8 c->a, 16 b->c, 32 c->b
  const pairs: [number, number, number][] = [
    [0, 1, 1], [1, 0, 2], [0, 2, 4], [2, 0, 8], [1, 2, 16], [2, 1, 32],
  ];
  const t = new Uint8Array(64);
  for (let code = 0; code < 64; code++) {
    const adj = [[false, false, false], [false, false, false], [false, false, false]];
    for (const [x, y, bit] of pairs) if (code & bit) adj[x][y] = true;
    let M = 0;
    let A = 0;
    const mutual: [number, number][] = [];
    const asym: [number, number][] = [];
    for (const [x, y] of [[0, 1], [0, 2], [1, 2]] as [number, number][]) {
      if (adj[x][y] && adj[y][x]) {
        M++;
        mutual.push([x, y]);
      } else if (adj[x][y]) {
        A++;
        asym.push([x, y]);
      } else if (adj[y][x]) {
        A++;
        asym.push([y, x]);
      }
    }
    const outA = [0, 0, 0];
    const inA = [0, 0, 0];
    for (const [x, y] of asym) {
      outA[x]++;
      inA[y]++;
    }
    let name: TriadName;
    const key = `${M}${A}${3 - M - A}`;
    switch (key) {
      case '003': name = '003'; break;
      case '012': name = '012'; break;
      case '102': name = '102'; break;
      case '021': name = outA.includes(2) ? '021D' : inA.includes(2) ? '021U' : '021C'; break;
      case '111': {
        const [x, y] = asym[0];
        const inMutual = (v: number) => mutual[0].includes(v);
        name = inMutual(y) && !inMutual(x) ? '111D' : '111U';
        break;
      }
      case '030': name = outA.includes(2) ? '030T' : '030C'; break;
      case '201': name = '201'; break;
      case '120': {
        const third = [0, 1, 2].find((v) => !mutual[0].includes(v))!;
        name = outA[third] === 2 ? '120D' : inA[third] === 2 ? '120U' : '120C';
        break;
      }
      case '210': name = '210'; break;
      default: name = '300';
    }
    t[code] = TRIAD_NAMES.indexOf(name);
  }
  return t;
})();

interface Csr {
  start: Int32Array;
  nbr: Int32Array;
}

function csr(n: number, a: Int32Array, b: Int32Array, undirected: boolean): Csr {
  const deg = new Int32Array(n + 1);
  for (let i = 0; i < a.length; i++) {
    deg[a[i] + 1]++;
    if (undirected) deg[b[i] + 1]++;
  }
  for (let i = 0; i < n; i++) deg[i + 1] += deg[i];
  const fill = deg.slice(0, n);
  const nbr = new Int32Array(deg[n]);
  for (let i = 0; i < a.length; i++) {
    nbr[fill[a[i]]++] = b[i];
    if (undirected) nbr[fill[b[i]]++] = a[i];
  }
  return { start: deg, nbr };
}

/**
 * Triad census: how many unordered triples of nodes form each of the 16 directed motifs
 * (names as in Holland & Leinhardt / networkx). Counts sum to C(n, 3).
 */
export function triadCensus(g: Digraph): Record<TriadName, number> {
  const n = g.n;
  const census = new Float64Array(16);
  const has = new Set<number>();
  for (let i = 0; i < g.src.length; i++) has.add(g.src[i] * n + g.dst[i]);
  const edge = (a: number, b: number) => has.has(a * n + b);
  // undirected neighbour lists (deduplicated: a mutual pair appears twice)
  const und = csr(n, g.src, g.dst, true);
  const nb: Int32Array[] = [];
  for (let v = 0; v < n; v++) {
    const arr = und.nbr.subarray(und.start[v], und.start[v + 1]).slice().sort();
    let k = 0;
    for (let i = 0; i < arr.length; i++) if (i === 0 || arr[i] !== arr[i - 1]) arr[k++] = arr[i];
    nb.push(arr.subarray(0, k));
  }
  const mark = new Int32Array(n).fill(-1);
  let pairStamp = 0;
  const isNbOfV = new Int32Array(n).fill(-1);
  const S: number[] = [];
  for (let v = 0; v < n; v++) {
    const nv = nb[v];
    for (let i = 0; i < nv.length; i++) isNbOfV[nv[i]] = v;
    for (let i = 0; i < nv.length; i++) {
      const u = nv[i];
      if (u <= v) continue;
      const tag = ++pairStamp;
      S.length = 0;
      const nu = nb[u];
      for (let j = 0; j < nu.length; j++) {
        const w = nu[j];
        if (w !== v && mark[w] !== tag) {
          mark[w] = tag;
          S.push(w);
        }
      }
      for (let j = 0; j < nv.length; j++) {
        const w = nv[j];
        if (w !== u && mark[w] !== tag) {
          mark[w] = tag;
          S.push(w);
        }
      }
      const mutualVU = edge(v, u) && edge(u, v);
      census[mutualVU ? 2 : 1] += n - S.length - 2;
      for (const w of S) {
        if (u < w || (v < w && w < u && isNbOfV[w] !== v)) {
          let code = 0;
          if (edge(v, u)) code |= 1;
          if (edge(u, v)) code |= 2;
          if (edge(v, w)) code |= 4;
          if (edge(w, v)) code |= 8;
          if (edge(u, w)) code |= 16;
          if (edge(w, u)) code |= 32;
          census[CODE_TO_TRIAD[code]]++;
        }
      }
    }
  }
  let sum = 0;
  for (let i = 1; i < 16; i++) sum += census[i];
  census[0] = n < 3 ? 0 : (n * (n - 1) * (n - 2)) / 6 - sum;
  const out = {} as Record<TriadName, number>;
  TRIAD_NAMES.forEach((t, i) => (out[t] = census[i]));
  return out;
}

/**
 * A degree-preserving randomization: `swaps` attempted double-edge swaps (a->b, c->d become
 * a->d, c->b), rejected when they would make a self-loop or a duplicate edge. Every node keeps
 * its in- and out-degree. Deterministic for a given seed.
 */
export function edgeSwapNull(g: Digraph, swaps: number, random: () => number): Digraph {
  const n = g.n;
  const src = g.src.slice();
  const dst = g.dst.slice();
  const m = src.length;
  if (m < 2) return { n, src, dst };
  const set = new Set<number>();
  for (let i = 0; i < m; i++) set.add(src[i] * n + dst[i]);
  for (let s = 0; s < swaps; s++) {
    const i = Math.floor(random() * m);
    const j = Math.floor(random() * m);
    if (i === j) continue;
    const a = src[i];
    const b = dst[i];
    const c = src[j];
    const d = dst[j];
    if (a === d || c === b || a === c || b === d) continue;
    const k1 = a * n + d;
    const k2 = c * n + b;
    if (set.has(k1) || set.has(k2)) continue;
    set.delete(a * n + b);
    set.delete(c * n + d);
    set.add(k1);
    set.add(k2);
    dst[i] = d;
    dst[j] = b;
  }
  return { n, src, dst };
}

export interface NullComparison {
  observed: number;
  null_mean: number;
  null_sd: number;
  /** (observed - mean) / sd; null when sd is 0. */
  z: number | null;
  /** One-sided empirical p-values with +1 correction: P(null >= observed), P(null <= observed). */
  p_greater: number;
  p_less: number;
}

export function compareToNull(observed: number, samples: number[]): NullComparison {
  const k = samples.length;
  const mean = samples.reduce((a, b) => a + b, 0) / Math.max(1, k);
  const sd = k > 1 ? Math.sqrt(samples.reduce((a, b) => a + (b - mean) ** 2, 0) / (k - 1)) : 0;
  const ge = samples.filter((s) => s >= observed).length;
  const le = samples.filter((s) => s <= observed).length;
  return {
    observed,
    null_mean: mean,
    null_sd: sd,
    z: sd > 0 ? (observed - mean) / sd : null,
    p_greater: (ge + 1) / (k + 1),
    p_less: (le + 1) / (k + 1),
  };
}
