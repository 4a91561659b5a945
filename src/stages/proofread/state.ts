/**
 * The mutable half: which supervoxel edges are joined now, and the root id of every supervoxel.
 * `GraphState` starts from a Base and applies log records; the `plan*` methods turn a request
 * into a record without changing anything (so a refused edit leaves no trace), `apply` makes it
 * so. Everything is a function of (base, records): replaying a log prefix gives version N.
 */
import { UsageError } from '../../core/errors.js';
import { PROOFREAD_DEFAULTS, type Base } from './base.js';
import { IdIndex } from './idindex.js';
import { minCut } from './mincut.js';
import type { EditRecord } from './record.js';

/** An edit that cannot be made (the log stays unchanged). */
export class EditError extends UsageError {
  constructor(message: string) {
    super(message);
    this.name = 'EditError';
  }
}

export type EditRequest =
  /** `roots`: the root ids the user saw at a and b (refused when stale or not theirs) */
  | { kind: 'merge'; a: bigint; b: bigint; roots?: [bigint, bigint] }
  /** `root`: the root id the user saw (refused when stale or not the sources' root) */
  | { kind: 'split'; sources: bigint[]; sinks: bigint[]; root?: bigint }
  | { kind: 'undo'; op: number }
  | { kind: 'redo'; op: number };

export class GraphState {
  readonly n: number;
  /** dense index of a supervoxel id */
  readonly index = new Map<bigint, number>();
  active: Uint8Array;
  edgeA: number[];
  edgeB: number[];
  capacity: number[];
  private edgeOf = new Map<number, number>();
  /** adjacency of the base's edges, CSR (typed): supervoxel x's edges adjEdge[adjStart[x] .. adjStart[x+1]), their other ends adjNbr */
  private adjStart: Int32Array;
  private adjEdge: Int32Array;
  private adjNbr: Int32Array;
  /** edges made after the base (links of merges between supervoxels that do not touch), by supervoxel; hasExtra flags them */
  private extra = new Map<number, number[]>();
  private hasExtra: Uint8Array;
  /** root id of each supervoxel (dense index) */
  readonly root: BigUint64Array;
  /** one supervoxel of each current root */
  readonly rep = new Map<bigint, number>();
  /** root -> op that made it (0 = start), op that retired it */
  nextRoot: bigint;
  readonly records: EditRecord[] = [];
  /** op -> 1 when its latest undo/redo left it undone */
  private undone = new Map<number, boolean>();

  constructor(readonly base: Base) {
    const n = (this.n = base.ids.length - 1);
    for (let l = 1; l <= n; l++) this.index.set(base.ids[l], l);
    this.edgeA = Array.from(base.edgeA);
    this.edgeB = Array.from(base.edgeB);
    this.capacity = Array.from(base.capacity);
    this.active = new Uint8Array(Math.max(16, base.edgeA.length * 2));
    this.active.set(base.startActive);
    const m = base.edgeA.length;
    this.adjStart = new Int32Array(n + 2);
    for (let e = 0; e < m; e++) { this.adjStart[base.edgeA[e] + 1]++; this.adjStart[base.edgeB[e] + 1]++; }
    for (let l = 0; l <= n; l++) this.adjStart[l + 1] += this.adjStart[l];
    this.adjEdge = new Int32Array(2 * m);
    this.adjNbr = new Int32Array(2 * m);
    const fill = this.adjStart.slice(0, n + 1);
    for (let e = 0; e < m; e++) {
      const a = base.edgeA[e], b = base.edgeB[e];
      this.adjEdge[fill[a]] = e; this.adjNbr[fill[a]++] = b;
      this.adjEdge[fill[b]] = e; this.adjNbr[fill[b]++] = a;
      this.edgeOf.set(this.key(a, b), e);
    }
    this.hasExtra = new Uint8Array(n + 1);
    this.root = base.startRoots.slice();
    for (let l = 1; l <= n; l++) if (base.anchors[l] >= 0 && !this.rep.has(this.root[l])) this.rep.set(this.root[l], l);
    this.nextRoot = base.rootIdBase;
  }

