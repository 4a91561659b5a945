/**
 * The interactive loop of one dataset, kept beside it:
 *
 *   <dataset>/interactive/strokes.jsonl      append-only log, one JSON object per line:
 *                                            a stroke {id, cls, points, radius, plane, user, time}
 *                                            or a deletion {delete: id, user, time}
 *                                            (lines of older logs without an id: id = stroke ordinal)
 *   <dataset>/interactive/models/<n>.forest  every model trained (n = 1, 2, ...)
 *   <dataset>/interactive/models/<n>.json    its training report, stroke count, user, time
 *
 * Training runs in the background (one job at a time; a request while one runs is queued and
 * trains on the strokes there are when it starts). Prediction layers are computed per chunk
 * when a viewer asks (the chunks of the view first, by construction), cached in memory. The
 * features come from one FeatureCache per dataset: a stroke's tiles are computed as it is saved,
 * the view's (a hint sent with the train request) while the forest trains, so a model's first
 * prediction of the view costs only the forest.
 */
import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../../core/atomic.js';
import { type Box, type Vec3, boxIntersect, boxIsEmpty, boxVoxels } from '../../core/box.js';
import { FormatError, UsageError } from '../../core/errors.js';
import { openSource } from '../../formats/open.js';
import type { VolumeSource } from '../../formats/source.js';
import { PixelModel } from './model.js';
import { FeatureCache } from './feature-cache.js';
import { INTERACTIVE_DEFAULTS, type Stroke, checkStroke, interactiveFeatureConfig, predictBox, sparseLabels, strokeVoxels, trainFromStrokes } from './interactive.js';

export const INTERACTIVE_DIR = 'interactive';

/** Ids of the models trained in a dataset's interactive loop (`interactive/models/<n>.forest`), ascending. */
export async function interactiveModelIds(dataset: string): Promise<number[]> {
  const d = path.join(dataset, INTERACTIVE_DIR, 'models');
  if (!existsSync(d)) return [];
  return (await fs.readdir(d)).map((f) => /^(\d+)\.forest$/.exec(f)).filter((m): m is RegExpExecArray => m !== null).map((m) => Number(m[1])).sort((a, b) => a - b);
}

export interface TrainJob {
  id: number;
  state: 'queued' | 'running' | 'done' | 'failed';
  user: string;
  strokes: number;
  model?: number;
  error?: string;
  seconds?: number;
  report?: unknown;
}

export interface StrokeDeletion {
  delete: number;
  user: string;
  time: string;
}

/** Most voxels of a view hint (a 1024 x 1024 section). */
const MAX_VIEW_VOXELS = 1024 * 1024;

export type PredictionKind = 'probabilities' | 'uncertainty';

export class InteractiveService {
  private strokesCache: Stroke[] = [];
  private deletions: StrokeDeletion[] = [];
  private lastId = 0;
  readonly features: FeatureCache;
  private readonly jobs: TrainJob[] = [];
  private queue: Promise<void> = Promise.resolve();
  private readonly models = new Map<number, PixelModel>();
  private readonly chunks = new Map<string, Promise<{ probabilities: Uint8Array; uncertainty: Uint8Array }>>();
  private appending: Promise<void> = Promise.resolve();

  private constructor(
    readonly dataset: string,
    readonly rawLayer: string,
    readonly raw: VolumeSource,
  ) {
    this.features = new FeatureCache(raw, interactiveFeatureConfig(raw));
  }

  get dir(): string {
    return path.join(this.dataset, INTERACTIVE_DIR);
  }

  /** Open the loop of a dataset whose raw image layer is `<dataset>/<raw>`. */
  static async open(dataset: string, raw = 'raw'): Promise<InteractiveService> {
    const rawPath = path.join(dataset, raw);
    if (!existsSync(path.join(rawPath, 'info'))) throw new UsageError(`no raw layer ${raw} in ${dataset}`);
    const src = await openSource(rawPath);
    const s = new InteractiveService(dataset, raw, src);
    await s.readLog();
    return s;
  }

  get bounds(): Box {
    const r = this.raw;
    return { min: r.offset, max: [r.offset[0] + r.shape[0], r.offset[1] + r.shape[1], r.offset[2] + r.shape[2]] };
  }

