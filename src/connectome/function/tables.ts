import { existsSync } from 'node:fs';
import * as path from 'node:path';
import type { Vec3 } from '../../core/box.js';
import { FormatError, UsageError } from '../../core/errors.js';
import { caveHeaderFile, readCaveHeader, stageParquet, stageText } from '../import.js';
import { type ConnectomeStore, sqlIdent } from '../store.js';

/**
 * CAVE annotation tables beyond synapses and cell types, kept whole: every column of the file
 * becomes a column of table `annotation_<name>` (typed: ids UBIGINT, numbers DOUBLE, `valid`
 * BOOLEAN, positions "[x y z]" split into `<col>_x/_y/_z` nm, the rest VARCHAR). Nothing is
 * dropped: columns the kind does not name are kept and reported as extra. The registry table
 * `annotation_tables` records each table's kind, source file, columns, key and resolution.
 *
 * Kinds say which columns must be there and what the table is keyed by:
 *
 *   nucleus         id, pt_root_id, pt_position             (nucleus_detection_v0)
 *   proofreading    pt_root_id + status/strategy columns    (proofreading_status_and_strategy)
 *   coregistration  pt_root_id, session, scan_idx, unit_id  (+ field, residual, score)
 *   tuning          session, scan_idx, unit_id + numbers    (orientation/direction preference,
 *                                                            selectivity, reliability, ...)
 *   responses       session, scan_idx, unit_id + per-stimulus response columns
 *   correlations    session, scan_idx, unit_id_a, unit_id_b + signal_corr / noise_corr
 *   generic         anything (no required columns)
 */

export const ANNOTATION_KINDS = ['nucleus', 'proofreading', 'coregistration', 'tuning', 'responses', 'correlations', 'generic'] as const;
export type AnnotationKind = (typeof ANNOTATION_KINDS)[number];

interface KindSpec {
  /** Each entry: the column, or alternatives for it. */
  required: string[][];
  /** Columns this kind names (kept as known, not reported as extra). */
  known: string[];
  /** Columns whose combination identifies a row (duplicates are reported). */
  key: string[];
}

const UNIT = ['session', 'scan_idx', 'unit_id'];
export const KIND_SPECS: Record<AnnotationKind, KindSpec> = {
  nucleus: { required: [['pt_root_id'], ['pt_position', 'pt_position_x']], known: ['id', 'valid', 'pt_supervoxel_id', 'pt_root_id', 'pt_position', 'volume'], key: ['id'] },
  proofreading: {
    required: [['pt_root_id']],
    known: ['id', 'valid', 'pt_supervoxel_id', 'pt_root_id', 'pt_position', 'valid_id', 'status_axon', 'status_dendrite', 'strategy_axon', 'strategy_dendrite'],
    key: ['pt_root_id'],
  },
  coregistration: {
    required: [['pt_root_id'], ['session'], ['scan_idx'], ['unit_id']],
    known: ['id', 'valid', 'pt_supervoxel_id', 'pt_root_id', 'pt_position', 'session', 'scan_idx', 'unit_id', 'field', 'residual', 'score'],
    key: UNIT,
  },
  tuning: { required: UNIT.map((c) => [c]), known: [...UNIT, 'pref_ori', 'pref_dir', 'osi', 'dsi', 'gosi', 'gdsi', 'reliability', 'cc_abs', 'cc_max'], key: UNIT },
  responses: { required: UNIT.map((c) => [c]), known: [...UNIT, 'stimulus', 'response'], key: [] },
  correlations: {
    required: [['session'], ['scan_idx'], ['unit_id_a', 'unit_a', 'unit_id_1'], ['unit_id_b', 'unit_b', 'unit_id_2']],
    known: ['session', 'scan_idx', 'unit_id_a', 'unit_a', 'unit_id_1', 'unit_id_b', 'unit_b', 'unit_id_2', 'signal_corr', 'noise_corr'],
    key: [],
  },
  generic: { required: [], known: [], key: [] },
};

export const ANNOTATION_REGISTRY = 'annotation_tables';

export interface AnnotationImportOptions {
  /** Table name (letters, digits, _); the SQL table is `annotation_<name>`. Default: the file's base name. */
  name?: string;
  kind?: AnnotationKind;
  /** nm per voxel of position columns (e.g. MICrONS 4,4,40). Default 1,1,1 (already nm). */
  resolution?: Vec3;
  /** Rename columns on the way in: file column -> stored column (e.g. pre_root_id -> pre_pt_root_id). */
  rename?: Record<string, string>;
  /** Replace a table of the same name (default: an error). */
  replace?: boolean;
}

