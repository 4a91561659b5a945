// The annotate stage's columns in the app (docs/ANNOTATION.md):
// - cells coloured by cell type: the cell layer's segment colours from the cells table, one
//   colour per type (a legend whose swatches set the type filter);
// - skeletons coloured by compartment: a skeleton shader on the `compartment` vertex attribute
//   that `wiring annotate` writes (only when the layer's skeletons have it);
// - a cell-type filter for the explorer's cell table;
// - the selected cell's organelle and synapse counts and densities (cell_annotations).
import { api, ApiError, type Cell } from './api.js';

/** Colours of cell types, in the order of the sorted type names (repeats after 12 types). */
export const TYPE_PALETTE = ['#e6194b', '#3cb44b', '#4363d8', '#f58231', '#911eb4', '#42d4f4', '#f032e6', '#bfef45', '#fabed4', '#469990', '#dcbeff', '#9a6324'];

/** Compartment codes of the `compartment` vertex attribute (src/stages/annotate/compartments.ts) and their colours. */
export const COMPARTMENT_COLOURS: ReadonlyArray<{ code: number; name: string; colour: string }> = [
  { code: 0, name: 'unknown', colour: '#808080' },
  { code: 1, name: 'soma', colour: '#ffffff' },
  { code: 2, name: 'axon', colour: '#3c78ff' },
  { code: 3, name: 'dendrite', colour: '#ff4040' },
  { code: 4, name: 'spine head', colour: '#30e030' },
  { code: 5, name: 'spine neck', colour: '#ff40ff' },
];

/** At most this many segments get a stated colour (the colours are part of the saved viewer state). */
export const MAX_COLOURED_CELLS = 20000;

const ANNOTATION_FIELDS: ReadonlyArray<[string, string]> = [
  ['cable_length_um', 'cable (µm)'],
  ['volume_um3', 'volume (µm³)'],
  ['mito_count', 'mitochondria'],
  ['mito_per_um', 'mitochondria / µm'],
  ['mito_volume_fraction', 'mitochondria volume fraction'],
  ['vesicle_count', 'vesicle clouds'],
  ['vesicle_per_um', 'vesicle clouds / µm'],
  ['syn_in', 'synapses in'],
  ['syn_out', 'synapses out'],
  ['syn_in_per_um', 'synapses in / µm'],
  ['syn_out_per_um', 'synapses out / µm'],
  ['cell_type', 'predicted type'],
  ['cell_type_probability', 'probability'],
];

function glslColour(hex: string): string {
  const v = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16) / 255);
  return `vec3(${v.map((x) => x.toFixed(3)).join(', ')})`;
}

/** Neuroglancer skeleton shader colouring each vertex by its `compartment` attribute. */
export function compartmentShader(): string {
  const lines = COMPARTMENT_COLOURS.filter((c) => c.code > 0).map((c) => `  if (c == ${c.code}) col = ${glslColour(c.colour)}; // ${c.name}`);
  return `// wiring: skeleton nodes coloured by compartment\nvoid main() {\n  int c = int(compartment + 0.5);\n  vec3 col = ${glslColour(COMPARTMENT_COLOURS[0].colour)};\n${lines.join('\n')}\n  emitRGB(col);\n}\n`;
}

/** One colour per cell type (types sorted by name). */
export function typeColours(cells: readonly Cell[]): Map<string, string> {
  const types = [...new Set(cells.map((c) => c.cell_type).filter((t): t is string => !!t))].sort();
  return new Map(types.map((t, i) => [t, TYPE_PALETTE[i % TYPE_PALETTE.length]]));
}

/** Segment colours (Neuroglancer's `segmentColors`) of the typed cells, at most `max` of them. */
export function segmentColoursByType(cells: readonly Cell[], colours: Map<string, string>, max = MAX_COLOURED_CELLS): Record<string, string> {
  const out: Record<string, string> = {};
  let n = 0;
  for (const c of cells) {
    const col = c.cell_type ? colours.get(c.cell_type) : undefined;
    if (!col) continue;
    if (n++ >= max) break;
    out[c.pt_root_id] = col;
  }
  return out;
}

/** The vertex attributes of a segmentation layer's skeletons (served under /data/<layer>/). */
export async function skeletonAttributes(layer: string): Promise<string[]> {
  const get = async (u: string) => {
    const r = await fetch(u);
    return r.ok ? r.json() : undefined;
  };
  const info = await get(`/data/${layer}/info`).catch(() => undefined);
  if (typeof info?.skeletons !== 'string') return [];
  const sk = await get(`/data/${layer}/${info.skeletons}/info`).catch(() => undefined);
  return Array.isArray(sk?.vertex_attributes) ? sk.vertex_attributes.map((a: { id: string }) => a.id) : [];
}

function $(id: string): HTMLElement {
  const e = document.getElementById(id);
  if (!e) throw new Error(`page is missing #${id}`);
  return e;
}

function swatch(colour: string, label: string): HTMLElement {
  const s = document.createElement('span');
  s.className = 'swatch';
  const box = document.createElement('i');
  box.style.background = colour;
  s.append(box, document.createTextNode(label));
  return s;
}

/** What the explorer offers this module (web/explorer.ts). */
export interface ExplorerLike {
  allCells(): readonly Cell[];
  setTypeFilter(type: string | null): void;
  onShow(fn: (id: string) => void): void;
}

/** What the viewer bridge offers (web/viewer.ts). */
export interface BridgeLike {
  readonly viewer: any;
  readonly segName: string | undefined;
}

