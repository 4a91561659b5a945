/**
 * SWC skeletons (Cannon et al. 1998; the NeuroMorpho/CATMAID/navis text format): one node per line
 * `id type x y z radius parent` (parent -1 for a root), `#` comments. Read into a graph with nm
 * coordinates (`scale` multiplies x, y, z and radius, e.g. 8 for hemibrain's 8 nm voxel units).
 */
import { writeFileAtomic } from '../core/atomic.js';
import { FormatError } from '../core/errors.js';
import { MAX_ID } from '../core/ids.js';
import { orientForest } from '../core/tree.js';
import { readLines } from './text-lines.js';

/** A skeleton graph: vertices [x,y,z] nm flattened, edges (child, parent) index pairs, radius nm. */
export interface SkeletonGraph {
  vertices: Float32Array;
  edges: Uint32Array;
  radius: Float32Array;
  /** SWC structure type per vertex (0 undefined, 1 soma, 2 axon, 3 dendrite...), if known. */
  types?: Uint8Array;
  /** Original SWC node ids per vertex (exact unsigned 64-bit), if read from SWC. */
  ids?: BigUint64Array;
}

/**
 * One SWC node id or parent field as an exact unsigned 64-bit id (ids above 2^53 stay exact):
 * digits (a trailing `.0` as some writers add is accepted); for a parent, any negative number
 * (normally -1) means "no parent" and gives -1n. Anything else is a FormatError naming the line.
 */
export function parseSwcId(field: string, what: 'node id' | 'parent', line: number, where: string): bigint {
  const m = /^\+?(\d+)(?:\.0*)?$/.exec(field);
  if (m) {
    const v = BigInt(m[1]);
    if (v > MAX_ID) throw new FormatError(`line ${line}: ${what} ${field} is larger than 2^64-1`, where);
    return v;
  }
  if (what === 'parent' && /^-\d+(?:\.0*)?$/.test(field)) return -1n;
  throw new FormatError(`line ${line}: ${what} ${JSON.stringify(field)} is not a whole number${what === 'parent' ? ' (or -1 for a root)' : ''}`, where);
}

/**
 * Builds a skeleton graph from SWC lines fed one at a time (the text is never held): node ids and
 * parents in growable typed arrays, checked when the graph is made (a duplicate id, a parent not
 * in the file). Memory: about 40 bytes a node plus the id index.
 */
export class SwcBuilder {
  private n = 0;
  private ids = new BigUint64Array(1024);
  private parents = new BigUint64Array(1024);
  private hasParent = new Uint8Array(1024);
  private xyz = new Float32Array(3 * 1024);
  private rad = new Float32Array(1024);
  private types = new Uint8Array(1024);
  private lines = new Uint32Array(1024);
  private readonly index = new Map<bigint, number>();

  constructor(
    private readonly where: string,
    private readonly scale = 1,
  ) {}

  private grow(): void {
    const cap = this.ids.length * 2;
    const g = <T extends { length: number; set(a: ArrayLike<number | bigint>): void }>(a: T, C: new (n: number) => T, per = 1): T => {
      const b = new C(cap * per);
      b.set(a as unknown as ArrayLike<number | bigint>);
      return b;
    };
    this.ids = g(this.ids, BigUint64Array);
    this.parents = g(this.parents, BigUint64Array);
    this.hasParent = g(this.hasParent, Uint8Array);
    this.xyz = g(this.xyz, Float32Array, 3);
    this.rad = g(this.rad, Float32Array);
    this.types = g(this.types, Uint8Array);
    this.lines = g(this.lines, Uint32Array);
  }

