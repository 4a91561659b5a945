/**
 * Supervoxel id (u64) -> dense index, without bigints: an open-addressing table over the two
 * 32-bit halves of each id (typed arrays only), so a lookup of many ids held in a BigUint64Array
 * (e.g. the supervoxel of each skeleton vertex) reads its Uint32Array view and never hashes a
 * bigint. Built once per base (the base's ids never change).
 */
export class IdIndex {
  private readonly lo: Uint32Array;
  private readonly hi: Uint32Array;
  private readonly val: Int32Array;
  private readonly mask: number;

  /** `ids[l]` = the id of dense index l (index 0 = id 0 is left out). */
  constructor(ids: BigUint64Array) {
    const halves = new Uint32Array(ids.buffer, ids.byteOffset, 2 * ids.length);
    let cap = 16;
    while (cap < 2 * ids.length) cap *= 2;
    this.mask = cap - 1;
    this.lo = new Uint32Array(cap);
    this.hi = new Uint32Array(cap);
    this.val = new Int32Array(cap).fill(-1);
    for (let l = 1; l < ids.length; l++) {
      const a = halves[2 * l], b = halves[2 * l + 1];
      let h = IdIndex.hash(a, b) & this.mask;
      while (this.val[h] >= 0 && !(this.lo[h] === a && this.hi[h] === b)) h = (h + 1) & this.mask;
      if (this.val[h] < 0) {
        this.lo[h] = a;
        this.hi[h] = b;
        this.val[h] = l;
      }
    }
  }

  private static hash(a: number, b: number): number {
    return (Math.imul(a, 0x9e3779b1) ^ Math.imul(b + 0x7f4a7c15, 0x85ebca6b)) >>> 0;
  }

  /** Dense index of the id whose low and high 32 bits are a and b; -1 when the base has none. */
  get(a: number, b: number): number {
    let h = IdIndex.hash(a, b) & this.mask;
    for (;;) {
      const v = this.val[h];
      if (v < 0) return -1;
      if (this.lo[h] === a && this.hi[h] === b) return v;
      h = (h + 1) & this.mask;
    }
  }

  /** Dense index of every id of `ids` (-1 for ids the base does not have). */
  all(ids: BigUint64Array): Int32Array {
    const halves = new Uint32Array(ids.buffer, ids.byteOffset, 2 * ids.length);
    const out = new Int32Array(ids.length);
    for (let i = 0; i < ids.length; i++) out[i] = this.get(halves[2 * i], halves[2 * i + 1]);
    return out;
  }
}