export interface AnnotationImportReport {
  file: string;
  name: string;
  table: string;
  kind: AnnotationKind;
  rows: number;
  /** column -> stored type */
  columns: Record<string, string>;
  /** Columns the kind does not name, kept as they are. */
  extra: string[];
  skipped: Record<string, number>;
  /** Rows whose key repeats (e.g. one unit coregistered to two cells): counted, kept. */
  duplicate_keys: number;
  /** Coregistration only: cells matched to more than one unit. */
  cells_with_several_units?: number;
  /** Rows whose pt_root_id is not in the cells table (when that table has rows). */
  unknown_cells?: number;
}

const ID_COLUMN = /(^id$|_id$|^unit_a$|^unit_b$|^unit_id_[ab12]$)/;
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Guess a kind from the columns (coregistration before tuning: both carry the unit key). */
export function detectKind(cols: string[]): AnnotationKind {
  const has = (c: string) => cols.includes(c);
  const hasAny = (cs: string[]) => cs.some(has);
  const fits = (k: AnnotationKind) => KIND_SPECS[k].required.every(hasAny);
  if (fits('correlations') && hasAny(['signal_corr', 'noise_corr'])) return 'correlations';
  if (fits('coregistration')) return 'coregistration';
  if (fits('tuning') && hasAny(['pref_ori', 'pref_dir', 'osi', 'dsi', 'gosi', 'gdsi', 'reliability'])) return 'tuning';
  if (fits('responses')) return 'responses';
  if (has('pt_root_id') && hasAny(['status_axon', 'status_dendrite', 'strategy_axon', 'strategy_dendrite'])) return 'proofreading';
  if (fits('nucleus') && has('id')) return 'nucleus';
  return 'generic';
}

async function registry(store: ConnectomeStore): Promise<void> {
  await store.run(
    `CREATE TABLE IF NOT EXISTS ${ANNOTATION_REGISTRY} (name VARCHAR NOT NULL, kind VARCHAR NOT NULL, source VARCHAR, imported_at TIMESTAMP, rows_n BIGINT, columns_json VARCHAR, key_json VARCHAR, resolution_json VARCHAR, rename_json VARCHAR)`,
  );
}

export function annotationTable(name: string): string {
  if (!NAME.test(name)) throw new UsageError(`table name ${JSON.stringify(name)}: use letters, digits and _ (starting with a letter or _)`);
  return `annotation_${name.toLowerCase()}`;
}

/**
 * Import one annotation table (CSV with a header row, a CAVE merged dump with its header
 * sidecar, or Parquet; gzip by content). Runs in one transaction: a bad file leaves the
 * database as it was.
 */