  private async readLog(): Promise<void> {
    const file = path.join(this.dir, 'strokes.jsonl');
    if (!existsSync(file)) return;
    const text = await fs.readFile(file, 'utf8');
    // a last line without its newline was cut by a crash mid-append: not a record
    const lines = text.split('\n');
    lines.pop();
    const strokes: Stroke[] = [];
    let ordinal = 0;
    lines.forEach((l, i) => {
      if (!l.trim()) return;
      let o: Record<string, unknown>;
      try {
        o = JSON.parse(l);
      } catch (err) {
        throw new FormatError(`line ${i + 1}: not JSON (${(err as Error).message})`, file);
      }
      if (typeof o.delete === 'number') {
        this.deletions.push(o as unknown as StrokeDeletion);
        return;
      }
      ordinal++;
      const s = { ...o, id: typeof o.id === 'number' ? o.id : ordinal } as Stroke;
      strokes.push(s);
      this.lastId = Math.max(this.lastId, s.id);
    });
    const gone = new Set(this.deletions.map((d) => d.delete));
    this.strokesCache = strokes.filter((s) => !gone.has(s.id));
  }

  strokes(): { strokes: Stroke[]; deleted: StrokeDeletion[]; voxels: Record<number, number>; classes: Record<number, string> } {
    const labels = sparseLabels(this.strokesCache, this.bounds);
    return { strokes: this.strokesCache, deleted: this.deletions, voxels: labels.counts, classes: INTERACTIVE_DEFAULTS.classNames };
  }

  private append(record: unknown): Promise<void> {
    const run = this.appending.then(async () => {
      await fs.mkdir(this.dir, { recursive: true });
      const h = await fs.open(path.join(this.dir, 'strokes.jsonl'), 'a');
      try {
        await h.write(JSON.stringify(record) + '\n');
        await h.sync();
      } finally {
        await h.close();
      }
    });
    this.appending = run.catch(() => {});
    return run;
  }

  /** Save one stroke (validated) with who and when; its feature tiles are computed in the background. */
  async addStroke(body: unknown, user: string): Promise<{ id: number; index: number; stroke: Stroke }> {
    const checked = checkStroke(body, this.bounds);
    const s: Stroke = { id: ++this.lastId, ...checked, user, time: new Date().toISOString() };
    await this.append(s);
    this.strokesCache.push(s);
    this.features.warm(strokeVoxels(s, this.bounds));
    return { id: s.id, index: this.strokesCache.length - 1, stroke: s };
  }

  /** Delete a stroke by id: a deletion record (who, when) is appended; the stroke leaves the labels. */
  async deleteStroke(id: number, user: string): Promise<StrokeDeletion> {
    if (!Number.isInteger(id) || id < 1) throw new UsageError(`stroke id ${JSON.stringify(id)}: expected a positive whole number`);
    const k = this.strokesCache.findIndex((s) => s.id === id);
    if (k < 0) throw new UsageError(this.deletions.some((d) => d.delete === id) ? `stroke ${id} is already deleted` : `no stroke ${id}`);
    const d: StrokeDeletion = { delete: id, user, time: new Date().toISOString() };
    await this.append(d);
    const now = this.strokesCache.findIndex((s) => s.id === id);
    if (now >= 0) this.strokesCache.splice(now, 1);
    this.deletions.push(d);
    return d;
  }

  /** Compute the features of a view (a box the viewer shows) in the background. */
  warmView(view: unknown): void {
    const v = view as { min?: unknown; max?: unknown };
    const ok = (p: unknown): p is number[] => Array.isArray(p) && p.length === 3 && p.every((x) => Number.isInteger(x));
    if (!v || !ok(v.min) || !ok(v.max)) throw new UsageError('view: expected {min: [x, y, z], max: [x, y, z]} (voxels)');
    const b = boxIntersect({ min: [v.min[0], v.min[1], v.min[2]], max: [v.max[0], v.max[1], v.max[2]] }, this.bounds);
    if (boxIsEmpty(b)) return;
    if (boxVoxels(b) > MAX_VIEW_VOXELS) throw new UsageError(`view [${b.min}]..[${b.max}] has ${boxVoxels(b)} voxels; at most ${MAX_VIEW_VOXELS} are computed ahead`);
    this.features.warmBox(b);
  }

  /** Queue a training job on the strokes there are when it starts. */
  train(user: string, o: { trees?: number; view?: unknown } = {}): TrainJob {
    if (o.view !== undefined) this.warmView(o.view);
    const job: TrainJob = { id: this.jobs.length + 1, state: 'queued', user, strokes: this.strokesCache.length };
    this.jobs.push(job);
    this.queue = this.queue.then(async () => {
      job.state = 'running';
      const t0 = performance.now();
      try {
        const strokes = [...this.strokesCache];
        job.strokes = strokes.length;
        const { model, report } = await trainFromStrokes(this.raw, strokes, { trees: o.trees, cache: this.features });
        const n = (await this.modelIds()).reduce((a, b) => Math.max(a, b), 0) + 1;
        await fs.mkdir(path.join(this.dir, 'models'), { recursive: true });
        await model.save(path.join(this.dir, 'models', `${n}.forest`));
        job.seconds = +((performance.now() - t0) / 1000).toFixed(3);
        job.report = { classes: report.classes, labelledVoxels: report.labelledVoxels, samplesPerClass: report.samplesPerClass, trees: report.trees, region: report.region, warnings: report.warnings, seconds: report.seconds };
        await writeFileAtomic(path.join(this.dir, 'models', `${n}.json`), JSON.stringify({ model: n, user, time: new Date().toISOString(), strokes: strokes.length, seconds: job.seconds, report: job.report }, null, 1) + '\n');
        this.models.set(n, model);
        job.model = n;
        job.state = 'done';
      } catch (err) {
        job.state = 'failed';
        job.error = (err as Error).message;
      }
    });
    return job;
  }

