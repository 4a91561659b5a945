/**
 * The interactive loop of one dataset, kept beside it:
 *
 *   <dataset>/interactive/strokes.jsonl      one stroke per line (append-only; who and when)
 *   <dataset>/interactive/models/<n>.forest  every model trained (n = 1, 2, ...)
 *   <dataset>/interactive/models/<n>.json    its training report, stroke count, user, time
 *
 * Training runs in the background (one job at a time; a request while one runs is queued and
 * trains on the strokes there are when it starts). Prediction layers are computed per chunk
 * when a viewer asks (the chunks of the view first, by construction), cached in memory.
 */
import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../../core/atomic.js';
import type { Box } from '../../core/box.js';
import { UsageError } from '../../core/errors.js';
import { openSource } from '../../formats/open.js';
import type { VolumeSource } from '../../formats/source.js';
import { PixelModel } from './model.js';
import { INTERACTIVE_DEFAULTS, type Stroke, checkStroke, predictBox, sparseLabels, trainFromStrokes } from './interactive.js';

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

export type PredictionKind = 'probabilities' | 'uncertainty';

export class InteractiveService {
  private strokesCache: Stroke[] = [];
  private readonly jobs: TrainJob[] = [];
  private queue: Promise<void> = Promise.resolve();
  private readonly models = new Map<number, PixelModel>();
  private readonly chunks = new Map<string, Promise<{ probabilities: Uint8Array; uncertainty: Uint8Array }>>();
  private appending: Promise<void> = Promise.resolve();

  private constructor(
    readonly dataset: string,
    readonly rawLayer: string,
    readonly raw: VolumeSource,
  ) {}

  get dir(): string {
    return path.join(this.dataset, INTERACTIVE_DIR);
  }

  /** Open the loop of a dataset whose raw image layer is `<dataset>/<raw>`. */
  static async open(dataset: string, raw = 'raw'): Promise<InteractiveService> {
    const rawPath = path.join(dataset, raw);
    if (!existsSync(path.join(rawPath, 'info'))) throw new UsageError(`no raw layer ${raw} in ${dataset}`);
    const src = await openSource(rawPath);
    const s = new InteractiveService(dataset, raw, src);
    s.strokesCache = await s.readStrokes();
    return s;
  }

  get bounds(): Box {
    const r = this.raw;
    return { min: r.offset, max: [r.offset[0] + r.shape[0], r.offset[1] + r.shape[1], r.offset[2] + r.shape[2]] };
  }

  private async readStrokes(): Promise<Stroke[]> {
    const file = path.join(this.dir, 'strokes.jsonl');
    if (!existsSync(file)) return [];
    const text = await fs.readFile(file, 'utf8');
    const out: Stroke[] = [];
    // a last line without its newline was cut by a crash mid-append: not a stroke
    const lines = text.split('\n');
    lines.pop();
    for (const l of lines) if (l.trim()) out.push(JSON.parse(l) as Stroke);
    return out;
  }

  strokes(): { strokes: Stroke[]; voxels: Record<number, number>; classes: Record<number, string> } {
    const labels = sparseLabels(this.strokesCache, this.bounds);
    return { strokes: this.strokesCache, voxels: labels.counts, classes: INTERACTIVE_DEFAULTS.classNames };
  }

  /** Save one stroke (validated); appended to the log with who and when. */
  async addStroke(body: unknown, user: string): Promise<{ index: number; stroke: Stroke }> {
    const s: Stroke = { ...checkStroke(body, this.bounds), user, time: new Date().toISOString() };
    const run = this.appending.then(async () => {
      await fs.mkdir(this.dir, { recursive: true });
      const h = await fs.open(path.join(this.dir, 'strokes.jsonl'), 'a');
      try {
        await h.write(JSON.stringify(s) + '\n');
        await h.sync();
      } finally {
        await h.close();
      }
      this.strokesCache.push(s);
    });
    this.appending = run.catch(() => {});
    await run;
    return { index: this.strokesCache.length - 1, stroke: s };
  }

  /** Queue a training job on the strokes there are when it starts. */
  train(user: string, o: { trees?: number } = {}): TrainJob {
    const job: TrainJob = { id: this.jobs.length + 1, state: 'queued', user, strokes: this.strokesCache.length };
    this.jobs.push(job);
    this.queue = this.queue.then(async () => {
      job.state = 'running';
      const t0 = performance.now();
      try {
        const strokes = [...this.strokesCache];
        job.strokes = strokes.length;
        const { model, report } = await trainFromStrokes(this.raw, strokes, { trees: o.trees });
        const n = (await this.modelIds()).reduce((a, b) => Math.max(a, b), 0) + 1;
        await fs.mkdir(path.join(this.dir, 'models'), { recursive: true });
        await model.save(path.join(this.dir, 'models', `${n}.forest`));
        job.seconds = +((performance.now() - t0) / 1000).toFixed(3);
        job.report = { classes: report.classes, labelledVoxels: report.labelledVoxels, samplesPerClass: report.samplesPerClass, trees: report.trees, region: report.region, warnings: report.warnings };
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

  /** Precomputed info of a prediction layer of a model (latest or n). */
  async info(kind: PredictionKind, which: string): Promise<Record<string, unknown>> {
    const { model } = await this.model(which);
    const r = this.raw;
    const chunk = [Math.min(64, r.shape[0]), Math.min(64, r.shape[1]), Math.min(16, r.shape[2])];
    return {
      '@type': 'neuroglancer_multiscale_volume',
      type: 'image',
      data_type: 'uint8',
      num_channels: kind === 'probabilities' ? model.outputChannels : 1,
      scales: [{ key: 'p', size: r.shape, voxel_offset: r.offset, resolution: r.voxelSize, chunk_sizes: [chunk], encoding: 'raw' }],
    };
  }

  /** One raw uint8 chunk (`x0-x1_y0-y1_z0-z1`) of a prediction layer, computed on first request. */
  async chunk(kind: PredictionKind, which: string, name: string): Promise<Uint8Array> {
    const { id, model } = await this.model(which);
    const m = /^(\d+)-(\d+)_(\d+)-(\d+)_(\d+)-(\d+)$/.exec(name);
    if (!m) throw new UsageError(`chunk ${JSON.stringify(name)}: expected x0-x1_y0-y1_z0-z1`);
    const b: Box = { min: [+m[1], +m[3], +m[5]], max: [+m[2], +m[4], +m[6]] };
    const bounds = this.bounds;
    for (let a = 0; a < 3; a++) if (b.min[a] < bounds.min[a] || b.max[a] > bounds.max[a] || b.max[a] <= b.min[a] || b.max[a] - b.min[a] > 64) throw new UsageError(`chunk ${name} is not a chunk of this layer`);
    const key = `${id}/${name}`;
    let p = this.chunks.get(key);
    if (!p) {
      p = predictBox(model, this.raw, b).then((r) => ({ probabilities: r.probabilities.data as Uint8Array, uncertainty: r.uncertainty.data as Uint8Array }));
      p.catch(() => this.chunks.delete(key));
      if (this.chunks.size > 512) this.chunks.delete(this.chunks.keys().next().value as string);
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
