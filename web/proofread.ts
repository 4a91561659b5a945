// The "Proofread" panel: merge two picked segments, split one by source and sink points with a
// preview of the minimum cut (its two sides in two colours) before it is applied, undo/redo, the
// selected cell's edit history and its proofreading status (axon/dendrite: non, clean,
// extended). Shown only when the server proofreads (GET /api/proofread/edits answers).
//
// The cells are shown from the served version `precomputed://<server>/api/proofread/versions/<op>/segmentation`
// (layer "proofread", with its mesh source); every edit makes a new op, and the layer moves to
// the new version's URL (versions never change, so Neuroglancer's cache stays right).
// Points are picked with ctrl+shift+click in any view (Neuroglancer's mouse position in the
// global coordinate space, sent in nm; the server looks up the supervoxel under it).
import { makeLayer } from 'neuroglancer/unstable/layer/index.js';
import { Uint64 } from 'neuroglancer/unstable/util/uint64.js';
import type { Vec3 } from './api.js';

export const PROOFREAD_LAYER = 'proofread';
export const PREVIEW_LAYER = 'split preview';
export const PICK_ACTION = 'wiring-proofread-pick';
export const PICK_BINDING = 'at:control+shift+mousedown0';
const TOKEN_KEY = 'wiring.token';
const USER_KEY = 'wiring.user';
const STATUSES = ['non', 'clean', 'extended'];
/** side colours of a split preview: 1 = the sources' side, 2 = the sinks' side */
export const PREVIEW_COLOURS: Record<string, string> = { '1': '#ff3b30', '2': '#2f8cff' };

export interface EditRecord {
  op: number;
  time: string;
  user: string;
  kind: 'merge' | 'split' | 'undo' | 'redo';
  target?: number;
  retired: string[];
  created: Array<{ id: string; supervoxel: string }>;
}

export interface SplitPreview {
  id: number;
  op: number;
  root: string;
  cut_capacity: number;
  cut_edges: number;
  sides: Array<{ label: number; supervoxels: number; voxels: number; contains: string }>;
}

export interface Pick {
  role: 'merge' | 'source' | 'sink';
  nm: Vec3;
  supervoxel: string;
  root: string;
}

interface CellStatus {
  root: string;
  status_axon: string | null;
  status_dendrite: string | null;
  user: string;
  time: string;
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
  if (!r.ok) throw new Error(body?.error ?? `${url}: HTTP ${r.status}`);
  return body as T;
}

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, ...children: Array<Node | string>): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  e.append(...children);
  return e;
}

/** The undo and redo candidates of a log: the latest edit not undone, the latest undone edit. */
export function undoRedoTargets(log: EditRecord[]): { undo: number | null; redo: number | null } {
  const undone = new Map<number, boolean>();
  let lastUndo: number | null = null;
  for (const r of log) {
    if (r.kind === 'undo') { undone.set(r.target!, true); lastUndo = r.target!; }
    if (r.kind === 'redo') undone.set(r.target!, false);
  }
  const edits = log.filter((r) => r.kind === 'merge' || r.kind === 'split');
  const undo = [...edits].reverse().find((r) => !undone.get(r.op))?.op ?? null;
  // redo: the most recently undone edit that is still undone
  const undoneNow = [...log].reverse().filter((r) => r.kind === 'undo' && undone.get(r.target!)).map((r) => r.target!);
  return { undo, redo: undoneNow[0] ?? (lastUndo !== null && undone.get(lastUndo) ? lastUndo : null) };
}

export class ProofreadPanel {
  /** the served version shown (the edit log's op) */
  op = 0;
  picks: Pick[] = [];
  preview: SplitPreview | null = null;
  selected: string | null = null;
  /** Resolves when the latest selection's history and status are shown (for tests). */
  cellShown: Promise<void> = Promise.resolve();
  private section!: HTMLElement;
  private cellSeq = 0;
  private watched: any = null;
  private muted = 0;
  /** set while selectCell tells the explorer, so its echo is not taken as a new selection */
  private telling = false;

  constructor(
    private readonly viewer: any,
    private readonly hooks: { select?: (id: string) => void; onCellSelected?: (fn: (id: string) => void) => void } = {},
    private readonly origin = location.origin,
  ) {}

