// Neuroglancer, set up from the dataset's layers (/api/layers), with its state kept in
// localStorage (never in the URL) and a two-way bridge for the selected cell.
import 'neuroglancer/unstable/layer/enabled_frontend_modules.js';
import 'neuroglancer/unstable/datasource/enabled_frontend_modules.js';
import { bindDefaultCopyHandler, bindDefaultPasteHandler } from 'neuroglancer/unstable/ui/default_clipboard_handling.js';
import { setDefaultInputEventBindings } from 'neuroglancer/unstable/ui/default_input_event_bindings.js';
import { makeDefaultViewer } from 'neuroglancer/unstable/ui/default_viewer.js';
import { Uint64 } from 'neuroglancer/unstable/util/uint64.js';
import type { LayerInfo, Synapse, Vec3 } from './api.js';

export const SYNAPSE_LAYER = 'synapses';
const STATE_VERSION = 3;

/** The segmentation layer whose segments are the connectome's cells. */
export function cellLayer(layers: LayerInfo[], preferred?: string | null): LayerInfo | undefined {
  const segs = layers.filter((l) => l.type === 'segmentation');
  if (preferred) {
    const p = segs.find((l) => l.name === preferred);
    if (p) return p;
  }
  for (const name of ['neurons', 'cells', 'segmentation', 'seg', 'agglomeration']) {
    const l = segs.find((s) => s.name === name);
    if (l) return l;
  }
  return segs.find((l) => l.mesh) ?? segs[0];
}

function imageOrder(l: LayerInfo): number {
  const i = ['raw', 'em', 'image', 'img'].indexOf(l.name);
  return i < 0 ? 10 : i;
}

/** The layer whose voxel grid is the viewer's global coordinate space. */
export function referenceLayer(layers: LayerInfo[]): LayerInfo | undefined {
  const images = layers.filter((l) => l.type === 'image').sort((a, b) => imageOrder(a) - imageOrder(b));
  return images[0] ?? layers.find((l) => l.type === 'segmentation') ?? layers[0];
}

/** Viewer state JSON for a dataset, centred on its first image layer. */
export function defaultState(layers: LayerInfo[], origin: string, segName: string | undefined, precomputedSynapses = false): any {
  const images = layers.filter((l) => l.type === 'image').sort((a, b) => imageOrder(a) - imageOrder(b));
  const segs = layers.filter((l) => l.type === 'segmentation');
  const ref = referenceLayer(layers);
  const vs: Vec3 = ref ? ref.voxel_size : [1, 1, 1];
  const layerJson: any[] = [];
  images.forEach((l, i) => {
    layerJson.push({
      type: 'image',
      name: l.name,
      source: `precomputed://${origin}/data/${l.name}`,
      visible: i === 0,
      ...(l.data_type === 'uint8' ? {} : { shaderControls: {} }),
    });
  });
  for (const l of segs) {
    layerJson.push({
      type: 'segmentation',
      name: l.name,
      // the cell layer also takes the cells table as segment properties (labels, search by type)
      source: l.name === segName ? [`precomputed://${origin}/data/${l.name}`, `precomputed://${origin}/api/segment_properties`] : `precomputed://${origin}/data/${l.name}`,
      visible: l.name === segName,
      segments: [],
      selectedAlpha: 0.45,
      notSelectedAlpha: 0.1,
      objectAlpha: 1,
    });
  }
  if (segName && precomputedSynapses) {
    // served by the Wiring server from the connectome (src/server/annotations.ts)
    layerJson.push({
      type: 'annotation',
      name: SYNAPSE_LAYER,
      source: `precomputed://${origin}/api/annotations/synapses`,
      linkedSegmentationLayer: { pre_segment: segName, post_segment: segName },
      annotationColor: '#ffd400',
      shader: '\nvoid main() {\n  setColor(defaultColor());\n  setPointMarkerSize(6.0);\n}\n',
    });
  } else if (segName) {
    layerJson.push({
      type: 'annotation',
      name: SYNAPSE_LAYER,
      source: { url: 'local://annotations', transform: { outputDimensions: { x: [1e-9, 'm'], y: [1e-9, 'm'], z: [1e-9, 'm'] } } },
      linkedSegmentationLayer: { segments: segName },
      annotationColor: '#ffd400',
      shader: '\nvoid main() {\n  setColor(defaultColor());\n  setPointMarkerSize(6.0);\n}\n',
      annotations: [],
    });
  }
  const off = ref?.voxel_offset ?? [0, 0, 0];
  const size = ref?.size ?? [0, 0, 0];
  return {
    dimensions: { x: [vs[0] * 1e-9, 'm'], y: [vs[1] * 1e-9, 'm'], z: [vs[2] * 1e-9, 'm'] },
    position: [0, 1, 2].map((a) => off[a] + Math.floor(size[a] / 2) + 0.5),
    // about the whole xy extent across a ~420 px panel; the 3-D view a little wider
    crossSectionScale: Math.max(size[0], size[1], 1) / 420,
    projectionScale: Math.max(...size, 64) * 1.5,
    layers: layerJson,
    selectedLayer: segName ? { layer: segName } : undefined,
    layout: '4panel',
    showSlices: true,
  };
}

