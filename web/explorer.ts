// The connectome explorer beside Neuroglancer: cell table with search, the selected cell's
// partners, the cell-type connectivity matrix and the synapse-size histogram.
import { api, ApiError, type Cell, type Partner } from './api.js';
import { histogramChart, matrixChart } from './charts.js';

const MAX_ROWS = 500;

function $(id: string): HTMLElement {
  const e = document.getElementById(id);
  if (!e) throw new Error(`page is missing #${id}`);
  return e;
}

function td(text: string, cls?: string): HTMLTableCellElement {
  const c = document.createElement('td');
  c.textContent = text;
  if (cls) c.className = cls;
  return c;
}

function fmt(v: number): string {
  return Number.isInteger(v) ? v.toLocaleString('en') : v.toPrecision(4);
}

export class Explorer {
  private cells: Cell[] = [];
  private byId = new Map<string, Cell>();
  private selected: string | null = null;
  private partnersAbort: AbortController | null = null;
  private listeners: Array<(cell: Cell | undefined, id: string) => void> = [];
  private showListeners: Array<(id: string) => void> = [];
  /** Only cells of this type in the table ('' = untyped; null = all). */
  private typeFilter: string | null = null;
  private searchTimer: number | undefined;
  /** Resolves when the latest selection's partners are shown (for tests). */
  partnersShown: Promise<void> = Promise.resolve();

  constructor() {
    const search = $('cell-search') as HTMLInputElement;
    search.addEventListener('input', () => {
      clearTimeout(this.searchTimer);
      this.searchTimer = window.setTimeout(() => this.renderTable(), 80);
    });
    for (const table of ['cell-table', 'inputs-table', 'outputs-table']) {
      $(table).addEventListener('click', (ev) => {
        const row = (ev.target as HTMLElement).closest('tr[data-id]') as HTMLElement | null;
        if (row?.dataset.id) this.select(row.dataset.id, { user: true });
      });
    }
    ($('matrix-measure') as HTMLSelectElement).addEventListener('change', () => void this.loadMatrix());
  }

  /** Called when the user selects a cell here (not when the viewer told us). */
  onSelect(fn: (cell: Cell | undefined, id: string) => void): void {
    this.listeners.push(fn);
  }

  /** Called on every selection (here or from the viewer). */
  onShow(fn: (id: string) => void): void {
    this.showListeners.push(fn);
  }

  allCells(): readonly Cell[] {
    return this.cells;
  }

  setTypeFilter(type: string | null): void {
    this.typeFilter = type;
    this.renderTable();
  }

  cell(id: string): Cell | undefined {
    return this.byId.get(id);
  }

  get selectedId(): string | null {
    return this.selected;
  }

  async load(): Promise<void> {
    await Promise.all([this.loadCells(), this.loadMatrix(), this.loadSizes()]);
  }

  private showError(where: HTMLElement, err: unknown): void {
    where.replaceChildren();
    const p = document.createElement('div');
    p.className = err instanceof ApiError && err.status === 404 ? 'muted' : 'error';
    p.textContent = (err as Error).message;
    where.append(p);
  }

  async loadCells(): Promise<void> {
    try {
      const r = await api.cells();
      this.cells = r.cells;
      this.byId = new Map(r.cells.map((c) => [c.pt_root_id, c]));
      this.renderTable();
    } catch (err) {
      $('cell-count').textContent = '';
      this.showError($('cell-table').querySelector('tbody')!, err);
    }
  }

  private matches(): Cell[] {
    const q = ($('cell-search') as HTMLInputElement).value.trim().toLowerCase();
    const typed = this.typeFilter === null ? this.cells : this.cells.filter((c) => (c.cell_type ?? '') === this.typeFilter);
    if (!q) return typed;
    return typed.filter((c) => c.pt_root_id.includes(q) || (c.cell_type ?? '').toLowerCase().includes(q) || (c.name ?? '').toLowerCase().includes(q));
  }