  private key(a: number, b: number): number {
    return a < b ? a * (this.n + 1) + b : b * (this.n + 1) + a;
  }

  /** An edge made after the base: into the lookup and the extra adjacency of both ends. */
  private link(e: number): void {
    this.edgeOf.set(this.key(this.edgeA[e], this.edgeB[e]), e);
    for (const x of [this.edgeA[e], this.edgeB[e]]) {
      const l = this.extra.get(x);
      if (l) l.push(e); else this.extra.set(x, [e]);
      this.hasExtra[x] = 1;
    }
  }

  /** Each edge of supervoxel x and its other end (base edges, then edges made since). */
  private eachEdge(x: number, fn: (e: number, y: number) => void): void {
    for (let k = this.adjStart[x], end = this.adjStart[x + 1]; k < end; k++) fn(this.adjEdge[k], this.adjNbr[k]);
    if (this.hasExtra[x]) for (const e of this.extra.get(x)!) fn(e, this.edgeA[e] === x ? this.edgeB[e] : this.edgeA[e]);
  }

  /** The edge between two dense supervoxels, made (inactive, link capacity) if they do not touch. */
  private edge(a: number, b: number): number {
    let e = this.edgeOf.get(this.key(a, b));
    if (e !== undefined) return e;
    e = this.edgeA.length;
    this.edgeA.push(Math.min(a, b));
    this.edgeB.push(Math.max(a, b));
    this.capacity.push(PROOFREAD_DEFAULTS.linkCapacity);
    if (e >= this.active.length) {
      const g = new Uint8Array(this.active.length * 2);
      g.set(this.active);
      this.active = g;
    }
    this.link(e);
    return e;
  }

  private ids?: IdIndex;
  /** Supervoxel id -> dense index over typed arrays (built on first use): for many ids at once. */
  get idIndex(): IdIndex {
    return (this.ids ??= new IdIndex(this.base.ids));
  }

  get op(): number {
    return this.records.length;
  }

  /** Dense index of a supervoxel id, or an EditError. */
  sv(id: bigint, what = 'supervoxel'): number {
    const l = this.index.get(id);
    if (l === undefined || this.base.anchors[l] < 0) throw new EditError(`${what} ${id} is not a supervoxel of this segmentation`);
    return l;
  }

  rootOf(id: bigint): bigint {
    return this.root[this.sv(id)];
  }

  isCurrent(root: bigint): boolean {
    return this.rep.has(root);
  }

  /**
   * Dense supervoxels of a current root (connected through joined edges), ascending. A root id's
   * supervoxels never change, so the last few roots' lists are kept (the roots an edit just made
   * come from `apply`): the plan, the recompute, the cells row and the partners of one edit share
   * one search. The array is shared: do not modify it.
   */
  members(root: bigint): number[] {
    const start = this.rep.get(root);
    if (start === undefined) throw new EditError(`root ${root} is not a current root`);
    const kept = this.memberCache.get(root);
    if (kept) {
      this.memberCache.delete(root);
      this.memberCache.set(root, kept);
      return kept;
    }
    return this.keepMembers(root, this.component(start, this.active));
  }

  /** The last roots' members (insertion order = least recently used first). */
  private memberCache = new Map<bigint, number[]>();

  private keepMembers(root: bigint, list: number[]): number[] {
    // ascending: a large root by a scan of the root array (linear in the supervoxels, no sort), a small one sorted
    let sorted: number[];
    if (list.length > this.n / 16 && this.root[list[0]] === root) {
      sorted = new Array<number>(list.length);
      let k = 0;
      const r = this.root;
      for (let l = 1; l <= this.n; l++) if (r[l] === root) sorted[k++] = l;
      if (k !== list.length) sorted = Array.from(Int32Array.from(list).sort());
    } else sorted = list.length > 1 ? Array.from(Int32Array.from(list).sort()) : list;
    this.memberCache.set(root, sorted);
    let total = 0;
    for (const v of this.memberCache.values()) total += v.length;
    for (const [k, v] of this.memberCache) {
      if (this.memberCache.size <= 1 || (this.memberCache.size <= PROOFREAD_DEFAULTS.memberCacheRoots && total <= PROOFREAD_DEFAULTS.memberCacheSupervoxels)) break;
      this.memberCache.delete(k);
      total -= v.length;
    }
    return sorted;
  }