export async function importAnnotationTable(store: ConnectomeStore, file: string, opts: AnnotationImportOptions = {}): Promise<AnnotationImportReport> {
  if (!existsSync(file)) throw new UsageError('file not found', file);
  const name = (opts.name ?? path.basename(file).replace(/(\.(csv|tsv|parquet|gz))+$/i, '').replace(/_merged$/, '')).toLowerCase();
  const table = annotationTable(name);
  const res = opts.resolution ?? [1, 1, 1];
  return store.transaction(async () => {
    await registry(store);
    const exists = (await store.all(`SELECT 1 AS x FROM ${ANNOTATION_REGISTRY} WHERE name = $1`, [name])).length > 0;
    if (exists && !opts.replace) throw new UsageError(`annotation table ${name} already exists; pass --replace to replace it`, file);
    const parquet = /\.parquet$/i.test(file);
    let raw = parquet ? await stageParquet(store, file) : await stageText(store, file, caveHeaderFile(file) ? await readCaveHeader(caveHeaderFile(file)!) : undefined, /\.tsv(\.gz)?$/i.test(file) ? '\t' : ',');
    raw = raw.filter((c) => !/^_unnamed_\d+$/.test(c));
    const rename = opts.rename ?? {};
    for (const k of Object.keys(rename)) if (!raw.includes(k)) throw new UsageError(`--rename ${k}=${rename[k]}: the file has no column ${k} (columns: ${raw.join(', ')})`, file);
    const stored = (c: string) => rename[c] ?? c;
    const cols = raw.map(stored);
    for (const c of cols) if (!NAME.test(c)) throw new FormatError(`column ${JSON.stringify(c)} is not a plain identifier; rename it with --rename`, file);
    const kind = opts.kind ?? detectKind(cols);
    const spec = KIND_SPECS[kind];
    for (const alts of spec.required) {
      if (!alts.some((a) => cols.includes(a))) throw new FormatError(`a ${kind} table needs column ${alts.join(' or ')} (columns: ${cols.join(', ')})`, file);
    }
    const skipped: Record<string, number> = {};
    let where = 'TRUE';
    const validCol = raw.find((c) => stored(c) === 'valid');
    if (validCol) {
      const v = `lower(trim(coalesce(${sqlIdent(validCol)}, '')))`;
      const bad = await store.all(`SELECT _line, ${sqlIdent(validCol)} AS v FROM _raw WHERE ${v} NOT IN ('', 't', 'true', '1', 'f', 'false', '0') ORDER BY _line LIMIT 1`);
      if (bad.length) throw new FormatError(`line ${bad[0]._line}, column valid: ${JSON.stringify(bad[0].v)} is not a boolean (t/f, true/false, 1/0)`, file);
      const n = await store.all(`SELECT count(*) AS n FROM _raw WHERE ${v} IN ('f', 'false', '0')`);
      if (Number(n[0].n)) skipped['valid=false'] = Number(n[0].n);
      where = `NOT (${v} IN ('f', 'false', '0'))`;
    }
    // type each column from its values
    const exprs: string[] = [];
    const types: Record<string, string> = {};
    for (const c of raw) {
      const s = stored(c);
      const q = sqlIdent(c);
      const given = `${q} IS NOT NULL AND trim(${q}) <> ''`;
      const count = async (cond: string) => Number((await store.all(`SELECT count(*) AS n FROM _raw WHERE (${where}) AND ${given} AND NOT (${cond})`))[0].n);
      if (s === 'valid') {
        exprs.push(`(lower(trim(${q})) IN ('t', 'true', '1')) AS ${sqlIdent(s)}`);
        types[s] = 'BOOLEAN';
        continue;
      }
      const bracket = `regexp_split_to_array(trim(trim(regexp_replace(trim(${q}), '^[A-Za-z_ ]+', ''), '[]()')), '[\\s,]+')`;
      if (/position$|_pt$|^pt_position|_position_?/.test(s) && (await count(`len(${bracket}) = 3 AND TRY_CAST(${bracket}[1] AS DOUBLE) IS NOT NULL`)) === 0 && (await count('FALSE')) > 0) {
        ['x', 'y', 'z'].forEach((ax, a) => {
          exprs.push(`(CASE WHEN ${given} THEN TRY_CAST(${bracket}[${a + 1}] AS DOUBLE) * ${res[a]} END) AS ${sqlIdent(`${s}_${ax}`)}`);
          types[`${s}_${ax}`] = 'DOUBLE';
        });
        continue;
      }
      const axis = /_(x|y|z)$/.exec(s);
      const isPosAxis = axis && /position|_pt_|^pt_/.test(s);
      if ((ID_COLUMN.test(s) || UNIT.includes(s)) && (await count(`regexp_full_match(${q}, ' *[0-9]+ *') AND TRY_CAST(${q} AS UBIGINT) IS NOT NULL`)) === 0) {
        exprs.push(`TRY_CAST(${q} AS UBIGINT) AS ${sqlIdent(s)}`);
        types[s] = 'UBIGINT';
      } else if ((await count(`TRY_CAST(${q} AS DOUBLE) IS NOT NULL AND isfinite(TRY_CAST(${q} AS DOUBLE))`)) === 0) {
        const scale = isPosAxis ? res['xyz'.indexOf(axis![1])] : 1;
        exprs.push(`(TRY_CAST(${q} AS DOUBLE)${scale !== 1 ? ` * ${scale}` : ''}) AS ${sqlIdent(s)}`);
        types[s] = 'DOUBLE';
      } else {
        if (ID_COLUMN.test(s) || UNIT.includes(s)) {
          const bad = await store.all(`SELECT _line, ${q} AS v FROM _raw WHERE (${where}) AND ${given} AND NOT (TRY_CAST(${q} AS DOUBLE) IS NOT NULL) ORDER BY _line LIMIT 1`);
          if (bad.length && (spec.key.includes(s) || s === 'pt_root_id')) throw new FormatError(`line ${bad[0]._line}, column ${c}: ${JSON.stringify(bad[0].v)} is not a number`, file);
        }
        exprs.push(`NULLIF(${q}, '') AS ${sqlIdent(s)}`);
        types[s] = 'VARCHAR';
      }
    }
    // tuning values must be numbers: a text in a known numeric column is an error naming it
    if (kind === 'tuning' || kind === 'correlations') {
      for (const k of spec.known) {
        if (types[k] === 'VARCHAR' && !UNIT.includes(k)) {
          const src = raw.find((c) => stored(c) === k)!;
          const bad = await store.all(`SELECT _line, ${sqlIdent(src)} AS v FROM _raw WHERE (${where}) AND TRY_CAST(${sqlIdent(src)} AS DOUBLE) IS NULL AND trim(coalesce(${sqlIdent(src)}, '')) <> '' ORDER BY _line LIMIT 1`);
          throw new FormatError(`line ${bad[0]?._line}, column ${src}: ${JSON.stringify(bad[0]?.v)} is not a number`, file);
        }
      }
    }
    for (const k of spec.key) if (types[k] && types[k] !== 'UBIGINT' && types[k] !== 'DOUBLE') throw new FormatError(`key column ${k} must hold integers`, file);
    await store.run(`DROP TABLE IF EXISTS ${table}`);
    await store.run(`CREATE TABLE ${table} AS SELECT ${exprs.join(', ')} FROM _raw WHERE ${where} ORDER BY _line`);
    await store.run('DROP TABLE IF EXISTS _raw');
    const rows = Number((await store.all(`SELECT count(*) AS n FROM ${table}`))[0].n);
    const keyCols = spec.key.filter((k) => types[k] !== undefined);
    let duplicate_keys = 0;
    if (keyCols.length) {
      const d = await store.all(`SELECT count(*) - count(DISTINCT (${keyCols.map(sqlIdent).join(', ')})) AS n FROM ${table}`);
      duplicate_keys = Number(d[0].n);
    }
    const report: AnnotationImportReport = {
      file,
      name,
      table,
      kind,
      rows,
      columns: types,
      extra: cols.filter((c) => !spec.known.includes(c) && !(kind !== 'generic' && spec.required.some((alts) => alts.includes(c)))),
      skipped,
      duplicate_keys,
    };
    if (kind === 'coregistration') {
      const d = await store.all(`SELECT count(*) AS n FROM (SELECT pt_root_id FROM ${table} GROUP BY pt_root_id HAVING count(DISTINCT (session, scan_idx, unit_id)) > 1)`);
      report.cells_with_several_units = Number(d[0].n);
    }
    if (types.pt_root_id === 'UBIGINT') {
      const cells = Number((await store.all('SELECT count(*) AS n FROM cells'))[0].n);
      if (cells > 0) report.unknown_cells = Number((await store.all(`SELECT count(*) AS n FROM ${table} t ANTI JOIN cells c ON c.pt_root_id = t.pt_root_id`))[0].n);
    }
    await store.run(`DELETE FROM ${ANNOTATION_REGISTRY} WHERE name = $1`, [name]);
    await store.run(`INSERT INTO ${ANNOTATION_REGISTRY} VALUES ($1, $2, $3, now()::TIMESTAMP, $4, $5, $6, $7, $8)`, [
      name,
      kind,
      path.resolve(file),
      rows,
      JSON.stringify(types),
      JSON.stringify(keyCols),
      JSON.stringify(res),
      JSON.stringify(rename),
    ]);
    return report;
  });
}

