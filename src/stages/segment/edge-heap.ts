/**
 * The greedy merge's queue: a binary min-heap of (score, edge, version) entries on typed arrays,
 * ordered by score, then by edge id (deterministic ties). Deletion is lazy: a rescored edge is
 * pushed again with a new version and its old entries are skipped when popped (the caller checks
 * the version). `compact` drops the stale entries when they outnumber the live ones, so the heap's
 * memory follows the live edges, not the number of rescorings. The pop order of the live entries
 * depends only on their (score, edge) pairs, never on the order they were pushed in, so building
 * the heap at once (`build`) or compacting it changes nothing in the merge.
 */
export class EdgeHeap {
  key: Float64Array;
  id: Int32Array;
  ver: Uint32Array;
  size = 0;
  /** the last popped entry */
  topKey = 0;
  topId = 0;
  topVer = 0;

  constructor(capacity = 1024) {
    const c = Math.max(16, capacity);
    this.key = new Float64Array(c);
    this.id = new Int32Array(c);
    this.ver = new Uint32Array(c);
  }

  /** A heap of edges 0..n-1 with scores keys[e], version 0 (heapified in linear time). */
  static build(keys: Float64Array, n: number): EdgeHeap {
    const h = new EdgeHeap(n + (n >> 2));
    h.key.set(keys.subarray(0, n));
    for (let e = 0; e < n; e++) h.id[e] = e;
    h.size = n;
    h.heapify();
    return h;
  }

  private grow(): void {
    const c = Math.ceil(this.key.length * 1.5);
    const k2 = new Float64Array(c); k2.set(this.key); this.key = k2;
    const i2 = new Int32Array(c); i2.set(this.id); this.id = i2;
    const v2 = new Uint32Array(c); v2.set(this.ver); this.ver = v2;
  }

  push(k: number, e: number, v: number): void {
    if (this.size === this.key.length) this.grow();
    let i = this.size++;
    const K = this.key, I = this.id, V = this.ver;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (K[p] < k || (K[p] === k && I[p] <= e)) break;
      K[i] = K[p]; I[i] = I[p]; V[i] = V[p];
      i = p;
    }
    K[i] = k; I[i] = e; V[i] = v;
  }

  /** Pops the smallest entry into (topKey, topId, topVer); false when empty. */
  pop(): boolean {
    if (this.size === 0) return false;
    const K = this.key, I = this.id, V = this.ver;
    this.topKey = K[0]; this.topId = I[0]; this.topVer = V[0];
    const n = --this.size;
    if (n > 0) this.siftDown(0, K[n], I[n], V[n], n);
    return true;
  }

  private siftDown(i: number, k: number, e: number, v: number, n: number): void {
    const K = this.key, I = this.id, V = this.ver;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n && (K[c + 1] < K[c] || (K[c + 1] === K[c] && I[c + 1] < I[c]))) c++;
      if (K[c] > k || (K[c] === k && I[c] >= e)) break;
      K[i] = K[c]; I[i] = I[c]; V[i] = V[c];
      i = c;
    }
    K[i] = k; I[i] = e; V[i] = v;
  }

  private heapify(): void {
    const n = this.size;
    for (let i = (n >> 1) - 1; i >= 0; i--) this.siftDown(i, this.key[i], this.id[i], this.ver[i], n);
  }

  /** Keeps only the entries `live(edge, version)` says are current, and restores the heap order. */
  compact(live: (e: number, v: number) => boolean): void {
    const K = this.key, I = this.id, V = this.ver;
    let m = 0;
    for (let i = 0; i < this.size; i++) {
      if (!live(I[i], V[i])) continue;
      K[m] = K[i]; I[m] = I[i]; V[m] = V[i];
      m++;
    }
    this.size = m;
    this.heapify();
  }
}
