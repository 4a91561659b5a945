// The "Train" panel: label strokes in Neuroglancer, train the pixel forest on them, see the
// prediction and uncertainty as layers, re-cut the merge tree with a slider, run the whole
// volume. Shown only when the server has the interactive routes (GET /api/interactive/labels).
//
// Strokes: with "brush" on, a drag in any of the three cross-sections paints a freehand stroke
// (the voxels under the mouse, in that panel's plane; a click paints a dot); or line/point
// annotations of the local annotation layer "strokes" (Neuroglancer's tools, or added through
// the layer's annotation source) become strokes. Each is POSTed as a stroke of the selected class
// and shown in the strokes layer tagged with the class name (its description); deleting one of
// its annotations (or "delete last stroke") deletes the stroke on the server (who and when kept).
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

interface ServerStroke {
  id: number;
  cls: number;
  points: Vec3[];
  plane: Plane;
}

type Plane = 'xy' | 'xz' | 'yz';

interface Labels {
  strokes: ServerStroke[];
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
  progress?: { label: string; done: number; total: number };
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
export function strokePlane(a: Vec3, b: Vec3): Plane {
  if (a[2] === b[2]) return 'xy';
  if (a[1] === b[1]) return 'xz';
  return 'yz';
}

/** Column-major 4x4 matrix times [x, y, z, 1], divided by w. */
function transform(m: ArrayLike<number>, v: number[]): number[] {
  const w = m[3] * v[0] + m[7] * v[1] + m[11] * v[2] + m[15] || 1;
  return [0, 1, 2].map((i) => (m[i] * v[0] + m[4 + i] * v[1] + m[8 + i] * v[2] + m[12 + i]) / w);
}

/** The annotations showing a stroke: a point, or the line segments of its polyline. */
function strokeAnnotations(s: ServerStroke, description: string): any[] {
  const at = (p: Vec3) => Float32Array.from(p, (x) => x + 0.5);
  if (s.points.length === 1) return [{ type: AnnotationType.POINT, id: `s${s.id}.0`, description, point: at(s.points[0]), properties: [] }];
  return s.points.slice(1).map((b, k) => ({ type: AnnotationType.LINE, id: `s${s.id}.${k}`, description, pointA: at(s.points[k]), pointB: at(b), properties: [] }));
}

export class TrainPanel {
  /** Line/point annotations the app has POSTed (annotation id -> the stroke's id; -1 while saving). */
  readonly posted = new Map<string, number>();
  /** Annotations showing each stroke, and the stroke of each annotation. */
  private readonly annsOf = new Map<number, string[]>();
  private readonly strokeOf = new Map<string, number>();
  private readonly removing = new Set<string>();
  private readonly known = new Map<number, ServerStroke>();
  /** Brush stroke being drawn. */
  private drawing: { panel: any; plane: Plane; points: Vec3[] } | null = null;
  private lastPanel: any = null;
  /** Ids of the brush strokes saved (for tests and the status line). */
  readonly brushed: number[] = [];
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
    $('train-undo').addEventListener('click', () => void this.deleteLast());
    for (const st of labels.strokes) this.known.set(st.id, st);
    this.renderCounts(labels);
    $('train-section').hidden = false;
    // add layers once the dataset's layers are set up: layers added while Neuroglancer is still
    // settling the global coordinate space get their render layers rebuilt, and the chunk worker
    // can then be handed a source it has already dropped (an error in the worker)
    await this.layersReady();
    this.ensureStrokesLayer();
    this.viewer.layerManager.layersChanged.add(() => this.watchStrokes());
    this.watchStrokes();
    this.installBrush();
    await this.startRecut();
    return true;
  }

  private async layersReady(timeoutMs = 15_000): Promise<void> {
    const lm = this.viewer.layerManager;
    const end = Date.now() + timeoutMs;
    while (!lm.managedLayers.every((l: any) => l.isReady()) && Date.now() < end) await wait(50);
  }