export interface AnnotationTableInfo {
  name: string;
  table: string;
  kind: AnnotationKind;
  source: string;
  rows: number;
  columns: Record<string, string>;
  rename: Record<string, string>;
}

export async function listAnnotationTables(store: ConnectomeStore): Promise<AnnotationTableInfo[]> {
  const t = await store.all(`SELECT 1 AS x FROM information_schema.tables WHERE table_name = '${ANNOTATION_REGISTRY}'`);
  if (!t.length) return [];
  const rows = await store.all(`SELECT * FROM ${ANNOTATION_REGISTRY} ORDER BY name`);
  return rows.map((r) => ({
    name: String(r.name),
    table: annotationTable(String(r.name)),
    kind: r.kind as AnnotationKind,
    source: String(r.source),
    rows: Number(r.rows_n),
    columns: JSON.parse(String(r.columns_json)),
    rename: JSON.parse(String(r.rename_json ?? '{}')),
  }));
}

/** The registry row of one annotation table, or a UsageError listing the tables there are. */
export async function annotationInfo(store: ConnectomeStore, name: string, kind?: AnnotationKind): Promise<AnnotationTableInfo> {
  const all = await listAnnotationTables(store);
  const hit = all.find((t) => t.name === name.toLowerCase());
  if (!hit) throw new UsageError(`no annotation table ${JSON.stringify(name)}${all.length ? ` (tables: ${all.map((t) => `${t.name} (${t.kind})`).join(', ')})` : ' (none imported: wiring function import)'}`, store.file);
  if (kind && hit.kind !== kind && hit.kind !== 'generic') throw new UsageError(`annotation table ${name} is a ${hit.kind} table, not ${kind}`, store.file);
  return hit;
}