/** Synapse centres as local point annotations (nm) linked to their pre/post segments. */
export function synapseAnnotations(synapses: Synapse[]): any[] {
  const out = [];
  for (const s of synapses) {
    if (!s.ctr_pt_position) continue;
    out.push({
      type: 'point',
      id: s.id,
      point: s.ctr_pt_position,
      segments: [[s.pre_pt_root_id, s.post_pt_root_id]],
      description: `synapse ${s.id}: ${s.pre_pt_root_id} -> ${s.post_pt_root_id}${s.size != null ? `, size ${s.size}` : ''}`,
    });
  }
  return out;
}

export interface ViewerBridgeOptions {
  target: HTMLElement;
  layers: LayerInfo[];
  /** localStorage key for this dataset's viewer state. */
  storageKey: string;
  /** Which segmentation layer holds the cells (default: chosen by name). */
  cellLayerName?: string | null;
  /** Synapses shown as local point annotations (kept out of the saved state)... */
  synapses?: Synapse[];
  /** ...or the server's precomputed annotation source (any number of synapses). */
  precomputedSynapses?: boolean;
}

/**
 * Owns the Neuroglancer viewer. `showCell` makes one segment the visible one and moves to a
 * position; `onCellPicked` fires when the user makes a segment visible in Neuroglancer
 * (double-click in a view, or the layer's segment list).
 */
export class ViewerBridge {
  readonly viewer: any;
  readonly segName: string | undefined;
  private readonly voxelSize: Vec3;
  /** Bounds of the reference layer in global (voxel) coordinates, [lo, hi) per axis. */
  private readonly bounds: Array<[number, number]>;
  private readonly annotations: any[];
  private muted = 0;
  private watched: any = null;
  private listeners: Array<(id: string) => void> = [];
  private saveTimer: number | undefined;

  constructor(private readonly opts: ViewerBridgeOptions) {
    this.segName = cellLayer(opts.layers, opts.cellLayerName)?.name;
    this.annotations = synapseAnnotations(opts.synapses ?? []);
    const state = defaultState(opts.layers, location.origin, this.segName, opts.precomputedSynapses);
    this.voxelSize = [state.dimensions.x[0] * 1e9, state.dimensions.y[0] * 1e9, state.dimensions.z[0] * 1e9];
    const ref = referenceLayer(opts.layers);
    this.bounds = [0, 1, 2].map((a) => {
      const lo = ref?.voxel_offset?.[a] ?? 0;
      return [lo, lo + (ref?.size[a] ?? Infinity)] as [number, number];
    });
    // setupDefaultViewer without its URL-hash binding: mouse/keyboard bindings and copy/paste
    this.viewer = makeDefaultViewer({ target: opts.target, showHelpButton: true, showLayerDialog: true });
    setDefaultInputEventBindings(this.viewer.inputEventBindings);
    bindDefaultCopyHandler(this.viewer);
    bindDefaultPasteHandler(this.viewer);
    const saved = this.loadSaved();
    this.restore(saved ?? state);
    this.viewer.layerManager.layersChanged.add(() => this.watch());
    this.watch();
    this.viewer.state.changed.add(() => this.scheduleSave());
  }