  private component(start: number, active: Uint8Array, mark: Uint8Array = new Uint8Array(this.n + 1)): number[] {
    const { adjStart, adjEdge, adjNbr, hasExtra } = this;
    const out = [start];
    mark[start] = 1;
    for (let i = 0; i < out.length; i++) {
      const x = out[i];
      for (let k = adjStart[x], end = adjStart[x + 1]; k < end; k++) {
        if (!active[adjEdge[k]]) continue;
        const y = adjNbr[k];
        if (!mark[y]) { mark[y] = 1; out.push(y); }
      }
      if (hasExtra[x]) for (const e of this.extra.get(x)!) if (active[e]) {
        const y = this.edgeA[e] === x ? this.edgeB[e] : this.edgeA[e];
        if (!mark[y]) { mark[y] = 1; out.push(y); }
      }
    }
    return out;
  }

  /** Supervoxels that share voxel faces with `l` (contact edges of the base, joined or not). */
  contactNeighbours(l: number): number[] {
    const out: number[] = [];
    const m = this.base.edgeA.length;
    this.eachEdge(l, (e, y) => { if (e < m && this.base.area[e] > 0) out.push(y); });
    return out;
  }

  /** `contactNeighbours` without the array: visits each supervoxel sharing faces with `l`. */
  forEachContact(l: number, visit: (y: number) => void): void {
    const m = this.base.edgeA.length, area = this.base.area;
    this.eachEdge(l, (e, y) => { if (e < m && area[e] > 0) visit(y); });
  }

  /**
   * Visits each supervoxel joined to `l` (a joined edge: a contact or a link) under `active`
   * (default the current joined edges; the base's startActive gives the starting state).
   */
  forEachJoined(l: number, visit: (y: number) => void, active: Uint8Array = this.active): void {
    const n = active.length;
    this.eachEdge(l, (e, y) => { if (e < n && active[e]) visit(y); });
  }

  private pair(e: number): [string, string] {
    return [this.base.ids[this.edgeA[e]].toString(), this.base.ids[this.edgeB[e]].toString()];
  }

  /**
   * The record of an edit that joins `add` and cuts `remove` (edge indices) inside `roots`:
   * those roots are retired and every component of their supervoxels gets a new id. The state is
   * left as it was.
   */
  private change(kind: EditRecord['kind'], inputs: Record<string, unknown>, roots: bigint[], add: number[], remove: number[], meta: { user: string; time: string; target?: number }): EditRecord {
    const members = roots.flatMap((r) => this.members(r));
    const saved = add.map((e) => this.active[e]).concat(remove.map((e) => this.active[e]));
    for (const e of add) this.active[e] = 1;
    for (const e of remove) this.active[e] = 0;
    const created: EditRecord['created'] = [];
    let comps: number[][] = [];
    let next = this.nextRoot;
    try {
      if (add.length === 0 && roots.length === 1 && remove.length > 0) {
        // a cut of one root: searches from the cut edges' ends, stopped once one is left (cost: all but the largest piece)
        comps = this.piecesAfterCut(members, remove);
      } else {
        const mark = new Uint8Array(this.n + 1);
        for (const s of [...members].sort((p, q) => p - q)) if (!mark[s]) comps.push(this.component(s, this.active, mark));
      }
      for (const c of comps) created.push({ id: (next++).toString(), supervoxel: this.base.ids[c[0]].toString() });
    } finally {
      add.forEach((e, i) => (this.active[e] = saved[i]));
      remove.forEach((e, i) => (this.active[e] = saved[add.length + i]));
    }
    const r: EditRecord = {
      op: this.op + 1, time: meta.time, user: meta.user, kind, inputs,
      ...(meta.target !== undefined ? { target: meta.target } : {}),
      added: add.map((e) => this.pair(e)), removed: remove.map((e) => this.pair(e)),
      retired: roots.map(String), created,
    };
    // applying this very record reuses its components (the state cannot change in between: apply checks the op)
    this.planned = { record: r, comps };
    return r;
  }