  job(id: number): TrainJob {
    const j = this.jobs[id - 1];
    if (!j) throw new UsageError(`no training job ${id}`);
    return j;
  }

  async modelIds(): Promise<number[]> {
    return interactiveModelIds(this.dataset);
  }

  private async model(which: string): Promise<{ id: number; model: PixelModel }> {
    const ids = await this.modelIds();
    if (ids.length === 0) throw new UsageError('no model trained yet: draw strokes of two classes, then train');
    const id = which === 'latest' ? ids[ids.length - 1] : Number(which);
    if (!ids.includes(id)) throw new UsageError(`no model ${which} (models: ${ids.join(', ')})`);
    let m = this.models.get(id);
    if (!m) {
      m = await PixelModel.load(path.join(this.dir, 'models', `${id}.forest`));
      this.models.set(id, m);
    }
    return { id, model: m };
  }

  /**
   * Chunk shapes of the prediction layers: one section for the xy view (features are per section
   * on anisotropic stacks), rows across sections for the xz and yz views; Neuroglancer picks the
   * one that needs the fewest voxels for each view.
   */
  chunkSizes(): Vec3[] {
    const r = this.raw.shape;
    const c = INTERACTIVE_DEFAULTS.chunk, zc = Math.min(INTERACTIVE_DEFAULTS.chunkZ, r[2]);
    const xy: Vec3 = [Math.min(c, r[0]), Math.min(c, r[1]), 1];
    return [xy, [Math.min(c, r[0]), 1, zc], [1, Math.min(c, r[1]), zc]];
  }

  /** Precomputed info of a prediction layer of a model (latest or n). */
  async info(kind: PredictionKind, which: string): Promise<Record<string, unknown>> {
    const { model } = await this.model(which);
    const r = this.raw;
    return {
      '@type': 'neuroglancer_multiscale_volume',
      type: 'image',
      data_type: 'uint8',
      num_channels: kind === 'probabilities' ? model.outputChannels : 1,
      scales: [{ key: 'p', size: r.shape, voxel_offset: r.offset, resolution: r.voxelSize, chunk_sizes: this.chunkSizes(), encoding: 'raw' }],
    };
  }

  /** Is `b` a chunk of the prediction layers (a cell of one of the chunk grids, clipped at the far bounds)? */
  private isChunk(b: Box): boolean {
    const lo = this.bounds.min, hi = this.bounds.max;
    return this.chunkSizes().some((c) => [0, 1, 2].every((a) => (b.min[a] - lo[a]) % c[a] === 0 && b.min[a] >= lo[a] && b.max[a] === Math.min(b.min[a] + c[a], hi[a])));
  }

  /** One raw uint8 chunk (`x0-x1_y0-y1_z0-z1`) of a prediction layer, computed on first request. */
  async chunk(kind: PredictionKind, which: string, name: string): Promise<Uint8Array> {
    const { id, model } = await this.model(which);
    const m = /^(\d+)-(\d+)_(\d+)-(\d+)_(\d+)-(\d+)$/.exec(name);
    if (!m) throw new UsageError(`chunk ${JSON.stringify(name)}: expected x0-x1_y0-y1_z0-z1`);
    const b: Box = { min: [+m[1], +m[3], +m[5]], max: [+m[2], +m[4], +m[6]] };
    if (!this.isChunk(b)) throw new UsageError(`chunk ${name} is not a chunk of this layer (chunk sizes ${this.chunkSizes().map((c) => c.join('x')).join(', ')})`);
    const key = `${id}/${name}`;
    let p = this.chunks.get(key);
    if (!p) {
      p = predictBox(model, this.raw, b, { cache: this.features }).then((r) => ({ probabilities: r.probabilities.data as Uint8Array, uncertainty: r.uncertainty.data as Uint8Array }));
      p.catch(() => this.chunks.delete(key));
      if (this.chunks.size > 2048) this.chunks.delete(this.chunks.keys().next().value as string);
      this.chunks.set(key, p);
    }
    const r = await p;
    return kind === 'probabilities' ? r.probabilities : r.uncertainty;
  }

  async close(): Promise<void> {
    await this.queue;
    await this.raw.close();
  }
}