  private $(name: string): HTMLElement {
    const e = this.section.querySelector(`[data-pr="${name}"]`) as HTMLElement | null;
    if (!e) throw new Error(`proofread panel is missing ${name}`);
    return e;
  }

  /** Build and show the panel when the server proofreads; false when it does not. */
  async start(): Promise<boolean> {
    let log: { operations: EditRecord[] };
    try {
      log = await json('/api/proofread/edits');
    } catch {
      return false;
    }
    this.op = log.operations.length;
    this.build();
    this.hooks.onCellSelected?.((id) => void this.selectCell(id, true));
    await this.layersReady();
    for (const map of [this.viewer.inputEventBindings.sliceView, this.viewer.inputEventBindings.perspectiveView]) map.set(PICK_BINDING, PICK_ACTION);
    this.viewer.bindAction(PICK_ACTION, () => void this.pickAtMouse());
    this.viewer.layerManager.layersChanged.add(() => this.watchLayer());
    // the served version replaces the dataset's cell layers in view (still listed, and can be shown)
    for (const l of this.viewer.layerManager.managedLayers) if (l.layer?.displayState?.segmentationGroupState) l.setVisible(false);
    this.showVersion(this.op, []);
    this.renderUndo(log.operations);
    return true;
  }

  private build(): void {
    const opt = (v: string, label = v) => el('option', { value: v }, label);
    const statusSelect = (name: string) => el('select', { 'data-pr': name, 'aria-label': name }, opt('', '-'), ...STATUSES.map((s) => opt(s)));
    const button = (name: string, text: string, title = '') => el('button', { type: 'button', 'data-pr': name, title }, text);
    const radio = (value: string, text: string) => el('label', {}, el('input', { type: 'radio', name: 'proofread-mode', value, ...(value === 'merge' ? { checked: '' } : {}) }), ' ' + text);
    this.section = el('section', { id: 'proofread-section' },
      el('h2', {}, 'Proofread ', el('span', { class: 'muted', 'data-pr': 'version' })),
      el('div', { class: 'row' },
        el('label', {}, 'token ', el('input', { type: 'password', autocomplete: 'off', placeholder: 'server token', 'data-pr': 'token', 'aria-label': 'edit token' })),
        el('label', {}, 'name ', el('input', { type: 'text', autocomplete: 'off', placeholder: 'who edits', 'data-pr': 'user', 'aria-label': 'your name' }))),
      el('div', { class: 'muted' }, 'ctrl+shift+click a segment in any view to pick a point for:'),
      el('div', { class: 'row', role: 'radiogroup' }, radio('merge', 'merge'), radio('source', 'split source'), radio('sink', 'split sink')),
      el('table', { class: 'grid', 'data-pr': 'picks' }, el('thead', {}, el('tr', {}, el('th', {}, 'for'), el('th', {}, 'root'), el('th', {}, 'point (nm)'))), el('tbody')),
      el('div', { class: 'row' },
        button('merge', 'merge', 'join the roots of the two merge points'),
        button('preview', 'preview split', 'show the minimum cut between the sources and sinks'),
        button('split', 'apply split', 'make the previewed split'),
        button('clear', 'clear points')),
      el('div', { 'data-pr': 'preview-info', class: 'muted' }),
      el('div', { class: 'row' }, button('undo', 'undo'), button('redo', 'redo')),
      el('div', { 'data-pr': 'message', class: 'muted' }),
      el('h3', {}, 'Cell ', el('span', { 'data-pr': 'cell', class: 'muted' }, 'none')),
      el('div', { class: 'row' }, el('label', {}, 'axon ', statusSelect('axon')), el('label', {}, 'dendrite ', statusSelect('dendrite')), button('status', 'set status')),
      el('div', { 'data-pr': 'status-info', class: 'muted' }),
      el('h3', {}, 'Edit history'),
      el('ol', { 'data-pr': 'history', class: 'history' }),
    );
    const cells = document.getElementById('cells-section');
    cells ? cells.before(this.section) : document.getElementById('explorer')!.append(this.section);
    const token = this.$('token') as HTMLInputElement;
    token.value = sessionStorage.getItem(TOKEN_KEY) ?? '';
    token.addEventListener('input', () => sessionStorage.setItem(TOKEN_KEY, token.value));
    const user = this.$('user') as HTMLInputElement;
    user.value = localStorage.getItem(USER_KEY) ?? '';
    user.addEventListener('input', () => localStorage.setItem(USER_KEY, user.value));
    this.$('merge').addEventListener('click', () => void this.merge());
    this.$('preview').addEventListener('click', () => void this.previewSplit());
    this.$('split').addEventListener('click', () => void this.applySplit());
    this.$('clear').addEventListener('click', () => this.clearPicks());
    this.$('undo').addEventListener('click', () => void this.undoRedo('undo'));
    this.$('redo').addEventListener('click', () => void this.undoRedo('redo'));
    this.$('status').addEventListener('click', () => void this.setStatus());
    this.renderPicks();
  }