  /** Search labels (-1 = unvisited), kept across cuts and reset after each. */
  private label?: Int32Array;

  /**
   * The connected pieces (each ascending, ordered by their smallest supervoxel, as a sweep over the
   * sorted members finds them) of one root's `members` (ascending) on the joined edges now, after
   * the edges `cut` were removed from it. Every piece holds an end of a cut edge (the root was
   * connected), so searches start at the ends, one node per live search in turn; searches that meet
   * join; once one live search is left, its piece is the members no finished search reached. The
   * cost is the pieces but the largest, not the root.
   */
  private piecesAfterCut(members: number[], cut: number[]): number[][] {
    const label = (this.label ??= new Int32Array(this.n + 1).fill(-1));
    const seeds = [...new Set(cut.flatMap((e) => [this.edgeA[e], this.edgeB[e]]))];
    const k = seeds.length;
    const up = Int32Array.from({ length: k }, (_, i) => i);
    const find = (x: number): number => { while (up[x] !== x) { up[x] = up[up[x]]; x = up[x]; } return x; };
    const queues = seeds.map((s, i) => { label[s] = i; return [s]; });
    const heads = new Int32Array(k);
    const visited = [...seeds];
    try {
      for (;;) {
        // live groups: searches (joined when they met) with nodes left to expand
        const live = new Set<number>();
        for (let i = 0; i < k; i++) if (heads[i] < queues[i].length) live.add(find(i));
        if (live.size <= 1) break;
        // up to 64 nodes per search between checks (the live set is not rebuilt per node)
        for (let i = 0; i < k; i++) for (let step = 0; step < 64 && heads[i] < queues[i].length; step++) {
          const x = queues[i][heads[i]++];
          this.eachEdge(x, (e, y) => {
            if (!this.active[e]) return;
            const ly = label[y];
            if (ly < 0) { label[y] = i; queues[i].push(y); visited.push(y); }
            else { const a = find(i), b = find(ly); if (a !== b) up[a < b ? b : a] = a < b ? a : b; }
          });
        }
      }
      const live = new Set<number>();
      for (let i = 0; i < k; i++) if (heads[i] < queues[i].length) live.add(find(i));
      const byGroup = new Map<number, number[]>();
      for (const x of visited) {
        const g = find(label[x]);
        if (live.has(g)) continue;
        const list = byGroup.get(g);
        if (list) list.push(x); else byGroup.set(g, [x]);
      }
      const pieces = [...byGroup.values()].map((p) => p.sort((a, b) => a - b));
      if (live.size === 1) {
        const g = [...live][0];
        pieces.push(members.filter((x) => label[x] < 0 || find(label[x]) === g));
      }
      return pieces.sort((p, q) => p[0] - q[0]);
    } finally {
      for (const x of visited) label[x] = -1;
    }
  }

  /** The components of the last record `change` planned, for `apply` of that same record. */
  private planned?: { record: EditRecord; comps: number[][] };

  /** A root id the user named must be current and hold supervoxel `l`. */
  private expectRoot(root: bigint, l: number): void {
    if (!this.rep.has(root)) {
      const by = this.records.find((r) => r.retired.includes(root.toString()));
      if (by) throw new EditError(`root ${root} is stale: operation ${by.op} (${by.kind}, ${by.time}) retired it; edit its latest roots (wiring lineage ${root})`);
      throw new EditError(`root ${root} is not a root id of this segmentation`);
    }
    if (this.root[l] !== root) throw new EditError(`supervoxel ${this.base.ids[l]} is in root ${this.root[l]}, not in root ${root}`);
  }

