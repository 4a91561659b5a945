/**
 * SWC skeletons (Cannon et al. 1998; the NeuroMorpho/CATMAID/navis text format): one node per line
 * `id type x y z radius parent` (parent -1 for a root), `#` comments. Read into a graph with nm
 * coordinates (`scale` multiplies x, y, z and radius, e.g. 8 for hemibrain's 8 nm voxel units).
 */
import { promises as fs } from 'node:fs';
import { writeFileAtomic } from '../core/atomic.js';
import { FormatError } from '../core/errors.js';
import { MAX_ID } from '../core/ids.js';
import { orientForest } from '../core/tree.js';

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

export function parseSwc(text: string, opts: { scale?: number; where?: string } = {}): SkeletonGraph {
  const where = opts.where ?? 'SWC';
  const scale = opts.scale ?? 1;
  const ids: bigint[] = [];
  const parents: bigint[] = [];
  const xyz: number[] = [];
  const rad: number[] = [];
  const types: number[] = [];
  const lines = text.split(/\r?\n/);
  for (let ln = 0; ln < lines.length; ln++) {
    const line = lines[ln].trim();
    if (line === '' || line.startsWith('#')) continue;
    const w = line.split(/[\s,]+/);
    if (w.length < 7) throw new FormatError(`line ${ln + 1}: expected "id type x y z radius parent", got ${JSON.stringify(line)}`, where);
    const v = w.slice(1, 6).map(Number);
    if (v.some((n) => !Number.isFinite(n))) throw new FormatError(`line ${ln + 1}: non-numeric field in ${JSON.stringify(line)}`, where);
    ids.push(parseSwcId(w[0], 'node id', ln + 1, where));
    parents.push(parseSwcId(w[6], 'parent', ln + 1, where));
    types.push(v[0]);
    xyz.push(v[1] * scale, v[2] * scale, v[3] * scale);
    rad.push(v[4] * scale);
  }
  const index = new Map<bigint, number>();
  ids.forEach((id, i) => {
    if (index.has(id)) throw new FormatError(`node id ${id} appears twice`, where);
    index.set(id, i);
  });
  const edges: number[] = [];
  parents.forEach((p, i) => {
    if (p < 0n) return;
    const j = index.get(p);
    if (j === undefined) throw new FormatError(`node ${ids[i]} has parent ${p}, which is not in the file`, where);
    edges.push(i, j);
  });
  return {
    vertices: Float32Array.from(xyz),
    edges: Uint32Array.from(edges),
    radius: Float32Array.from(rad),
    types: Uint8Array.from(types),
    ids: BigUint64Array.from(ids),
  };
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

export async function readSwc(file: string, opts: { scale?: number } = {}): Promise<SkeletonGraph> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new FormatError(code === 'EISDIR' ? 'is a folder; expected an SWC file' : `cannot read: ${(err as Error).message}`, file);
  }
  return parseSwc(text, { ...opts, where: file });
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