  private async layersReady(timeoutMs = 15_000): Promise<void> {
    const lm = this.viewer.layerManager;
    const end = Date.now() + timeoutMs;
    while (!lm.managedLayers.every((l: any) => l.isReady()) && Date.now() < end) await wait(50);
  }

  get mode(): Pick['role'] {
    return ((this.section.querySelector('input[name=proofread-mode]:checked') as HTMLInputElement | null)?.value ?? 'merge') as Pick['role'];
  }

  private say(text: string, error = false): void {
    const m = this.$('message');
    m.textContent = text;
    m.className = error ? 'error' : 'muted';
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

  // ---------------------------------------------------------------- layers

  private setLayer(name: string, spec: any): void {
    const lm = this.viewer.layerManager;
    const old = lm.getLayerByName(name);
    const index = old ? lm.managedLayers.indexOf(old) : undefined;
    if (old) lm.removeManagedLayer(old);
    this.viewer.layerSpecification.add(makeLayer(this.viewer.layerSpecification, name, spec), index);
  }

  private removeLayer(name: string): void {
    const lm = this.viewer.layerManager;
    const old = lm.getLayerByName(name);
    if (old) lm.removeManagedLayer(old);
  }

  /** The source URL of the proofread layer (the served version it shows). */
  layerSource(name = PROOFREAD_LAYER): string | undefined {
    const l = this.viewer.layerManager.getLayerByName(name);
    const spec = l?.layer?.toJSON?.();
    const src = spec?.source;
    return typeof src === 'string' ? src : src?.url ?? (Array.isArray(src) ? (typeof src[0] === 'string' ? src[0] : src[0]?.url) : undefined);
  }

  /** Show version `op` in the proofread layer with these segments visible (the other cell layers hidden). */
  private showVersion(op: number, segments: string[]): void {
    this.op = op;
    this.$('version').textContent = `(version ${op})`;
    this.setLayer(PROOFREAD_LAYER, {
      type: 'segmentation',
      source: `precomputed://${this.origin}/api/proofread/versions/${op}/segmentation`,
      segments,
      selectedAlpha: 0.45,
      notSelectedAlpha: 0.1,
    });
    this.watchLayer();
  }

  private group(name = PROOFREAD_LAYER): any {
    return this.viewer.layerManager.getLayerByName(name)?.layer?.displayState?.segmentationGroupState?.value;
  }

  /** A segment made visible in the proofread layer (double-click) becomes the selected cell. */
  private watchLayer(): void {
    const g = this.group();
    if (!g || g === this.watched) return;
    this.watched = g;
    g.visibleSegments.changed.add((x: any, added: boolean) => {
      if (this.muted || !added || !x) return;
      const ids = Array.isArray(x) ? x : [x];
      const last = ids[ids.length - 1];
      if (last) void this.selectCell(last.toString(), false);
    });
  }

  /** The visible segments of the proofread layer (decimal strings, sorted). */
  visibleSegments(name = PROOFREAD_LAYER): string[] {
    const g = this.group(name);
    return g ? [...g.visibleSegments].map((x: any) => x.toString()).sort() : [];
  }

  private showSegments(ids: string[]): void {
    const g = this.group();
    if (!g) return;
    this.muted++;
    try {
      g.visibleSegments.clear();
      for (const id of ids) g.visibleSegments.add(Uint64.parseString(id, 10));
    } finally {
      this.muted--;
    }
  }

  // ---------------------------------------------------------------- picks

  /** The mouse position in nm (global coordinates times their scale). */
  private mouseNm(): Vec3 | null {
    const ms = this.viewer.mouseState;
    ms.updateUnconditionally?.();
    if (!ms.active) return null;
    const scales = this.viewer.coordinateSpace.value.scales as Float64Array;
    const p = ms.position as Float32Array;
    if (p.length < 3) return null;
    return [0, 1, 2].map((a) => p[a] * scales[a] * 1e9) as Vec3;
  }

  private async pickAtMouse(): Promise<void> {
    const nm = this.mouseNm();
    if (!nm) return;
    await this.pick(nm);
  }

  /** Pick the point `nm` for the current mode (merge keeps the last two roots; split any number of points). */
  async pick(nm: Vec3, role: Pick['role'] = this.mode): Promise<Pick | undefined> {
    try {
      const r = await json<{ supervoxel: string; root: string }>(`/api/proofread/point?nm=${nm.map((v) => v.toFixed(1)).join(',')}`);
      const p: Pick = { role, nm, supervoxel: r.supervoxel, root: r.root };
      // a repeated pick (same root for a merge, same supervoxel for a split side) replaces the earlier one
      this.picks = this.picks.filter((x) => x.role !== role || (role === 'merge' ? x.root !== p.root : x.supervoxel !== p.supervoxel));
      if (role === 'merge') {
        const merges = this.picks.filter((x) => x.role === 'merge');
        if (merges.length >= 2) this.picks.splice(this.picks.indexOf(merges[0]), 1);
      } else if (this.preview) {
        this.dropPreview();
      }
      this.picks.push(p);
      this.renderPicks();
      this.say(`${role === 'merge' ? 'merge point' : `split ${role}`} on root ${r.root} (supervoxel ${r.supervoxel})`);
      void this.selectCell(r.root, true);
      return p;
    } catch (err) {
      this.say((err as Error).message, true);
      return undefined;
    }
  }

  clearPicks(): void {
    this.picks = [];
    this.dropPreview();
    this.renderPicks();
  }

  private renderPicks(): void {
    const body = this.$('picks').querySelector('tbody')!;
    body.replaceChildren(...this.picks.map((p) => {
      const tr = el('tr', { 'data-role': p.role, 'data-root': p.root }, el('td', {}, p.role), el('td', {}, p.root), el('td', {}, p.nm.map((v) => Math.round(v)).join(', ')));
      tr.className = `pick-${p.role}`;
      return tr;
    }));
    const merges = this.picks.filter((p) => p.role === 'merge');
    (this.$('merge') as HTMLButtonElement).disabled = !(merges.length === 2 && merges[0].root !== merges[1].root);
    const src = this.picks.filter((p) => p.role === 'source'), snk = this.picks.filter((p) => p.role === 'sink');
    (this.$('preview') as HTMLButtonElement).disabled = !(src.length && snk.length);
    (this.$('split') as HTMLButtonElement).disabled = !this.preview;
  }

  // ---------------------------------------------------------------- edits

  private async afterEdit(rec: EditRecord, show: string[]): Promise<void> {
    this.showVersion(rec.op, show);
    const log = await json<{ operations: EditRecord[] }>('/api/proofread/edits');
    this.renderUndo(log.operations);
    if (show.length) await this.selectCell(show[0], true);
  }

  async merge(): Promise<EditRecord | undefined> {
    const [a, b] = this.picks.filter((p) => p.role === 'merge');
    if (!a || !b) return undefined;
    try {
      const rec = await this.post<EditRecord>('/api/proofread/edit/merge', { a: a.nm, b: b.nm, roots: [a.root, b.root] });
      this.picks = this.picks.filter((p) => p.role !== 'merge');
      this.renderPicks();
      this.say(`op ${rec.op}: merged ${rec.retired.join(' + ')} into ${rec.created.map((c) => c.id).join(', ')}`);
      await this.afterEdit(rec, rec.created.map((c) => c.id));
      return rec;
    } catch (err) {
      this.say(`merge refused: ${(err as Error).message}`, true);
      return undefined;
    }
  }

  private splitBody(): { sources: Vec3[]; sinks: Vec3[]; root: string } {
    const src = this.picks.filter((p) => p.role === 'source'), snk = this.picks.filter((p) => p.role === 'sink');
    return { sources: src.map((p) => p.nm), sinks: snk.map((p) => p.nm), root: src[0]?.root ?? '' };
  }

  /** Ask the server for the minimum cut and show its sides in two colours; nothing is changed. */
  async previewSplit(): Promise<SplitPreview | undefined> {
    try {
      const p = await this.post<SplitPreview>('/api/proofread/preview/split', this.splitBody());
      this.preview = p;
      this.setLayer(PREVIEW_LAYER, {
        type: 'segmentation',
        source: `precomputed://${this.origin}/api/proofread/previews/${p.id}/segmentation`,
        segments: p.sides.map((s) => String(s.label)),
        segmentColors: PREVIEW_COLOURS,
        selectedAlpha: 0.6,
        notSelectedAlpha: 0,
        objectAlpha: 0.8,
      });
      const info = this.$('preview-info');
      info.dataset.preview = String(p.id);
      info.replaceChildren(
        `preview of root ${p.root}: cut ${p.cut_edges} contact${p.cut_edges === 1 ? '' : 's'} (capacity ${p.cut_capacity}) into `,
        ...p.sides.flatMap((s, i) => [
          i ? ', ' : '',
          el('span', { style: `color:${PREVIEW_COLOURS[String(s.label)] ?? '#ccc'}`, 'data-side': String(s.label) }, `${s.contains === 'sources' ? 'sources\u2019 side' : s.contains === 'sinks' ? 'sinks\u2019 side' : 'a piece'}: ${s.supervoxels} supervoxels, ${s.voxels.toLocaleString('en')} voxels`),
        ]),
        '. Apply it, or pick other points.',
      );
      this.renderPicks();
      this.say('split preview shown (red: sources\u2019 side, blue: sinks\u2019 side); not applied yet');
      return p;
    } catch (err) {
      this.dropPreview();
      this.say(`no split: ${(err as Error).message}`, true);
      return undefined;
    }
  }

  private dropPreview(): void {
    this.preview = null;
    this.removeLayer(PREVIEW_LAYER);
    const info = this.$('preview-info');
    delete info.dataset.preview;
    info.replaceChildren();
    this.renderPicks();
  }

  /** Make the previewed split (the same sources, sinks and root: the same cut, or refused as stale). */
  async applySplit(): Promise<EditRecord | undefined> {
    if (!this.preview) return undefined;
    try {
      const rec = await this.post<EditRecord>('/api/proofread/edit/split', this.splitBody());
      this.picks = this.picks.filter((p) => p.role === 'merge');
      this.dropPreview();
      this.say(`op ${rec.op}: split ${rec.retired.join(', ')} into ${rec.created.map((c) => c.id).join(', ')}`);
      await this.afterEdit(rec, rec.created.map((c) => c.id));
      return rec;
    } catch (err) {
      this.say(`split refused: ${(err as Error).message}`, true);
      return undefined;
    }
  }

  private renderUndo(log: EditRecord[]): void {
    const t = undoRedoTargets(log);
    const u = this.$('undo') as HTMLButtonElement, r = this.$('redo') as HTMLButtonElement;
    u.disabled = t.undo === null;
    r.disabled = t.redo === null;
    u.dataset.op = t.undo === null ? '' : String(t.undo);
    r.dataset.op = t.redo === null ? '' : String(t.redo);
    u.textContent = t.undo === null ? 'undo' : `undo op ${t.undo}`;
    r.textContent = t.redo === null ? 'redo' : `redo op ${t.redo}`;
  }

  async undoRedo(kind: 'undo' | 'redo'): Promise<EditRecord | undefined> {
    const op = Number((this.$(kind) as HTMLButtonElement).dataset.op);
    if (!op) return undefined;
    try {
      const rec = await this.post<EditRecord>(`/api/proofread/edit/${kind}`, { op });
      this.say(`op ${rec.op}: ${kind} of op ${op}: ${rec.retired.join(', ')} -> ${rec.created.map((c) => c.id).join(', ')}`);
      await this.afterEdit(rec, rec.created.map((c) => c.id));
      return rec;
    } catch (err) {
      this.say(`${kind} refused: ${(err as Error).message}`, true);
      return undefined;
    }
  }

  // ---------------------------------------------------------------- the selected cell

  /** Show a cell's edit history and status; `show` also makes it the visible segment. */
  selectCell(id: string, show: boolean): Promise<void> {
    if (!/^\d+$/.test(id)) return this.cellShown;
    this.selected = id;
    this.$('cell').textContent = id;
    if (show) this.showSegments([id]);
    if (!this.telling) {
      this.telling = true;
      try {
        this.hooks.select?.(id);
      } finally {
        this.telling = false;
      }
    }
    const seq = ++this.cellSeq;
    this.cellShown = (async () => {
      try {
        const [h, s] = await Promise.all([
          json<{ operations: EditRecord[] }>(`/api/proofread/edits?cell=${id}`),
          json<{ statuses: CellStatus[] }>(`/api/proofread/status?root=${id}`),
        ]);
        if (seq !== this.cellSeq) return;
        this.renderHistory(h.operations);
        this.renderStatus(s.statuses[0]);
      } catch (err) {
        if (seq === this.cellSeq) this.say((err as Error).message, true);
      }
    })();
    return this.cellShown;
  }

  private renderHistory(ops: EditRecord[]): void {
    const list = this.$('history');
    list.replaceChildren(...ops.map((r) => {
      const li = el('li', { 'data-op': String(r.op), 'data-kind': r.kind },
        `op ${r.op} ${r.kind}${r.target ? ` of op ${r.target}` : ''} by ${r.user}, ${r.time.replace('T', ' ').replace(/\.\d+Z$/, 'Z')}: ${r.retired.join(' + ')} \u2192 ${r.created.map((c) => c.id).join(', ')}`);
      return li;
    }));
    if (!ops.length) list.append(el('li', { class: 'muted' }, 'no edits: as segmented'));
  }

  private renderStatus(s: CellStatus | undefined): void {
    (this.$('axon') as HTMLSelectElement).value = s?.status_axon ?? '';
    (this.$('dendrite') as HTMLSelectElement).value = s?.status_dendrite ?? '';
    this.$('status-info').textContent = s ? `axon ${s.status_axon ?? '-'}, dendrite ${s.status_dendrite ?? '-'} (set by ${s.user}, ${s.time.replace('T', ' ').replace(/\.\d+Z$/, 'Z')})` : 'no proofreading status yet';
  }

  async setStatus(): Promise<unknown> {
    const root = this.selected;
    if (!root) return this.say('select a cell first', true);
    const axon = (this.$('axon') as HTMLSelectElement).value, dendrite = (this.$('dendrite') as HTMLSelectElement).value;
    try {
      const r = await this.post<CellStatus>('/api/proofread/status', { root, ...(axon ? { status_axon: axon } : {}), ...(dendrite ? { status_dendrite: dendrite } : {}) });
      this.say(`status of ${root} saved`);
      await this.selectCell(root, false);
      return r;
    } catch (err) {
      this.say(`status not saved: ${(err as Error).message}`, true);
      return undefined;
    }
  }
}

/**
 * The panel wired to the app: the explorer's and the viewer's cell selections select here, and
 * a cell selected here is selected in the explorer. `ready` is false when the server does not proofread.
 */
export function startProofread(bridge: { viewer: any; onCellPicked(fn: (id: string) => void): void }, explorer: { select(id: string): void; onSelect(fn: (cell: unknown, id: string) => void): void }): { panel: ProofreadPanel; ready: Promise<boolean> } {
  const panel = new ProofreadPanel(bridge.viewer, {
    select: (id) => explorer.select(id),
    onCellSelected: (fn) => {
      explorer.onSelect((_cell, id) => fn(id));
      bridge.onCellPicked(fn);
    },
  });
  const ready = panel.start().catch((err) => {
    console.error(err);
    return false;
  });
  return { panel, ready };
}