  /** The record an edit would append (EditError when it cannot be made); nothing changes. */
  plan(req: EditRequest, meta: { user: string; time: string }, inputs: Record<string, unknown> = {}): EditRecord {
    if (req.kind === 'merge') {
      const a = this.sv(req.a), b = this.sv(req.b);
      if (req.roots) { this.expectRoot(req.roots[0], a); this.expectRoot(req.roots[1], b); }
      const ra = this.root[a], rb = this.root[b];
      if (ra === rb) throw new EditError(`merge: supervoxels ${req.a} and ${req.b} are already in one root (${ra}); a root cannot be merged with itself`);
      // the edge object may be created here (a link between supervoxels that do not touch)
      const e = this.edge(a, b);
      // the merged root is the two roots' union: one component, named (as every component) by its
      // smallest supervoxel, which is the smaller of the two roots' (rep holds each root's smallest)
      const s = Math.min(this.rep.get(ra)!, this.rep.get(rb)!);
      return {
        op: this.op + 1, time: meta.time, user: meta.user, kind: 'merge', inputs: { supervoxels: [req.a.toString(), req.b.toString()], ...inputs },
        added: [this.pair(e)], removed: [], retired: [ra.toString(), rb.toString()], created: [{ id: this.nextRoot.toString(), supervoxel: this.base.ids[s].toString() }],
      };
    }
    if (req.kind === 'split') {
      if (req.sources.length === 0 || req.sinks.length === 0) throw new EditError('split: needs at least one source and one sink');
      const src = req.sources.map((id) => this.sv(id, 'source supervoxel'));
      const snk = req.sinks.map((id) => this.sv(id, 'sink supervoxel'));
      if (req.root !== undefined) this.expectRoot(req.root, src[0]);
      const r = this.root[src[0]];
      for (const [l, id, what] of [...src.map((l, i) => [l, req.sources[i], 'source'] as const), ...snk.map((l, i) => [l, req.sinks[i], 'sink'] as const)]) {
        if (this.root[l] !== r) throw new EditError(`split: ${what} supervoxel ${id} is in root ${this.root[l]}, the first source in root ${r}; sources and sinks must lie in one root`);
      }
      const both = src.find((l) => snk.includes(l));
      if (both !== undefined) throw new EditError(`split: supervoxel ${this.base.ids[both]} is both a source and a sink; the sides cannot be separated inside one supervoxel`);
      const cut = this.regionCut(src, snk, r);
      if (!cut) throw new EditError(`split: the sources and sinks of root ${r} cannot be separated`);
      const { remove, flow } = cut;
      return this.change('split', { sources: req.sources.map(String), sinks: req.sinks.map(String), cut_capacity: +flow.toFixed(6), ...inputs }, [r], [], remove, meta);
    }
    const k = req.op;
    if (!Number.isInteger(k) || k < 1 || k > this.op) throw new EditError(`${req.kind}: operation ${k} does not exist (the log has ${this.op})`);
    const target = this.records[k - 1];
    if (target.kind === 'undo' || target.kind === 'redo') throw new EditError(`${req.kind}: operation ${k} is itself an ${target.kind}; ${req.kind} operation ${target.target} instead`);
    const undone = this.undone.get(k) === true;
    if (req.kind === 'undo' && undone) throw new EditError(`undo: operation ${k} is already undone`);
    if (req.kind === 'redo' && !undone) throw new EditError(`redo: operation ${k} is not undone`);
    // the roots the target (or its latest undo) made must still be current
    const last = req.kind === 'undo' ? [...this.records].reverse().find((r) => (r.kind === 'redo' && r.target === k)) ?? target : [...this.records].reverse().find((r) => r.kind === 'undo' && r.target === k)!;
    const stale = last.created.map((c) => BigInt(c.id)).find((id) => !this.isCurrent(id));
    if (stale !== undefined) throw new EditError(`${req.kind}: root ${stale} made by operation ${last.op} has since been edited (by a later operation); ${req.kind} the later operations first`);
    const edgesOf = (pairs: Array<[string, string]>): number[] => pairs.map(([a, b]) => this.edge(this.sv(BigInt(a)), this.sv(BigInt(b))));
    const add = req.kind === 'undo' ? edgesOf(target.removed) : edgesOf(target.added);
    const remove = req.kind === 'undo' ? edgesOf(target.added) : edgesOf(target.removed);
    return this.change(req.kind, { op: k }, last.created.map((c) => BigInt(c.id)), add, remove, { ...meta, target: k });
  }

