// The "Train" panel: label strokes in Neuroglancer, train the pixel forest on them, see the
// prediction and uncertainty as layers, re-cut the merge tree with a slider, run the whole
// volume. Shown only when the server has the interactive routes (GET /api/interactive/labels).
//
// Strokes are line annotations of a local annotation layer "strokes" whose coordinates are the
// viewer's voxel grid; each line committed there (drawn with Neuroglancer's line tool in any
// cross-section, or added through the layer's annotation source) is POSTed as a stroke of the
// selected class and tagged with the class name (its description).
import { makeLayer } from 'neuroglancer/unstable/layer/index.js';
import { AnnotationType } from 'neuroglancer/unstable/annotation/index.js';
import type { LayerInfo, Vec3 } from './api.js';
import { referenceLayer } from './viewer.js';

export const STROKES_LAYER = 'strokes';
export const PREDICTION_LAYER = 'prediction';
export const UNCERTAINTY_LAYER = 'uncertainty';
export const RECUT_LAYER = 'recut';
const TOKEN_KEY = 'wiring.token';
const USER_KEY = 'wiring.user';
const POLL_MS = 300;

interface Labels {
  strokes: unknown[];
  voxels: Record<string, number>;
  classes: Record<string, string>;
}

interface TrainJob {
  id: number;
  state: 'queued' | 'running' | 'done' | 'failed';
  strokes: number;
  model?: number;
  error?: string;
  seconds?: number;
}

interface RunStage {
  name: string;
  state: string;
  seconds?: number;
  error?: string;
}

interface Run {
  id: number;
  state: 'queued' | 'running' | 'done' | 'failed';
  stages: RunStage[];
  notification: string | null;
}

function $(id: string): HTMLElement {
  const e = document.getElementById(id);
  if (!e) throw new Error(`page is missing #${id}`);
  return e;
}

async function json<T>(url: string, init?: RequestInit): Promise<T> {
  const r = await fetch(url, init);
  const text = await r.text();
  let body: any;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`${url}: HTTP ${r.status}, not JSON`);
  }
  if (!r.ok) throw new Error(body?.error ?? body?.message ?? `${url}: HTTP ${r.status}`);
  return body as T;
}

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The plane of a line from its two voxel ends: xy if they share z, else xz if they share y, else yz. */
export function strokePlane(a: Vec3, b: Vec3): 'xy' | 'xz' | 'yz' {
  if (a[2] === b[2]) return 'xy';
  if (a[1] === b[1]) return 'xz';
  return 'yz';
}

export class TrainPanel {
  /** Strokes the app has POSTed (annotation id -> server's stroke index), for tests and the status line. */
  readonly posted = new Map<string, number>();
  private classes: Record<string, string> = {};
  private watchedSource: any = null;
  private countsTimer: number | undefined;
  /** Latest model shown in the viewer (null before any training). */
  model: number | null = null;
  private recutTimer: number | undefined;
  private recutSeq = 0;

  constructor(
    private readonly viewer: any,
    private readonly layers: LayerInfo[],
    private readonly origin = location.origin,
  ) {}

  /** Show the panel if the server has the interactive routes; false when it has not. */
  async start(): Promise<boolean> {
    let labels: Labels;
    try {
      labels = await json<Labels>('/api/interactive/labels');
    } catch {
      return false;
    }
    this.classes = labels.classes;
    const select = $('train-class') as HTMLSelectElement;
    select.replaceChildren(
      ...Object.entries(labels.classes).map(([v, name]) => {
        const o = document.createElement('option');
        o.value = v;
        o.textContent = `${v} ${name}`;
        return o;
      }),
    );
    const token = $('train-token') as HTMLInputElement;
    token.value = sessionStorage.getItem(TOKEN_KEY) ?? '';
    token.addEventListener('input', () => sessionStorage.setItem(TOKEN_KEY, token.value));
    const user = $('train-user') as HTMLInputElement;
    user.value = localStorage.getItem(USER_KEY) ?? '';
    user.addEventListener('input', () => localStorage.setItem(USER_KEY, user.value));
    $('train-button').addEventListener('click', () => void this.train());
    $('run-button').addEventListener('click', () => void this.runWholeVolume());
    this.renderCounts(labels);
    $('train-section').hidden = false;
    // add layers once the dataset's layers are set up: layers added while Neuroglancer is still
    // settling the global coordinate space get their render layers rebuilt, and the chunk worker
    // can then be handed a source it has already dropped (an error in the worker)
    await this.layersReady();
    this.ensureStrokesLayer();
    this.viewer.layerManager.layersChanged.add(() => this.watchStrokes());
    this.watchStrokes();
    await this.startRecut();
    return true;
  }

  private async layersReady(timeoutMs = 15_000): Promise<void> {
    const lm = this.viewer.layerManager;
    const end = Date.now() + timeoutMs;
    while (!lm.managedLayers.every((l: any) => l.isReady()) && Date.now() < end) await wait(50);
  }

