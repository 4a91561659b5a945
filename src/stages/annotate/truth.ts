/**
 * Ground truth for scoring and training: the compartment code of a label layer (e.g. the
 * phantom's `compartments` layer: 0 none, 1 soma, 2 axon, 3 dendrite, 4 spine head, 5 spine neck)
 * at points in nm, read chunk by chunk (only the chunks that hold points, a few cached at a time).
 */
import { UsageError } from '../../core/errors.js';
import { PrecomputedLayer } from '../../formats/precomputed/index.js';
import type { Volume } from '../../core/volume.js';

export class LabelSampler {
  private cache = new Map<string, Volume>();
  private constructor(
    readonly layer: PrecomputedLayer,
    readonly where: string,
  ) {}

  static async open(dir: string): Promise<LabelSampler> {
    const layer = await PrecomputedLayer.open(dir);
    if (layer.info.num_channels !== 1) throw new UsageError(`${layer.info.num_channels} channels; a label layer has one`, dir);
    return new LabelSampler(layer, dir);
  }

  /** Label at each point (nm, x,y,z per point); 0 outside the layer. */
  async sample(points: ArrayLike<number>): Promise<Float64Array> {
    const s = this.layer.info.scales[0];
    const vs = s.resolution, off = s.voxel_offset, size = s.size, ch = s.chunk_sizes[0];
    const n = Math.floor(points.length / 3);
    const out = new Float64Array(n);
    // group points by chunk so each chunk is read once
    const byChunk = new Map<string, number[]>();
    const vox: number[][] = [];
    for (let i = 0; i < n; i++) {
      const v = [0, 1, 2].map((a) => Math.floor(points[3 * i + a] / vs[a]));
      vox.push(v);
      if (v.some((x, a) => x < off[a] || x >= off[a] + size[a])) continue;
      const k = v.map((x, a) => Math.floor((x - off[a]) / ch[a])).join(',');
      let arr = byChunk.get(k);
      if (!arr) byChunk.set(k, (arr = []));
      arr.push(i);
    }
    for (const [k, idx] of byChunk) {
      let vol = this.cache.get(k);
      if (!vol) {
        const c = k.split(',').map(Number);
        const min = [0, 1, 2].map((a) => off[a] + c[a] * ch[a]) as [number, number, number];
        const max = [0, 1, 2].map((a) => Math.min(off[a] + size[a], min[a] + ch[a])) as [number, number, number];
        vol = await this.layer.readBox({ min, max });
        if (this.cache.size > 64) this.cache.clear();
        this.cache.set(k, vol);
      }
      const b = vol.box;
      const sx = b.max[0] - b.min[0], sy = b.max[1] - b.min[1];
      for (const i of idx) {
        const [x, y, z] = vox[i];
        out[i] = Number(vol.data[x - b.min[0] + sx * (y - b.min[1] + sy * (z - b.min[2]))]);
      }
    }
    return out;
  }
}