  /**
   * The minimum cut between sources and sinks of root r, on the root's joined edges inside a box
   * around them, as the ChunkedGraph cuts inside the bounding box of the points: the box is the
   * sources' and sinks' supervoxels' bounding box grown by PROOFREAD_DEFAULTS.splitMargin voxels
   * (at least half its own size); the cut is kept when it separates the sides in the whole root,
   * else the box doubles, up to the whole root (then the cut is the root's minimum cut). So the
   * cost follows the cut's region, not the root. Undefined when they cannot be separated.
   */
  private regionCut(src: number[], snk: number[], r: bigint): { remove: number[]; flow: number } | undefined {
    const bb = this.base.bbox;
    const lo = [Infinity, Infinity, Infinity], hi = [-Infinity, -Infinity, -Infinity];
    for (const l of [...src, ...snk]) for (let a = 0; a < 3; a++) {
      lo[a] = Math.min(lo[a], bb[6 * l + a]);
      hi[a] = Math.max(hi[a], bb[6 * l + 3 + a]);
    }
    let margin = Math.max(PROOFREAD_DEFAULTS.splitMargin, Math.ceil(0.5 * Math.max(hi[0] - lo[0], hi[1] - lo[1], hi[2] - lo[2])));
    for (;;) {
      const inBox = (l: number): boolean => {
        for (let a = 0; a < 3; a++) if (bb[6 * l + a] >= hi[a] + margin || bb[6 * l + 3 + a] <= lo[a] - margin) return false;
        return true;
      };
      // the root's supervoxels in the box reachable from the sources and sinks through joined edges in the box
      const local = new Map<number, number>();
      const region: number[] = [];
      let clipped = false;
      for (const s of [...src, ...snk]) if (!local.has(s)) { local.set(s, region.length); region.push(s); }
      const edges: number[] = [];
      for (let i = 0; i < region.length; i++) {
        const x = region[i];
        this.eachEdge(x, (e, y) => {
          if (!this.active[e]) return;
          if (!local.has(y)) {
            if (!inBox(y)) { clipped = true; return; }
            local.set(y, region.length);
            region.push(y);
          }
          if (this.edgeA[e] === x) edges.push(e);
        });
      }
      const cut = minCut(region.length, edges.map((e) => local.get(this.edgeA[e])!), edges.map((e) => local.get(this.edgeB[e])!), edges.map((e) => this.capacity[e]), src.map((l) => local.get(l)!), snk.map((l) => local.get(l)!));
      if (!isFinite(cut.flow) || cut.cut.length === 0) {
        if (!clipped) return undefined;
      } else {
        const remove = cut.cut.map((i) => edges[i]).sort((p, q) => p - q);
        if (!clipped || this.separates(src, snk, remove)) return { remove, flow: cut.flow };
      }
      margin *= 2;
    }
  }

  /** Whether removing `remove` leaves no joined path from a source to a sink (a search from both sides at once, stopping at the smaller). */
  private separates(src: number[], snk: number[], remove: number[]): boolean {
    const saved = remove.map((e) => this.active[e]);
    for (const e of remove) this.active[e] = 0;
    // the side of each node reached (the shared label scratch, reset after)
    const side = (this.label ??= new Int32Array(this.n + 1).fill(-1));
    const fronts: number[][] = [[], []];
    try {
      for (const l of src) { side[l] = 0; fronts[0].push(l); }
      for (const l of snk) { side[l] = 1; fronts[1].push(l); }
      const heads = [0, 0];
      for (;;) {
        for (const k of [0, 1]) {
          const f = fronts[k];
          if (heads[k] >= f.length) return true;
          const x = f[heads[k]++];
          let met = false;
          this.eachEdge(x, (e, y) => {
            if (!this.active[e] || met) return;
            const s = side[y];
            if (s < 0) { side[y] = k; f.push(y); } else if (s !== k) met = true;
          });
          if (met) return false;
        }
      }
    } finally {
      for (const f of fronts) for (const x of f) side[x] = -1;
      remove.forEach((e, i) => (this.active[e] = saved[i]));
    }
  }

