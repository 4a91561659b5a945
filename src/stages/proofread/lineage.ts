/**
 * Lineage queries over the edit log, as CAVE's ChunkedGraph answers them: the roots an id was
 * replaced by (latest roots), the ids a root came from (past ids), the operations that touched a
 * root, its creation and retirement, and the lineage graph around it. Pure: (start roots, records).
 */
import { EditError } from './state.js';
import type { EditRecord } from './record.js';

export interface RootInfo {
  id: string;
  /** op that made it; 0 = the starting state */
  created_by: number;
  created_at: string | null;
  retired_by: number | null;
  retired_at: string | null;
}

export interface LineageGraph {
  nodes: RootInfo[];
  /** parent root -> child root, through operation op */
  edges: Array<{ from: string; to: string; op: number }>;
}

export class Lineage {
  private made = new Map<string, EditRecord>();
  private ended = new Map<string, EditRecord>();
  private touching = new Map<string, number[]>();

  constructor(private readonly isStartRoot: (id: bigint) => boolean, readonly records: EditRecord[], private readonly startTime: string | null = null) {
    for (const r of records) {
      for (const c of r.created) { this.made.set(c.id, r); this.touch(c.id, r.op); }
      for (const id of r.retired) { this.ended.set(id, r); this.touch(id, r.op); }
    }
  }

  private touch(id: string, op: number): void {
    const l = this.touching.get(id);
    if (l) l.push(op);
    else this.touching.set(id, [op]);
  }

  /** Is `id` a root id of any version (start root or made by an edit)? */
  known(id: bigint): boolean {
    return this.made.has(id.toString()) || this.isStartRoot(id);
  }

  private check(id: bigint): string {
    if (!this.known(id)) throw new EditError(`${id} is not a root id of this segmentation (neither a starting root nor made by an edit)`);
    return id.toString();
  }

  info(id: bigint): RootInfo {
    const s = this.check(id);
    const m = this.made.get(s), e = this.ended.get(s);
    return { id: s, created_by: m?.op ?? 0, created_at: m?.time ?? this.startTime, retired_by: e?.op ?? null, retired_at: e?.time ?? null };
  }

  /** The current roots that replaced `id` (itself when it is current). */
  latest(id: bigint): string[] {
    const out = new Set<string>();
    const stack = [this.check(id)];
    const seen = new Set<string>();
    while (stack.length) {
      const x = stack.pop()!;
      if (seen.has(x)) continue;
      seen.add(x);
      const e = this.ended.get(x);
      if (!e) out.add(x);
      else for (const c of e.created) stack.push(c.id);
    }
    return [...out].sort(cmp);
  }

  /** Every later root made from `id` (its descendants, down to the current ones). */
  descendants(id: bigint): string[] {
    const out = new Set<string>();
    const stack = [this.check(id)];
    while (stack.length) {
      const e = this.ended.get(stack.pop()!);
      if (!e) continue;
      for (const c of e.created) if (!out.has(c.id)) { out.add(c.id); stack.push(c.id); }
    }
    return [...out].sort(cmp);
  }

  /** Operations on the cell of `id`: those that touched it, its past ids or its descendants. */
  cellOperations(id: bigint): number[] {
    const ids = [this.check(id), ...this.past(id), ...this.descendants(id)];
    return [...new Set(ids.flatMap((x) => this.touching.get(x) ?? []))].sort((a, b) => a - b);
  }

  /** Every earlier root `id` came from, back to the starting roots. */
  past(id: bigint): string[] {
    const out = new Set<string>();
    const stack = [this.check(id)];
    while (stack.length) {
      const m = this.made.get(stack.pop()!);
      if (!m) continue;
      for (const p of m.retired) if (!out.has(p)) { out.add(p); stack.push(p); }
    }
    return [...out].sort(cmp);
  }

  /** Operations that made or retired `id`, ascending. */
  operations(id: bigint): number[] {
    return [...(this.touching.get(this.check(id)) ?? [])].sort((a, b) => a - b);
  }

  /** Roots within `steps` operations of `id`, both directions, and the edges between them. */
  graph(id: bigint, steps = 3): LineageGraph {
    const nodes = new Map<string, RootInfo>();
    const edges = new Map<string, { from: string; to: string; op: number }>();
    let frontier = [this.check(id)];
    nodes.set(frontier[0], this.info(id));
    for (let s = 0; s < steps && frontier.length; s++) {
      const next: string[] = [];
      for (const x of frontier) {
        const rel: Array<[EditRecord | undefined, 'down' | 'up']> = [[this.ended.get(x), 'down'], [this.made.get(x), 'up']];
        for (const [r, dir] of rel) {
          if (!r) continue;
          for (const p of r.retired) for (const c of r.created) edges.set(`${p}>${c.id}`, { from: p, to: c.id, op: r.op });
          for (const y of dir === 'down' ? r.created.map((c) => c.id) : r.retired) if (!nodes.has(y)) { nodes.set(y, this.info(BigInt(y))); next.push(y); }
        }
      }
      frontier = next;
    }
    return { nodes: [...nodes.values()].sort((a, b) => cmp(a.id, b.id)), edges: [...edges.values()].filter((e) => nodes.has(e.from) && nodes.has(e.to)).sort((a, b) => a.op - b.op || cmp(a.from, b.from) || cmp(a.to, b.to)) };
  }
}

function cmp(a: string, b: string): number {
  const x = BigInt(a), y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}