  /** One line of the file (1-based number `ln`); comments and blank lines are skipped. */
  line(raw: string, ln: number): void {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const w = line.split(/[\s,]+/);
    if (w.length < 7) throw new FormatError(`line ${ln}: expected "id type x y z radius parent", got ${JSON.stringify(line.slice(0, 200))}`, this.where);
    const v = w.slice(1, 6).map(Number);
    if (v.some((x) => !Number.isFinite(x))) throw new FormatError(`line ${ln}: non-numeric field in ${JSON.stringify(line.slice(0, 200))}`, this.where);
    const id = parseSwcId(w[0], 'node id', ln, this.where);
    const parent = parseSwcId(w[6], 'parent', ln, this.where);
    if (this.index.has(id)) throw new FormatError(`node id ${id} appears twice (line ${ln})`, this.where);
    if (this.n === this.ids.length) this.grow();
    const i = this.n++;
    this.index.set(id, i);
    this.ids[i] = id;
    if (parent >= 0n) {
      this.parents[i] = parent;
      this.hasParent[i] = 1;
    }
    this.types[i] = v[0];
    this.xyz[3 * i] = v[1] * this.scale;
    this.xyz[3 * i + 1] = v[2] * this.scale;
    this.xyz[3 * i + 2] = v[3] * this.scale;
    this.rad[i] = v[4] * this.scale;
    this.lines[i] = ln;
  }

  /** The graph of the lines fed so far (parents checked). */
  graph(): SkeletonGraph {
    const n = this.n;
    let m = 0;
    for (let i = 0; i < n; i++) m += this.hasParent[i];
    const edges = new Uint32Array(2 * m);
    let k = 0;
    for (let i = 0; i < n; i++) {
      if (!this.hasParent[i]) continue;
      const j = this.index.get(this.parents[i]);
      if (j === undefined) throw new FormatError(`node ${this.ids[i]} has parent ${this.parents[i]}, which is not in the file (line ${this.lines[i]})`, this.where);
      edges[k++] = i;
      edges[k++] = j;
    }
    return {
      vertices: this.xyz.slice(0, 3 * n),
      edges,
      radius: this.rad.slice(0, n),
      types: this.types.slice(0, n),
      ids: this.ids.slice(0, n),
    };
  }
}

export function parseSwc(text: string, opts: { scale?: number; where?: string } = {}): SkeletonGraph {
  const b = new SwcBuilder(opts.where ?? 'SWC', opts.scale ?? 1);
  const lines = text.split(/\r?\n/);
  for (let ln = 0; ln < lines.length; ln++) b.line(lines[ln], ln + 1);
  return b.graph();
}

/** Vertices that have no parent in the SWC (its roots), in file order. */
export function swcRoots(g: SkeletonGraph): number[] {
  const nv = g.vertices.length / 3;
  const child = new Uint8Array(nv);
  for (let k = 0; k < g.edges.length; k += 2) child[g.edges[k]] = 1;
  const out: number[] = [];
  for (let v = 0; v < nv; v++) if (!child[v]) out.push(v);
  return out;
}

/** Read an SWC file (gzipped or not) line by line into a skeleton graph (text never held whole). */
export async function readSwc(file: string, opts: { scale?: number } = {}): Promise<SkeletonGraph> {
  const b = new SwcBuilder(file, opts.scale ?? 1);
  for await (const { n, text } of readLines(file)) b.line(text, n);
  return b.graph();
}

/** Orient a skeleton graph as a forest (src/core/tree.ts); SWC writes parents first. */
export const orient = orientForest;

/** SWC text of a skeleton graph (nm divided by `scale`); ids 1..n in parent-first order. */
export function formatSwc(g: SkeletonGraph, opts: { root?: number; comment?: string; scale?: number } = {}): string {
  const { parent, order } = orient(g, opts.root ?? -1);
  const scale = opts.scale ?? 1;
  const newId = new Int32Array(parent.length);
  order.forEach((v, i) => (newId[v] = i + 1));
  const lines: string[] = [];
  if (opts.comment) for (const c of opts.comment.split('\n')) lines.push(`# ${c}`);
  const r = (x: number) => +(x / scale).toFixed(3);
  for (const v of order) {
    const t = g.types ? g.types[v] : 0;
    const p = parent[v] < 0 ? -1 : newId[parent[v]];
    lines.push(`${newId[v]} ${t} ${r(g.vertices[3 * v])} ${r(g.vertices[3 * v + 1])} ${r(g.vertices[3 * v + 2])} ${r(g.radius[v] ?? 0)} ${p}`);
  }
  return lines.join('\n') + '\n';
}

export async function writeSwc(file: string, g: SkeletonGraph, opts: { root?: number; comment?: string; scale?: number } = {}): Promise<void> {
  await writeFileAtomic(file, formatSwc(g, opts));
}