  private headers(body = true): Record<string, string> {
    // no JSON content type without a body (Fastify refuses an empty JSON body)
    const h: Record<string, string> = body ? { 'Content-Type': 'application/json' } : {};
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

  /** The strokes layer (rebuilt from the server's strokes, not from a saved viewer state), with the line tool bound. */
  private ensureStrokesLayer(): void {
    this.setLayer(STROKES_LAYER, {
      type: 'annotation',
      source: { url: 'local://annotations', transform: { outputDimensions: this.dimensions() } },
      tool: 'annotateLine',
      annotationColor: '#4cf',
      annotations: [],
    });
  }

  private source(): any {
    return this.viewer.layerManager.getLayerByName(STROKES_LAYER)?.layer?.localAnnotations;
  }

  /** Show a saved stroke in the strokes layer. */
  private showStroke(st: ServerStroke, source = this.source()): void {
    this.known.set(st.id, st);
    if (!source || this.annsOf.has(st.id)) return;
    const anns = strokeAnnotations(st, this.classes[st.cls] ?? String(st.cls));
    for (const a of anns) {
      this.strokeOf.set(a.id, st.id);
      if (!source.get(a.id)) source.add(a).dispose();
    }
    this.annsOf.set(st.id, anns.map((a) => a.id));
  }

  /** Remove a stroke's annotations from the strokes layer (not from the server). */
  private hideStroke(id: number): void {
    const source = this.source();
    for (const a of this.annsOf.get(id) ?? []) {
      this.strokeOf.delete(a);
      if (!source?.get(a)) continue;
      this.removing.add(a);
      const ref = source.getReference(a);
      try {
        source.delete(ref);
      } finally {
        ref.dispose();
      }
    }
    this.annsOf.delete(id);
  }

  /** Delete a stroke on the server, then its annotations; on failure it is shown again. */
  async deleteStroke(id: number): Promise<void> {
    try {
      await json(`/api/interactive/labels/${id}`, { method: 'DELETE', headers: this.headers(false) });
      this.hideStroke(id);
      this.known.delete(id);
      this.say('train-status', `stroke ${id} deleted`);
      this.scheduleCounts();
    } catch (err) {
      const st = this.known.get(id);
      this.annsOf.delete(id);
      if (st) this.showStroke(st);
      this.say('train-status', `stroke ${id} not deleted: ${(err as Error).message}`, true);
    }
  }

  private async deleteLast(): Promise<void> {
    try {
      const labels = await json<Labels>('/api/interactive/labels');
      const last = labels.strokes[labels.strokes.length - 1];
      if (!last) return this.say('train-status', 'no stroke to delete');
      await this.deleteStroke(last.id);
    } catch (err) {
      this.say('train-status', (err as Error).message, true);
    }
  }

  private onAnnotationDeleted(annId: string): void {
    if (this.removing.delete(annId)) return;
    const id = this.strokeOf.get(annId);
    this.posted.delete(annId);
    if (id === undefined) return;
    // the stroke's other annotations go with it
    this.annsOf.set(id, (this.annsOf.get(id) ?? []).filter((a) => a !== annId));
    this.strokeOf.delete(annId);
    void this.deleteStroke(id);
  }

  /** The slice-view panel containing an element, if any. */
  private slicePanelAt(target: EventTarget | null): any {
    for (const p of this.viewer.display.panels) if (p.sliceView && target instanceof Node && p.element.contains(target)) return p;
    return null;
  }

  /** Global (voxel) coordinates under a screen point of a slice-view panel (unrounded). */
  private positionAt(panel: any, clientX: number, clientY: number): number[] {
    const pp = panel.sliceView.projectionParameters.value;
    const el = panel.element as HTMLElement;
    const r = el.getBoundingClientRect();
    const mx = clientX - (r.left + el.clientLeft), my = clientY - (r.top + el.clientTop);
    const gx = mx - pp.visibleLeftFraction * pp.logicalWidth;
    const gy = pp.height - (my - pp.visibleTopFraction * pp.logicalHeight);
    const v = transform(pp.invViewProjectionMat, [(2 * gx) / pp.width - 1, (2 * gy) / pp.height - 1, 0]);
    const pos = Array.from(panel.navigationState.position.value as Float32Array);
    const dd = panel.navigationState.pose.displayDimensions.value;
    for (let i = 0; i < dd.displayRank; i++) pos[dd.displayDimensionIndices[i]] = v[i];
    return pos;
  }

  /** The plane a slice-view panel shows (xy, xz or yz), or null when it is oblique. */
  panelPlane(panel: any): Plane | null {
    const el = panel.element as HTMLElement;
    const r = el.getBoundingClientRect();
    const cx = r.left + r.width / 2, cy = r.top + r.height / 2;
    const o = this.positionAt(panel, cx, cy), a = this.positionAt(panel, cx + 20, cy), b = this.positionAt(panel, cx, cy + 20);
    const flat = (k: number) => Math.abs(a[k] - o[k]) < 1e-3 && Math.abs(b[k] - o[k]) < 1e-3;
    return flat(2) ? 'xy' : flat(1) ? 'xz' : flat(0) ? 'yz' : null;
  }

  private voxelAt(panel: any, e: MouseEvent, plane: Plane, first?: Vec3): Vec3 {
    const p = this.positionAt(panel, e.clientX, e.clientY).map((v) => Math.floor(v)) as [number, number, number];
    // stay in the stroke's plane
    if (first) p[plane === 'xy' ? 2 : plane === 'xz' ? 1 : 0] = first[plane === 'xy' ? 2 : plane === 'xz' ? 1 : 0];
    return p;
  }

  /** Brush mode: drag in a cross-section to paint a freehand stroke (Neuroglancer does not see the drag). */
  private installBrush(): void {
    const brush = $('train-brush') as HTMLInputElement;
    window.addEventListener(
      'mousedown',
      (e) => {
        if (!brush.checked || e.button !== 0 || e.ctrlKey || e.shiftKey || e.altKey || e.metaKey) return;
        const panel = this.slicePanelAt(e.target);
        if (!panel) return;
        e.preventDefault();
        e.stopImmediatePropagation();
        const plane = this.panelPlane(panel);
        if (!plane) return this.say('train-status', 'brush: this view is oblique; paint in an xy, xz or yz cross-section', true);
        this.drawing = { panel, plane, points: [this.voxelAt(panel, e, plane)] };
      },
      true,
    );
    window.addEventListener(
      'mousemove',
      (e) => {
        const panel = this.slicePanelAt(e.target);
        if (panel) this.lastPanel = panel;
        const d = this.drawing;
        if (!d) return;
        e.stopImmediatePropagation();
        const p = this.voxelAt(d.panel, e, d.plane, d.points[0]);
        const last = d.points[d.points.length - 1];
        if (p.some((v, k) => v !== last[k])) d.points.push(p);
      },
      true,
    );
    window.addEventListener(
      'mouseup',
      (e) => {
        const d = this.drawing;
        if (!d) return;
        this.drawing = null;
        e.stopImmediatePropagation();
        void this.saveBrush(d.points, d.plane);
      },
      true,
    );
  }

  private async saveBrush(points: Vec3[], plane: Plane): Promise<void> {
    const cls = Number(($('train-class') as HTMLSelectElement).value);
    const radius = Number(($('train-radius') as HTMLInputElement).value);
    try {
      const r = await this.post<{ id: number; stroke: ServerStroke }>('/api/interactive/labels', { cls, points, radius, plane });
      this.showStroke(r.stroke);
      this.brushed.push(r.id);
      this.say('train-status', `stroke ${r.id} saved (${this.classes[cls] ?? cls}, ${points.length} points, ${plane})`);
      this.scheduleCounts();
    } catch (err) {
      this.say('train-status', `stroke not saved: ${(err as Error).message}`, true);
    }
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
    source.childDeleted.add((id: string) => this.onAnnotationDeleted(id));
    // a new source (layer rebuilt): show every saved stroke in it
    this.annsOf.clear();
    this.strokeOf.clear();
    for (const st of this.known.values()) this.showStroke(st, source);
  }

  private async onLineCommitted(source: any, id: string): Promise<void> {
    const ann = source.get(id);
    if (!ann || (ann.type !== AnnotationType.LINE && ann.type !== AnnotationType.POINT) || ann.description || this.posted.has(id) || this.strokeOf.has(id)) return;
    const cls = Number(($('train-class') as HTMLSelectElement).value);
    const name = this.classes[cls] ?? String(cls);
    const a = Array.from((ann.pointA ?? ann.point) as Float32Array, (v) => Math.floor(v)) as Vec3;
    const b = ann.type === AnnotationType.LINE ? (Array.from(ann.pointB as Float32Array, (v) => Math.floor(v)) as Vec3) : null;
    // a point's disc lies in the plane of the panel it was placed in
    const pointPlane = (): Plane => (this.lastPanel ? this.panelPlane(this.lastPanel) : null) ?? 'xy';
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
      const r = await this.post<{ id: number; stroke: ServerStroke }>('/api/interactive/labels', { cls, points: b ? [a, b] : [a], radius, plane: b ? strokePlane(a, b) : pointPlane() });
      this.posted.set(id, r.id);
      this.strokeOf.set(id, r.id);
      this.annsOf.set(r.id, [id]);
      this.known.set(r.id, r.stroke);
      tag(name);
      this.say('train-status', `stroke ${r.id} saved (${name})`);
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
      let job = await this.post<TrainJob>('/api/interactive/train', { view: this.viewBox() });
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

  /** The box the xy view shows (one section, at most 1024 x 1024): its features are computed while the forest trains. */
  viewBox(): { min: Vec3; max: Vec3 } {
    const nav = this.viewer.navigationState;
    const pos = nav.position.value as Float32Array;
    const zoom = nav.zoomFactor.value as number;
    let w = 0, h = 0;
    for (const p of this.viewer.display.panels) {
      if (!p.sliceView) continue;
      w = Math.max(w, p.element.clientWidth);
      h = Math.max(h, p.element.clientHeight);
    }
    const hx = Math.max(1, Math.min(512, Math.ceil((w / 2) * zoom))), hy = Math.max(1, Math.min(512, Math.ceil((h / 2) * zoom)));
    const c = [Math.floor(pos[0]), Math.floor(pos[1]), Math.floor(pos[2])];
    return { min: [c[0] - hx, c[1] - hy, c[2]], max: [c[0] + hx, c[1] + hy, c[2] + 1] };
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
    let range: { min: number; max: number; threshold: number | null; chosen: number | null };
    try {
      range = await json('/api/recut/range');
    } catch {
      return;
    }
    // the tree's own range: just below its lowest score nothing is merged, at its highest everything
    const pad = range.max > range.min ? (range.max - range.min) / 100 : 0.01;
    slider.min = String(+(range.min - pad).toPrecision(6));
    slider.max = String(range.max);
    slider.step = 'any';
    slider.value = String(range.chosen ?? range.threshold ?? (range.min + range.max) / 2);
    slider.dataset.min = String(range.min);
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
    if (typeof Notification !== 'undefined' && Notification.permission === 'default') void Notification.requestPermission().catch(() => {});
    try {
      let run = await this.post<Run>('/api/runs', {});
      for (;;) {
        this.renderRun(run);
        if (run.state === 'done' || run.state === 'failed') {
          if (run.notification) this.notify(run.notification);
          break;
        }
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
        const progress = s.progress && s.state === 'running' ? ` ${s.progress.label} ${s.progress.done}/${s.progress.total}` : '';
        if (progress) li.dataset.done = String(s.progress!.done);
        li.textContent = `${s.name}: ${s.state}${progress}${s.seconds !== undefined ? ` (${s.seconds.toFixed(1)} s)` : ''}${s.error ? ` — ${s.error.split('\n')[0]}` : ''}`;
        return li;
      }),
    );
    this.say('run-status', run.notification ?? `run ${run.id}: ${run.state}`, run.state === 'failed');
  }

  /** A desktop notification when the browser allows it (asked for when a run starts). */
  private notify(text: string): void {
    if (typeof Notification !== 'undefined' && Notification.permission === 'granted') new Notification('Wiring', { body: text });
  }
}
