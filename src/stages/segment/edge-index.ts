/**
 * The edge between two regions, found by its endpoints during the greedy merge: an open-addressing
 * hash (linear probing) whose slots hold edge ids only; an edge's key is its current endpoints
 * (min, max) read from the merge's own `u`/`v` columns, so the table costs 4 bytes a slot (2-4
 * slots per edge) instead of a Map per region. Removal shifts the following entries back (no
 * tombstones), so the table never fills with dead slots however many edges are relabelled.
 * An edge must be removed before its endpoints change, and inserted again after.
 */
import { hashPair } from '../../core/hash.js';

export class EdgeIndex {
  /** edge id + 1, 0 = empty */
  private slots: Int32Array;
  private mask: number;

  constructor(private readonly u: Uint32Array, private readonly v: Uint32Array, maxEdges: number) {
    let cap = 16;
    while (cap < 2 * maxEdges) cap *= 2;
    this.slots = new Int32Array(cap);
    this.mask = cap - 1;
  }

  private home(e: number): number {
    const a = this.u[e];
    const b = this.v[e];
    return (a < b ? hashPair(a, b) : hashPair(b, a)) & this.mask;
  }

  /** The edge between regions a and b, or -1. */
  find(a: number, b: number): number {
    if (a > b) {
      const t = a;
      a = b;
      b = t;
    }
    const S = this.slots, U = this.u, V = this.v, m = this.mask;
    for (let h = hashPair(a, b) & m; ; h = (h + 1) & m) {
      const s = S[h];
      if (s === 0) return -1;
      const e = s - 1;
      const x = U[e];
      const y = V[e];
      if ((x === a && y === b) || (x === b && y === a)) return e;
    }
  }

  /** Adds edge e under its current endpoints (the caller knows no other edge joins them). */
  insert(e: number): void {
    const S = this.slots, m = this.mask;
    let h = this.home(e);
    while (S[h] !== 0) h = (h + 1) & m;
    S[h] = e + 1;
  }

  /** Removes edge e (under its current endpoints); false when it is not in the table. */
  remove(e: number): boolean {
    const S = this.slots, m = this.mask;
    let i = this.home(e);
    for (;;) {
      if (S[i] === 0) return false;
      if (S[i] === e + 1) break;
      i = (i + 1) & m;
    }
    // backward shift: move later entries of the probe run into the hole when their home allows it
    S[i] = 0;
    let j = i;
    for (;;) {
      j = (j + 1) & m;
      const s = S[j];
      if (s === 0) return true;
      const k = this.home(s - 1);
      // the entry at j may fill the hole at i unless its home lies cyclically in (i, j]
      const inRange = i <= j ? k > i && k <= j : k > i || k <= j;
      if (inRange) continue;
      S[i] = s;
      S[j] = 0;
      i = j;
    }
  }
}