  renderTable(): void {
    const rows = this.matches();
    $('cell-count').textContent = rows.length === this.cells.length ? `(${this.cells.length})` : `(${rows.length} of ${this.cells.length})`;
    const body = $('cell-table').querySelector('tbody')!;
    const frag = document.createDocumentFragment();
    for (const c of rows.slice(0, MAX_ROWS)) {
      const tr = document.createElement('tr');
      tr.dataset.id = c.pt_root_id;
      if (c.pt_root_id === this.selected) tr.className = 'selected';
      tr.append(td(c.pt_root_id), td(c.cell_type ?? ''), td(c.name ?? ''));
      frag.append(tr);
    }
    if (rows.length > MAX_ROWS) {
      const tr = document.createElement('tr');
      tr.append(td(`... ${rows.length - MAX_ROWS} more: refine the search`, 'muted'));
      frag.append(tr);
    }
    body.replaceChildren(frag);
  }

  /** Select a cell: highlight it, show its partners; `user` = chosen here (tell listeners). */
  select(id: string, o: { user?: boolean } = {}): void {
    if (!/^\d+$/.test(id)) return;
    this.selected = id;
    for (const tr of $('cell-table').querySelectorAll('tr.selected')) tr.classList.remove('selected');
    const row = $('cell-table').querySelector(`tr[data-id="${id}"]`);
    if (row) {
      row.classList.add('selected');
      if (!o.user) row.scrollIntoView({ block: 'nearest' });
    }
    const cell = this.byId.get(id);
    const info = $('selected-cell');
    info.replaceChildren();
    const idSpan = document.createElement('span');
    idSpan.className = 'id';
    idSpan.textContent = id;
    info.append(idSpan);
    const details = cell
      ? [cell.cell_type ? `type ${cell.cell_type}` : 'untyped', cell.name ? `name ${cell.name}` : '', cell.pt_position ? `soma [${cell.pt_position.map((v) => Math.round(v)).join(', ')}] nm` : '', cell.volume ? `volume ${fmt(cell.volume)} nm³` : '']
      : ['not in the cells table'];
    info.append(document.createTextNode('  ' + details.filter(Boolean).join(' · ')));
    info.classList.remove('muted');
    this.partnersShown = this.loadPartners(id);
    for (const fn of this.showListeners) fn(id);
    if (o.user) for (const fn of this.listeners) fn(cell, id);
  }

  private async loadPartners(id: string): Promise<void> {
    this.partnersAbort?.abort();
    const ctl = (this.partnersAbort = new AbortController());
    const box = $('partners');
    try {
      const p = await api.partners(id, ctl.signal);
      if (ctl.signal.aborted || this.selected !== id) return;
      box.hidden = false;
      this.fillPartners('inputs-table', 'input-count', p.inputs);
      this.fillPartners('outputs-table', 'output-count', p.outputs);
    } catch (err) {
      if ((err as Error).name === 'AbortError') return;
      box.hidden = false;
      this.showError($('inputs-table').querySelector('tbody')!, err);
      $('outputs-table').querySelector('tbody')!.replaceChildren();
    }
  }

  private fillPartners(table: string, countId: string, partners: Partner[]): void {
    const sorted = [...partners].sort((a, b) => b.count - a.count || (a.id < b.id ? -1 : 1));
    const synapses = sorted.reduce((s, p) => s + p.count, 0);
    $(countId).textContent = `(${sorted.length} cells, ${synapses} synapses)`;
    const body = $(table).querySelector('tbody')!;
    const frag = document.createDocumentFragment();
    for (const p of sorted) {
      const tr = document.createElement('tr');
      tr.dataset.id = p.id;
      tr.append(td(p.id), td(p.cell_type ?? ''), td(String(p.count), 'num'), td(fmt(p.size_sum), 'num'));
      frag.append(tr);
    }
    if (!sorted.length) {
      const tr = document.createElement('tr');
      tr.append(td('none', 'muted'));
      frag.append(tr);
    }
    body.replaceChildren(frag);
  }

  async loadMatrix(): Promise<void> {
    const measure = ($('matrix-measure') as HTMLSelectElement).value;
    const box = $('matrix');
    try {
      box.replaceChildren(matrixChart(await api.connectivity(measure)));
    } catch (err) {
      this.showError(box, err);
    }
  }

  async loadSizes(): Promise<void> {
    const box = $('sizes');
    try {
      const h = await api.sizes(30);
      $('sizes-summary').textContent = `(${h.counts.reduce((a, b) => a + b, 0)} synapses)`;
      box.replaceChildren(histogramChart(h));
    } catch (err) {
      this.showError(box, err);
    }
  }
}