  /**
   * The supervoxels (dense, ascending) of each root a planned record would make, in the order of
   * `r.created` (for previews: the two sides of a split); the state is left as it was.
   */
  sides(r: EditRecord): number[][] {
    const added = r.added.map(([a, b]) => this.edge(this.sv(BigInt(a)), this.sv(BigInt(b))));
    const removed = r.removed.map(([a, b]) => this.edge(this.sv(BigInt(a)), this.sv(BigInt(b))));
    const saved = [...added, ...removed].map((e) => this.active[e]);
    for (const e of added) this.active[e] = 1;
    for (const e of removed) this.active[e] = 0;
    try {
      const mark = new Uint8Array(this.n + 1);
      return r.created.map((c) => this.component(this.sv(BigInt(c.supervoxel)), this.active, mark).sort((p, q) => p - q));
    } finally {
      [...added, ...removed].forEach((e, i) => (this.active[e] = saved[i]));
    }
  }

  /**
   * Run `fn` on the joined edges as they were before record `r` (the latest applied: its added
   * edges cut, its removed edges joined again), then restore them. Roots and members are not
   * changed: only the joined edges (what the parents' fragment groups were made of).
   */
  beforeRecord<T>(r: EditRecord, fn: () => T): T {
    if (r.op !== this.op) throw new EditError(`beforeRecord: operation ${r.op} is not the latest (${this.op})`);
    const edges = (pairs: Array<[string, string]>): number[] => pairs.map(([a, b]) => this.edge(this.sv(BigInt(a)), this.sv(BigInt(b))));
    const added = edges(r.added), removed = edges(r.removed);
    const saved = [...added, ...removed].map((e) => this.active[e]);
    for (const e of added) this.active[e] = 0;
    for (const e of removed) this.active[e] = 1;
    try {
      return fn();
    } finally {
      [...added, ...removed].forEach((e, i) => (this.active[e] = saved[i]));
    }
  }

  /** Apply a record (planned here or read from the log). */
  apply(r: EditRecord): void {
    if (r.op !== this.op + 1) throw new EditError(`apply: expected op ${this.op + 1}, got ${r.op}`);
    const edges = (pairs: Array<[string, string]>): number[] => pairs.map(([a, b]) => this.edge(this.sv(BigInt(a)), this.sv(BigInt(b))));
    for (const e of edges(r.added)) this.active[e] = 1;
    for (const e of edges(r.removed)) this.active[e] = 0;
    for (const id of r.retired) this.rep.delete(BigInt(id));
    const mark = new Uint8Array(this.n + 1);
    const planned = this.planned?.record === r && this.planned.comps.length === r.created.length ? this.planned.comps : undefined;
    this.planned = undefined;
    for (const [k, c] of r.created.entries()) {
      const id = BigInt(c.id);
      const s = this.sv(BigInt(c.supervoxel));
      const comp = planned ? planned[k] : this.component(s, this.active, mark);
      for (const x of comp) this.root[x] = id;
      this.rep.set(id, s);
      this.keepMembers(id, comp);
      if (id >= this.nextRoot) this.nextRoot = id + 1n;
    }
    if (r.kind === 'undo') this.undone.set(r.target!, true);
    if (r.kind === 'redo') this.undone.set(r.target!, false);
    this.records.push(r);
  }

  /** Plan and apply. */
  edit(req: EditRequest, meta: { user: string; time: string }, inputs: Record<string, unknown> = {}): EditRecord {
    const r = this.plan(req, meta, inputs);
    this.apply(r);
    return r;
  }
}