  private headers(): Record<string, string> {
    const h: Record<string, string> = { 'Content-Type': 'application/json' };
    const t = sessionStorage.getItem(TOKEN_KEY);
    if (t) h.Authorization = `Bearer ${t}`;
    const u = localStorage.getItem(USER_KEY);
    if (u) h['X-Wiring-User'] = u;
    return h;
  }

  private post<T>(url: string, body: unknown): Promise<T> {
    return json<T>(url, { method: 'POST', headers: this.headers(), body: JSON.stringify(body) });
  }

  private say(id: string, text: string, error = false): void {
    const e = $(id);
    e.textContent = text;
    e.className = error ? 'error' : 'muted';
  }

  private dimensions(): any {
    const vs = referenceLayer(this.layers)?.voxel_size ?? [1, 1, 1];
    return { x: [vs[0] * 1e-9, 'm'], y: [vs[1] * 1e-9, 'm'], z: [vs[2] * 1e-9, 'm'] };
  }

  /** Add (or replace) a layer of the viewer from its JSON spec. */
  private setLayer(name: string, spec: any, replace = true): void {
    const lm = this.viewer.layerManager;
    const old = lm.getLayerByName(name);
    if (old && !replace) return;
    const index = old ? lm.managedLayers.indexOf(old) : undefined;
    if (old) lm.removeManagedLayer(old);
    const layer = makeLayer(this.viewer.layerSpecification, name, spec);
    this.viewer.layerSpecification.add(layer, index);
  }

  /** The strokes layer (kept when the saved viewer state already has it), with the line tool bound. */
  private ensureStrokesLayer(): void {
    this.setLayer(
      STROKES_LAYER,
      {
        type: 'annotation',
        source: { url: 'local://annotations', transform: { outputDimensions: this.dimensions() } },
        tool: 'annotateLine',
        annotationColor: '#4cf',
        annotations: [],
      },
      false,
    );
  }

  private watchStrokes(): void {
    const source = this.viewer.layerManager.getLayerByName(STROKES_LAYER)?.layer?.localAnnotations;
    if (!source || source === this.watchedSource) {
      if (!source) {
        // the local source exists once the layer's data source is set up
        const managed = this.viewer.layerManager.getLayerByName(STROKES_LAYER);
        managed?.layer?.dataSourcesChanged?.add(() => this.watchStrokes());
      }
      return;
    }
    this.watchedSource = source;
    source.childCommitted.add((id: string) => void this.onLineCommitted(source, id));
  }

  private async onLineCommitted(source: any, id: string): Promise<void> {
    const ann = source.get(id);
    if (!ann || ann.type !== AnnotationType.LINE || ann.description || this.posted.has(id)) return;
    const cls = Number(($('train-class') as HTMLSelectElement).value);
    const name = this.classes[cls] ?? String(cls);
    const a = Array.from(ann.pointA as Float32Array, (v) => Math.floor(v)) as Vec3;
    const b = Array.from(ann.pointB as Float32Array, (v) => Math.floor(v)) as Vec3;
    const radius = Number(($('train-radius') as HTMLInputElement).value);
    const tag = (description: string) => {
      const ref = source.getReference(id);
      try {
        if (ref.value) source.update(ref, { ...ref.value, description });
      } finally {
        ref.dispose();
      }
    };
    this.posted.set(id, -1);
    try {
      const r = await this.post<{ index: number }>('/api/interactive/labels', { cls, points: [a, b], radius, plane: strokePlane(a, b) });
      this.posted.set(id, r.index);
      tag(name);
      this.say('train-status', `stroke ${r.index + 1} saved (${name})`);
      this.scheduleCounts();
    } catch (err) {
      this.posted.delete(id);
      tag(`${name} (not saved)`);
      this.say('train-status', `stroke not saved: ${(err as Error).message}`, true);
    }
  }

  private scheduleCounts(): void {
    clearTimeout(this.countsTimer);
    this.countsTimer = window.setTimeout(async () => {
      try {
        this.renderCounts(await json<Labels>('/api/interactive/labels'));
      } catch (err) {
        this.say('train-status', (err as Error).message, true);
      }
    }, 150);
  }

  private renderCounts(labels: Labels): void {
    const body = $('train-counts').querySelector('tbody')!;
    body.replaceChildren(
      ...Object.entries(labels.classes).map(([v, name]) => {
        const tr = document.createElement('tr');
        tr.dataset.cls = v;
        const a = document.createElement('td');
        a.textContent = name;
        const b = document.createElement('td');
        b.className = 'num';
        b.textContent = String(labels.voxels[v] ?? 0);
        tr.append(a, b);
        return tr;
      }),
    );
    $('train-stroke-count').textContent = `(${labels.strokes.length} strokes)`;
  }

