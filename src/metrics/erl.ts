/**
 * Expected run length (ERL) of a segmentation over ground-truth skeletons (Januszewski et al.
 * 2018, FFN): walk a random point of a true skeleton (chosen in proportion to cable length) and
 * follow the skeleton while it stays inside one correct segment; ERL is the expected length of
 * that run.
 *
 * Input: every true skeleton as nodes (positions in nm, [x,y,z]), edges (node index pairs) and the
 * segment id found at each node (bigint; 0 = no segment). Rules:
 *  - an edge is correct when both its nodes carry the same non-zero segment id and that segment is
 *    not a merger;
 *  - a segment is a merger when its id occurs on nodes of more than one true skeleton (it joins two
 *    neurons): all its edges count as errors (run length 0), the FFN convention;
 *  - runs are the connected pieces of correct edges of a skeleton, run length = their cable length;
 *  - ERL = sum over runs of length^2 / total cable length of all skeletons.
 * `maxErl` (the ERL of a perfect segmentation) = sum of skeleton length^2 / total length (for
 * skeletons that are connected; a skeleton in several pieces counts each piece).
 */

export interface ErlSkeleton {
  /** node positions, x y z per node (nm) */
  positions: Float64Array | number[];
  /** edges as pairs of node indices: a0 b0 a1 b1 ... */
  edges: Uint32Array | number[];
  /** segment id at each node (0 = background) */
  segments: bigint[];
}

export interface ErlScore {
  erl: number;
  /** ERL of a perfect segmentation of the same skeletons. */
  maxErl: number;
  /** total cable length, nm */
  totalLength: number;
  skeletons: number;
  /** segments whose id occurs on more than one skeleton */
  mergers: number;
  /** cable length on edges that are not correct (split, merged, background) */
  errorLength: number;
}

function find(p: Int32Array, i: number): number {
  while (p[i] !== i) {
    p[i] = p[p[i]];
    i = p[i];
  }
  return i;
}

/** ERL of a segmentation given the segment id at every node of the true skeletons. */
export function expectedRunLength(skeletons: ErlSkeleton[]): ErlScore {
  // which segments occur on more than one skeleton
  const owner = new Map<bigint, number>();
  const merged = new Set<bigint>();
  skeletons.forEach((s, k) => {
    if (s.segments.length * 3 !== s.positions.length) throw new RangeError(`skeleton ${k}: ${s.segments.length} segment ids for ${s.positions.length / 3} nodes`);
    for (const id of s.segments) {
      if (id === 0n) continue;
      const o = owner.get(id);
      if (o === undefined) owner.set(id, k);
      else if (o !== k) merged.add(id);
    }
  });
  let total = 0, sumSq = 0, maxSq = 0, errorLength = 0;
  skeletons.forEach((s, k) => {
    const n = s.segments.length;
    const pRun = new Int32Array(n), pAll = new Int32Array(n);
    for (let i = 0; i < n; i++) pRun[i] = pAll[i] = i;
    const lenRun = new Float64Array(n), lenAll = new Float64Array(n);
    const E = s.edges.length / 2;
    const edgeLen = new Float64Array(E);
    const ok = new Uint8Array(E);
    for (let e = 0; e < E; e++) {
      const a = s.edges[2 * e], b = s.edges[2 * e + 1];
      if (a >= n || b >= n) throw new RangeError(`skeleton ${k}: edge ${e} names node ${Math.max(a, b)} of ${n}`);
      const dx = s.positions[3 * a] - s.positions[3 * b], dy = s.positions[3 * a + 1] - s.positions[3 * b + 1], dz = s.positions[3 * a + 2] - s.positions[3 * b + 2];
      edgeLen[e] = Math.sqrt(dx * dx + dy * dy + dz * dz);
      const sa = s.segments[a];
      ok[e] = sa !== 0n && sa === s.segments[b] && !merged.has(sa) ? 1 : 0;
      const ra = find(pAll, a), rb = find(pAll, b);
      if (ra !== rb) pAll[ra] = rb;
      if (ok[e]) {
        const qa = find(pRun, a), qb = find(pRun, b);
        if (qa !== qb) pRun[qa] = qb;
      }
    }
    for (let e = 0; e < E; e++) {
      const a = s.edges[2 * e];
      total += edgeLen[e];
      lenAll[find(pAll, a)] += edgeLen[e];
      if (ok[e]) lenRun[find(pRun, a)] += edgeLen[e];
      else errorLength += edgeLen[e];
    }
    for (let i = 0; i < n; i++) {
      sumSq += lenRun[i] * lenRun[i];
      maxSq += lenAll[i] * lenAll[i];
    }
  });
  return {
    erl: total > 0 ? sumSq / total : 0,
    maxErl: total > 0 ? maxSq / total : 0,
    totalLength: total,
    skeletons: skeletons.length,
    mergers: merged.size,
    errorLength,
  };
}