/**
 * Wires the annotation columns into the page: call `start()` once the explorer's cells loaded.
 * `state()` reports what is applied (for tests).
 */
export class AnnotationView {
  private colours = new Map<string, string>();
  private segmentColours: Record<string, string> = {};
  private compartments = false;
  private appliedTo: any = null;
  private organellesAbort: AbortController | null = null;

  constructor(private readonly bridge: BridgeLike, private readonly explorer: ExplorerLike) {}

  async start(): Promise<void> {
    const cells = this.explorer.allCells();
    this.colours = typeColours(cells);
    this.segmentColours = segmentColoursByType(cells, this.colours);
    this.fillTypeFilter();
    this.fillLegend();
    const byType = $('colour-by-type') as HTMLInputElement;
    byType.addEventListener('change', () => this.apply(true));
    this.explorer.onShow((id) => void this.showOrganelles(id));
    this.compartments = this.bridge.segName ? (await skeletonAttributes(this.bridge.segName)).includes('compartment') : false;
    const legend = $('compartment-legend');
    legend.hidden = !this.compartments;
    if (this.compartments) legend.replaceChildren(document.createTextNode('skeletons: '), ...COMPARTMENT_COLOURS.map((c) => swatch(c.colour, c.name)));
    // re-apply when the cell layer is rebuilt (reset view, state restored)
    this.bridge.viewer.layerManager.layersChanged.add(() => this.apply(false));
    this.apply(true);
  }

  private layer(): any {
    return this.bridge.segName ? this.bridge.viewer.layerManager.getLayerByName(this.bridge.segName)?.layer : undefined;
  }

  /** Segment colours by type (when the box is ticked) and the compartment skeleton shader. */
  private apply(force: boolean): void {
    const layer = this.layer();
    const display = layer?.displayState;
    if (!display || (!force && display === this.appliedTo)) return;
    this.appliedTo = display;
    const group = display.segmentationColorGroupState.value;
    group.segmentStatedColors.clear();
    if (($('colour-by-type') as HTMLInputElement).checked && Object.keys(this.segmentColours).length) group.restoreState({ segmentColors: this.segmentColours });
    if (this.compartments) display.skeletonRenderingOptions.shader.value = compartmentShader();
  }

  private fillTypeFilter(): void {
    const select = $('cell-type-filter') as HTMLSelectElement;
    const counts = new Map<string, number>();
    for (const c of this.explorer.allCells()) counts.set(c.cell_type ?? '', (counts.get(c.cell_type ?? '') ?? 0) + 1);
    const opts = [new Option('all types', '')];
    for (const t of this.colours.keys()) opts.push(new Option(`${t} (${counts.get(t)})`, t));
    if (counts.has('')) opts.push(new Option(`untyped (${counts.get('')})`, '\u0000untyped'));
    select.replaceChildren(...opts);
    select.hidden = this.colours.size === 0;
    const box = $('colour-by-type').closest('label');
    if (box) box.hidden = this.colours.size === 0; // nothing to colour by
    select.addEventListener('change', () => this.explorer.setTypeFilter(select.value === '' ? null : select.value === '\u0000untyped' ? '' : select.value));
  }

  /** Legend of type colours; clicking a type filters the table to it. */
  private fillLegend(): void {
    const legend = $('type-legend');
    legend.replaceChildren();
    for (const [t, col] of this.colours) {
      const s = swatch(col, t);
      s.dataset.type = t;
      s.title = `show only ${t} cells`;
      s.addEventListener('click', () => {
        const select = $('cell-type-filter') as HTMLSelectElement;
        select.value = select.value === t ? '' : t;
        select.dispatchEvent(new Event('change'));
      });
      legend.append(s);
    }
  }

  /** Fills #cell-organelles with the cell's row; `data-cell` names the cell it shows once filled (page state for tests). */
  private async showOrganelles(id: string): Promise<void> {
    this.organellesAbort?.abort();
    const ctl = (this.organellesAbort = new AbortController());
    const box = $('cell-organelles');
    try {
      const row = await api.organelles(id, ctl.signal);
      if (ctl.signal.aborted) return;
      const table = document.createElement('table');
      table.className = 'grid';
      const body = table.createTBody();
      for (const [key, label] of ANNOTATION_FIELDS) {
        const v = row[key];
        if (v === null || v === undefined) continue;
        const tr = body.insertRow();
        tr.dataset.field = key;
        tr.insertCell().textContent = label;
        const td = tr.insertCell();
        td.className = 'num';
        td.textContent = typeof v === 'number' && !Number.isInteger(v) ? v.toPrecision(3) : String(v);
      }
      box.replaceChildren(table);
      box.dataset.cell = id;
      box.hidden = false;
    } catch (err) {
      if ((err as Error).name === 'AbortError') return;
      const p = document.createElement('div');
      p.className = err instanceof ApiError && err.status === 404 ? 'muted' : 'error';
      p.textContent = (err as Error).message;
      box.replaceChildren(p);
      box.dataset.cell = id;
      box.hidden = false;
    }
  }

  /** What is applied to the viewer (for tests). */
  state(): { compartments: boolean; shader: string | null; colours: Record<string, string>; typeColours: Record<string, string> } {
    const display = this.layer()?.displayState;
    return {
      compartments: this.compartments,
      shader: display ? String(display.skeletonRenderingOptions.shader.value) : null,
      colours: display ? (display.segmentationColorGroupState.value.toJSON().segmentColors ?? {}) : {},
      typeColours: Object.fromEntries(this.colours),
    };
  }
}