  /** Queue training, follow the job, then show the new model's prediction and uncertainty. */
  async train(): Promise<void> {
    const button = $('train-button') as HTMLButtonElement;
    button.disabled = true;
    try {
      let job = await this.post<TrainJob>('/api/interactive/train', {});
      while (job.state === 'queued' || job.state === 'running') {
        this.say('train-status', `training job ${job.id}: ${job.state} (${job.strokes} strokes)`);
        await wait(POLL_MS);
        job = await json<TrainJob>(`/api/interactive/train/${job.id}`);
      }
      if (job.state === 'failed') throw new Error(`training failed: ${job.error}`);
      this.model = job.model!;
      this.showPrediction(job.model!);
      this.say('train-status', `model ${job.model} trained on ${job.strokes} strokes in ${job.seconds} s; predicting the view`);
    } catch (err) {
      this.say('train-status', (err as Error).message, true);
    } finally {
      button.disabled = false;
    }
  }

  private showPrediction(model: number): void {
    const base = `precomputed://${this.origin}/api/interactive`;
    this.setLayer(PREDICTION_LAYER, {
      type: 'image',
      source: `${base}/probabilities/${model}`,
      opacity: 0.6,
      // channel 0 = the first class of the model (boundary when it was labelled): magenta
      shader: '#uicontrol int channel slider(min=0, max=4, default=0)\nvoid main() {\n  float v = toNormalized(getDataValue(channel));\n  emitRGBA(vec4(v, 0.0, v, v));\n}\n',
    });
    this.setLayer(UNCERTAINTY_LAYER, {
      type: 'image',
      source: `${base}/uncertainty/${model}`,
      opacity: 0.5,
      shader: 'void main() {\n  float v = toNormalized(getDataValue());\n  emitRGBA(vec4(1.0, 0.85, 0.0, v));\n}\n',
    });
  }

  /** The merge-tree slider, when the server can re-cut a segmentation. */
  private async startRecut(): Promise<void> {
    const slider = $('recut-threshold') as HTMLInputElement;
    try {
      await json('/api/recut/segments?threshold=' + slider.value);
    } catch {
      return;
    }
    $('recut-box').hidden = false;
    slider.addEventListener('input', () => {
      $('recut-value').textContent = slider.value;
      clearTimeout(this.recutTimer);
      this.recutTimer = window.setTimeout(() => void this.recut(), 120);
    });
    $('recut-choose').addEventListener('click', async () => {
      try {
        const r = await this.post<{ threshold: number; segments: number | null }>('/api/recut/choose', { threshold: Number(slider.value) });
        this.say('recut-status', `cut ${r.threshold} kept with the segmentation (${r.segments ?? '?'} segments)`);
      } catch (err) {
        this.say('recut-status', (err as Error).message, true);
      }
    });
    await this.recut();
  }

  /** Show the cut at the slider's threshold: the layer and its segment count. */
  async recut(): Promise<void> {
    const t = String(Number(($('recut-threshold') as HTMLInputElement).value));
    const seq = ++this.recutSeq;
    $('recut-value').textContent = t;
    this.setLayer(RECUT_LAYER, { type: 'segmentation', source: `precomputed://${this.origin}/api/recut/${t}`, selectedAlpha: 0.35, notSelectedAlpha: 0.35, segments: [] });
    try {
      const r = await json<{ threshold: number; segments: number | null }>(`/api/recut/segments?threshold=${t}`);
      if (seq !== this.recutSeq) return;
      const count = $('recut-count');
      count.dataset.threshold = t;
      count.textContent = r.segments === null ? '? segments' : `${r.segments} segments`;
    } catch (err) {
      this.say('recut-status', (err as Error).message, true);
    }
  }

  /** Queue the whole-volume pipeline and follow its stages until it is done or failed. */
  async runWholeVolume(): Promise<void> {
    const button = $('run-button') as HTMLButtonElement;
    button.disabled = true;
    try {
      let run = await this.post<Run>('/api/runs', {});
      for (;;) {
        this.renderRun(run);
        if (run.state === 'done' || run.state === 'failed') break;
        await wait(1000);
        run = await json<Run>(`/api/runs/${run.id}`);
      }
    } catch (err) {
      this.say('run-status', (err as Error).message, true);
    } finally {
      button.disabled = false;
    }
  }

  private renderRun(run: Run): void {
    const list = $('run-stages');
    list.replaceChildren(
      ...run.stages.map((s) => {
        const li = document.createElement('li');
        li.dataset.stage = s.name;
        li.dataset.state = s.state;
        li.textContent = `${s.name}: ${s.state}${s.seconds !== undefined ? ` (${s.seconds.toFixed(1)} s)` : ''}${s.error ? ` — ${s.error.split('\n')[0]}` : ''}`;
        return li;
      }),
    );
    this.say('run-status', run.notification ?? `run ${run.id}: ${run.state}`, run.state === 'failed');
  }
}
