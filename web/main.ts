// Wiring browser app: Neuroglancer showing the dataset, the connectome explorer beside it,
// one selected cell shared by both.
import { AnnotationView } from './annotations.js';
import { api, type LayerInfo, type Synapse } from './api.js';
import { Explorer } from './explorer.js';
import { TrainPanel } from './train.js';
import { startProofread } from './proofread.js';
import { ViewerBridge } from './viewer.js';

const MAX_SYNAPSE_POINTS = 50000;

function status(text: string, error = false): void {
  const s = document.getElementById('status')!;
  s.textContent = text;
  s.className = error ? 'error' : 'muted';
}

async function start(): Promise<void> {
  const params = new URLSearchParams(location.search);
  const explorer = new Explorer();
  const explorerLoaded = explorer.load();
  status('loading layers...');
  // Synapses: the server's precomputed annotation source when it has one, else local points.
  const precomputedSynapses = await fetch('/api/annotations/synapses/info').then((r) => r.ok, () => false);
  const [layers, synapses] = await Promise.all([
    api.layers(),
    precomputedSynapses ? Promise.resolve([] as Synapse[]) : api.synapses(MAX_SYNAPSE_POINTS).catch((): Synapse[] => []),
  ]);
  const key = 'wiring.viewer:' + layers.map((l: LayerInfo) => `${l.name}/${l.type}/${l.size.join('x')}`).join(',');
  const bridge = new ViewerBridge({
    target: document.getElementById('ng')!,
    layers,
    storageKey: key,
    cellLayerName: params.get('cells'),
    synapses,
    precomputedSynapses,
  });
  explorer.onSelect((cell, id) => bridge.showCell(id, cell?.pt_position ?? null));
  bridge.onCellPicked((id) => {
    if (id !== explorer.selectedId) explorer.select(id);
  });
  document.getElementById('reset-view')!.addEventListener('click', () => bridge.reset());
  const filter = document.getElementById('synapse-filter') as HTMLInputElement;
  filter.addEventListener('change', () => {
    if (!bridge.setSynapseFilter(filter.checked)) {
      filter.checked = !filter.checked; // the synapse layer has not loaded yet
      status('the synapse layer is still loading', true);
    }
  });
  status(`${layers.length} layers${precomputedSynapses ? ', synapses from the server' : synapses.length ? `, ${synapses.length} synapses shown` : ''}${bridge.segName ? `; cells = segments of '${bridge.segName}'` : ''}`);
  // the Train panel, when the server has the interactive routes (hidden otherwise)
  const train = new TrainPanel(bridge.viewer, layers);
  const trainReady = train.start().catch((err) => {
    console.error(err);
    return false;
  });
  // cell types, compartments and organelles (web/annotations.ts), once the cells are loaded
  const annotations = new AnnotationView(bridge, explorer);
  const annotationsReady = explorerLoaded.then(() => annotations.start()).catch((err) => {
    console.error(err);
    status(`cell annotations not shown: ${(err as Error).message}`, true);
  });
  (window as any).wiring = { viewer: bridge.viewer, bridge, explorer, train, trainReady, ready: explorerLoaded, annotations, annotationsReady, proofread: startProofread(bridge, explorer) };
  await explorerLoaded;
  const selected = params.get('cell');
  if (selected) explorer.select(selected, { user: true });
}

start().catch((err) => {
  console.error(err);
  status(`failed to start: ${(err as Error).message}`, true);
});