  /** The state to persist: everything but the (re-fetched) synapse annotations. */
  private persistable(): any {
    const json = this.viewer.state.toJSON();
    for (const l of json.layers ?? []) if (l.name === SYNAPSE_LAYER) delete l.annotations;
    return json;
  }

  private loadSaved(): any | undefined {
    try {
      const raw = localStorage.getItem(this.opts.storageKey);
      if (!raw) return undefined;
      const saved = JSON.parse(raw);
      if (saved?.version !== STATE_VERSION || !saved.state) return undefined;
      return saved.state;
    } catch {
      return undefined;
    }
  }

  private scheduleSave(): void {
    if (this.saveTimer !== undefined) clearTimeout(this.saveTimer);
    this.saveTimer = window.setTimeout(() => {
      this.saveTimer = undefined;
      try {
        localStorage.setItem(this.opts.storageKey, JSON.stringify({ version: STATE_VERSION, state: this.persistable() }));
      } catch {
        // storage full or disabled: the state just is not kept
      }
    }, 500);
  }

  private restore(state: any): void {
    const json = structuredClone(state);
    for (const l of json.layers ?? []) if (l.name === SYNAPSE_LAYER && !this.opts.precomputedSynapses) l.annotations = this.annotations;
    this.viewer.state.restoreState(json);
  }

  /** Forget the saved state and rebuild the default one. */
  reset(): void {
    localStorage.removeItem(this.opts.storageKey);
    this.restore(defaultState(this.opts.layers, location.origin, this.segName, this.opts.precomputedSynapses));
  }

  onCellPicked(fn: (id: string) => void): void {
    this.listeners.push(fn);
  }

  private groupState(): any {
    if (!this.segName) return undefined;
    const managed = this.viewer.layerManager.getLayerByName(this.segName);
    return managed?.layer?.displayState?.segmentationGroupState?.value;
  }

  private watch(): void {
    const group = this.groupState();
    if (!group || group === this.watched) return;
    this.watched = group;
    group.visibleSegments.changed.add((x: any, added: boolean) => {
      if (this.muted || !added || !x) return;
      const ids = Array.isArray(x) ? x : [x];
      const last = ids[ids.length - 1];
      if (last) for (const fn of this.listeners) fn(last.toString());
    });
  }

  /** Show only the synapses of the visible cells (Neuroglancer's "filter by segmentation"). */
  setSynapseFilter(on: boolean): boolean {
    const layer = this.viewer.layerManager.getLayerByName(SYNAPSE_LAYER)?.layer;
    const linked = layer?.linkedSegmentationLayers;
    if (!linked) return false;
    let done = false;
    for (const rel of ['pre_segment', 'post_segment', 'segments']) {
      const state = linked.get(rel);
      if (state) {
        state.showMatches.value = on;
        done = true;
      }
    }
    return done;
  }

  /** The visible segments of the cell layer (decimal strings). */
  visibleSegments(): string[] {
    const group = this.groupState();
    return group ? [...group.visibleSegments].map((x: any) => x.toString()).sort() : [];
  }

  /** Show only this segment and move to `positionNm` (the soma) when given. */
  showCell(id: string, positionNm: Vec3 | null): void {
    const group = this.groupState();
    if (group) {
      this.muted++;
      try {
        group.selectedSegments.clear();
        group.visibleSegments.clear();
        group.visibleSegments.add(Uint64.parseString(id, 10));
      } finally {
        this.muted--;
      }
    }
    if (positionNm) {
      // somata outside the volume (cells whose neurites pass through it): the nearest point inside
      const p = positionNm.map((v, i) => Math.min(Math.max(v / this.voxelSize[i], this.bounds[i][0] + 0.5), this.bounds[i][1] - 0.5));
      void this.viewer.position.value; // brings its coordinate space up to date (the setter needs it)
      this.viewer.position.value = Float32Array.from(p);
    }
  }
}
