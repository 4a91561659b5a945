import { createReadStream, existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { createGunzip, gunzipSync } from 'node:zlib';
import { listValue as duckList, type DuckDBValue } from '@duckdb/node-api';
import type { Vec3 } from '../core/box.js';
import { FormatError, UsageError } from '../core/errors.js';
import { type SkeletonGraph, readSwc } from '../formats/swc.js';
import { readLines, startsWithGzipMagic } from '../formats/text-lines.js';
import { type ConnectomeStore, type TableName, TABLES, keyColumn, parseTableName, sqlIdent, sqlString } from './store.js';

/** What one import did, per input file. */
export interface ImportReport {
  file: string;
  table: TableName;
  inserted: number;
  /** Rows merged into existing cells/proofreading rows (same pt_root_id). */
  updated?: number;
  /** Rows skipped, with why (e.g. valid = f, pt_root_id = 0). */
  skipped?: Record<string, number>;
  /** Input columns dropped (a pandas index column). */
  ignoredColumns?: string[];
  /** Input columns with no place in the table, kept in `<table>_extra` by the table's key. */
  extraColumns?: string[];
  /** Cells created for names (edge lists). */
  cells?: number;
}

// ------------------------------------------------------------------------------------------
// CAVE table dumps

export interface CaveImportOptions {
  /** nm per voxel of the table's positions (MICrONS: 4,4,40). Default [1,1,1]: positions already nm. */
  resolution?: Vec3;
  /** Target table; default detected from the columns. */
  table?: TableName;
  /** Multiply a cell table's `volume` column by this (MICrONS nucleus volumes are um^3: 1e9). */
  volumeScale?: number;
  /**
   * Column mapping for tables published with other names: target column -> source column,
   * optionally with a factor (`ctr_pt_position_x: 'ctr_pt_x_nm*1'`; a factor replaces the
   * resolution for that column). Saved in the database's `import_mappings` table.
   */
  map?: Record<string, string>;
}

/** Source columns that name a store column under another name (published tables, e.g. pinky100). */
const COMMON_ALIASES: Record<string, string[]> = {
  pre_pt_root_id: ['pre_root_id'],
  post_pt_root_id: ['post_root_id'],
  pre_pt_supervoxel_id: ['pre_supervoxel_id'],
  post_pt_supervoxel_id: ['post_supervoxel_id'],
};

/** Parse `target=source[*factor],...` (the CLI's --map) into a mapping. */
export function parseColumnMap(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of text.split(',')) {
    const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*([A-Za-z_][A-Za-z0-9_]*(\s*\*\s*[0-9.eE+-]+)?)\s*$/.exec(part);
    if (!m) throw new UsageError(`--map ${JSON.stringify(part.trim())}: expected target=source or target=source*factor`);
    if (out[m[1]]) throw new UsageError(`--map: ${m[1]} is mapped twice`);
    out[m[1]] = m[2].replace(/\s+/g, '');
  }
  return out;
}

function mapSource(spec: string): { src: string; factor?: number } {
  const [src, f] = spec.split('*');
  return f === undefined ? { src } : { src, factor: Number(f) };
}

/** `<table>_merged.csv.gz` -> `<table>_merged_header.csv` (also for `.csv`). */
export function caveHeaderFile(dataFile: string): string | undefined {
  const m = /^(.*?)(\.csv)?(\.gz)?$/i.exec(dataFile)!;
  const cand = [`${m[1]}_header.csv`, `${m[1]}.header.csv`];
  return cand.find((c) => existsSync(c));
}

/** Largest text file (after gunzip) read whole: SWC, edge lists, meta.json (1 GiB; WIRING_MAX_TEXT_BYTES changes it). */
export function maxTextBytes(): number {
  const v = Number(process.env.WIRING_MAX_TEXT_BYTES);
  return Number.isFinite(v) && v > 0 ? v : 1024 * 1024 * 1024;
}

/** Largest gunzip ratio accepted for a table streamed to DuckDB once it is past 64 MiB (real CSVs: < 20). */
export const MAX_GZIP_RATIO = 200;

/** A path given as an input file must be a readable file (not a folder): UsageError naming it. */
async function checkInputFile(file: string): Promise<void> {
  let st;
  try {
    st = await fs.stat(file);
  } catch (err) {
    throw new UsageError((err as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : `cannot read: ${(err as Error).message}`, file);
  }
  if (st.isDirectory()) throw new UsageError('is a folder; expected a file', file);
}

async function readText(file: string): Promise<string> {
  await checkInputFile(file);
  let buf: Buffer;
  const MAX_TEXT_BYTES = maxTextBytes();
  try {
    const st = await fs.stat(file);
    if (st.size > MAX_TEXT_BYTES) throw new FormatError(`file of ${st.size} bytes is larger than ${MAX_TEXT_BYTES} (WIRING_MAX_TEXT_BYTES)`, file);
    buf = await fs.readFile(file);
  } catch (err) {
    if (err instanceof FormatError) throw err;
    throw new UsageError(`cannot read: ${(err as Error).message}`, file);
  }
  if (buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) {
    try {
      buf = gunzipSync(buf, { maxOutputLength: MAX_TEXT_BYTES });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || err instanceof RangeError) {
        throw new FormatError(`gzip data decompresses to more than ${MAX_TEXT_BYTES} bytes (WIRING_MAX_TEXT_BYTES); a gzip bomb or a file too large to read whole`, file);
      }
      throw new FormatError(`gzip data does not decompress (${(err as Error).message})`, file);
    }
  }
  return buf.toString('utf8').replace(/^\uFEFF/, '');
}

/**
 * A gzipped table handed to DuckDB (which streams it) is first gunzipped once as a stream,
 * counting bytes and holding none: one that inflates more than MAX_GZIP_RATIO times past
 * 64 MiB is refused as a gzip bomb before any row is staged.
 */
async function checkGzipRatio(file: string): Promise<void> {
  const { size } = await fs.stat(file);
  const limit = Math.max(64 * 1024 * 1024, size * MAX_GZIP_RATIO);
  const src = createReadStream(file);
  const gz = src.pipe(createGunzip());
  let total = 0;
  try {
    for await (const chunk of gz as AsyncIterable<Buffer>) {
      total += chunk.length;
      if (total > limit) {
        throw new FormatError(`gzip data inflates more than ${MAX_GZIP_RATIO} times (past ${limit} bytes from ${size}); refused as a gzip bomb`, file);
      }
    }
  } catch (err) {
    if (err instanceof FormatError) throw err;
    throw new FormatError(`gzip data does not decompress (${(err as Error).message})`, file);
  } finally {
    src.destroy();
    gz.destroy();
  }
}

/** Whether a file is Parquet (by name or its `PAR1` magic). */
async function isParquet(file: string): Promise<boolean> {
  if (/\.parquet$/i.test(file)) return true;
  const h = await fs.open(file, 'r');
  try {
    const b = Buffer.alloc(4);
    const { bytesRead } = await h.read(b, 0, 4, 0);
    return bytesRead === 4 && b.toString('latin1') === 'PAR1';
  } finally {
    await h.close();
  }
}

/** The first line of a text file (gunzipped if needed; BOM and CR removed), reading only as far as it. */
async function firstLine(file: string): Promise<string> {
  const gz = await startsWithGzipMagic(file);
  const src = createReadStream(file);
  const stream = gz ? src.pipe(createGunzip()) : src;
  const parts: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      const nl = chunk.indexOf(0x0a);
      parts.push(nl >= 0 ? chunk.subarray(0, nl) : chunk);
      total += chunk.length;
      if (nl >= 0 || total > 1 << 24) break;
    }
  } finally {
    src.destroy();
    if (gz) (stream as ReturnType<typeof createGunzip>).destroy();
  }
  return Buffer.concat(parts).toString('utf8').replace(/^\uFEFF/, '').replace(/\r$/, '');
}

/** Column names from a CAVE header file: one `name,type` line per column, or one row of names. */
export async function readCaveHeader(file: string): Promise<string[]> {
  const lines = (await readText(file)).split(/\r?\n/).filter((l) => l.trim() !== '');
  if (lines.length === 0) throw new FormatError('header file is empty; expected one line per column (name,type)', file);
  let names: string[];
  if (lines.length === 1) names = splitCsvLine(lines[0], ',');
  else {
    // one `name,type` line per column, perhaps under a `column,type` title line
    const first = splitCsvLine(lines[0], ',').map((f) => f.trim().toLowerCase());
    const titled = first.length >= 2 && ['type', 'data_type', 'dtype', 'datatype'].includes(first[1]);
    names = (titled ? lines.slice(1) : lines).map((l) => splitCsvLine(l, ',')[0]);
  }
  names = names.map((n) => n.trim());
  const seen = new Set<string>();
  names.forEach((n, i) => {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(n)) throw new FormatError(`line ${lines.length === 1 ? 1 : i + 1}: column name ${JSON.stringify(n)} is not a plain identifier`, file);
    if (seen.has(n)) throw new FormatError(`column ${n} appears twice`, file);
    seen.add(n);
  });
  return names;
}

/** Which store table a set of CAVE columns belongs to. */
export function detectCaveTable(cols: string[], file: string): TableName {
  const has = (c: string) => cols.includes(c);
  const hasPos = (p: string) => has(p) || has(`${p}_x`);
  if (has('pre_pt_root_id') && has('post_pt_root_id')) return 'synapses';
  if ((has('target_id') || has('synapse_id')) && (has('tag') || has('compartment'))) return 'compartment_tags';
  if (has('status_axon') || has('status_dendrite')) return 'proofreading';
  if (has('kind') && has('host_root_id')) return 'organelles';
  if (has('pt_root_id') && (hasPos('pt_position') || has('cell_type'))) return 'cells';
  throw new FormatError(
    `cannot tell which table these columns belong to (${cols.join(', ')}); expected pre_pt_root_id+post_pt_root_id (synapses), pt_root_id (cells), status_axon/status_dendrite (proofreading) or target_id+tag (compartment tags); pass --table, or name the columns with --map target=source (e.g. pre_pt_root_id=pre_root_id)`,
    file,
  );
}

type Conv =
  | { kind: 'id'; src: string }
  | { kind: 'double'; src: string; scale?: number }
  | { kind: 'text'; src: string }
  | { kind: 'bracket'; src: string; axis: number; scale: number }
  | { kind: 'null' };

/** Map each target column to how it is computed from the raw text columns. */
function planColumns(table: TableName, cols: string[], opts: CaveImportOptions, file: string): { plan: Map<string, Conv>; used: Set<string> } {
  const res = opts.resolution ?? [1, 1, 1];
  const plan = new Map<string, Conv>();
  const used = new Set<string>();
  const alias: Record<string, string[]> = {
    synapse_id: ['synapse_id', 'target_id'],
    compartment: ['compartment', 'tag'],
    pt_root_id: ['pt_root_id'],
  };
  for (const [k, v] of Object.entries(COMMON_ALIASES)) alias[k] = [k, ...v];
  const map = opts.map ?? {};
  const targets = new Set(TABLES[table].map((s) => s.name));
  for (const [t, spec] of Object.entries(map)) {
    if (!targets.has(t)) throw new UsageError(`--map ${t}=${spec}: table ${table} has no column ${t} (columns: ${[...targets].join(', ')})`);
    const { src, factor } = mapSource(spec);
    if (!cols.includes(src)) throw new FormatError(`--map ${t}=${spec}: the file has no column ${src} (columns: ${cols.join(', ')})`, file);
    if (factor !== undefined && !Number.isFinite(factor)) throw new UsageError(`--map ${t}=${spec}: the factor must be a number`);
  }
  for (const spec of TABLES[table]) {
    const mapped = map[spec.name];
    if (mapped !== undefined) {
      const { src, factor } = mapSource(mapped);
      used.add(src);
      const pm = /^(.*_position)_([xyz])$/.exec(spec.name);
      if (spec.type === 'UBIGINT') plan.set(spec.name, { kind: 'id', src });
      else if (spec.type === 'DOUBLE') plan.set(spec.name, { kind: 'double', src, scale: factor ?? (pm ? res['xyz'.indexOf(pm[2])] : spec.name === 'volume' ? opts.volumeScale : undefined) });
      else plan.set(spec.name, { kind: 'text', src });
      continue;
    }
    const m = /^(.*_position)_([xyz])$/.exec(spec.name);
    if (m) {
      const axis = 'xyz'.indexOf(m[2]);
      if (cols.includes(spec.name)) {
        plan.set(spec.name, { kind: 'double', src: spec.name, scale: res[axis] });
        used.add(spec.name);
      } else if (cols.includes(m[1])) {
        plan.set(spec.name, { kind: 'bracket', src: m[1], axis, scale: res[axis] });
        used.add(m[1]);
      } else plan.set(spec.name, { kind: 'null' });
      continue;
    }
    const src = (alias[spec.name] ?? [spec.name]).find((c) => cols.includes(c));
    if (!src) {
      if (spec.required) throw new FormatError(`missing required column ${spec.name}${alias[spec.name] ? ` (or ${alias[spec.name].join('/')})` : ''}`, file);
      plan.set(spec.name, { kind: 'null' });
      continue;
    }
    used.add(src);
    if (spec.type === 'UBIGINT') plan.set(spec.name, { kind: 'id', src });
    else if (spec.type === 'DOUBLE') plan.set(spec.name, { kind: 'double', src, scale: spec.name === 'volume' ? opts.volumeScale : undefined });
    else plan.set(spec.name, { kind: 'text', src });
  }
  return { plan, used };
}


function bracketParts(src: string): string {
  // "[x y z]", "(x, y, z)", "POINT Z (x y z)"
  return `regexp_split_to_array(trim(trim(regexp_replace(trim(${sqlIdent(src)}), '^[A-Za-z_ ]+', ''), '[]()')), '[\\s,]+')`;
}

/** SQL that is TRUE for a row whose "[x y z]" position text does not give 3 numbers. */
function bracketBad(c: Conv & { kind: 'bracket' }): string {
  const s = sqlIdent(c.src);
  const parts = bracketParts(c.src);
  return `(${s} IS NOT NULL AND trim(${s}) <> '' AND (len(${parts}) <> 3 OR TRY_CAST(${parts}[${c.axis + 1}] AS DOUBLE) IS NULL))`;
}

function valueExpr(c: Conv, type: string): string {
  switch (c.kind) {
    // DuckDB's casts skip surrounding spaces and give NULL for '' (no trimmed copies needed)
    case 'id':
      return `TRY_CAST(${sqlIdent(c.src)} AS UBIGINT)`;
    case 'double': {
      const v = `TRY_CAST(${sqlIdent(c.src)} AS DOUBLE)`;
      return c.scale !== undefined && c.scale !== 1 ? `(${v} * ${c.scale})` : v;
    }
    case 'bracket':
      return `(CASE WHEN ${sqlIdent(c.src)} IS NULL OR trim(${sqlIdent(c.src)}) = '' THEN NULL ELSE TRY_CAST(${bracketParts(c.src)}[${c.axis + 1}] AS DOUBLE) * ${c.scale} END)`;
    case 'text':
      return `NULLIF(${sqlIdent(c.src)}, '')`;
    default:
      return `NULL::${type}`;
  }
}

function expectation(c: Conv): string {
  switch (c.kind) {
    case 'id':
      return 'an unsigned 64-bit integer id (0..18446744073709551615)';
    case 'double':
      return 'a finite number';
    case 'bracket':
      return 'a position "[x y z]" with 3 numbers';
    default:
      return 'a value';
  }
}

/**
 * Stage a delimited text file as VARCHAR columns in temp table `_raw` with its line number in
 * `_line`. `names` given: the file has no header row. The file may be gzipped.
 */
export async function stageText(store: ConnectomeStore, file: string, names: string[] | undefined, delim = ','): Promise<string[]> {
  await checkInputFile(file);
  if (await startsWithGzipMagic(file)) await checkGzipRatio(file);
  // a data file that repeats its sidecar's names in its first line has a header row after all
  const header = names === undefined || sameNames(splitCsvLine(await firstLine(file), delim), names);
  let cols = names;
  if (!cols) {
    // an unnamed column (pandas writes its index so) gets a placeholder name and is ignored
    cols = splitCsvLine(await firstLine(file), delim).map((c, i) => c.trim() || `_unnamed_${i + 1}`);
    const seen = new Set<string>();
    for (const c of cols) {
      if (seen.has(c)) throw new FormatError(`line 1: column ${c} appears twice`, file);
      seen.add(c);
    }
  }
  const colSpec = `{${cols.map((c) => `${sqlString(c)}: 'VARCHAR'`).join(', ')}}`;
  // gzip by content, not only by a .gz name
  const compression = (await startsWithGzipMagic(file)) ? 'gzip' : 'none';
  const reader = `read_csv(${sqlString(file)}, header = ${header}, columns = ${colSpec}, delim = ${sqlString(delim)}, quote = '"', escape = '"', auto_detect = false, strict_mode = true, null_padding = false, compression = '${compression}')`;
  try {
    await store.run(`CREATE OR REPLACE TEMP TABLE _raw AS SELECT (row_number() OVER ()) + ${header ? 1 : 0} AS _line, * FROM ${reader}`);
  } catch (err) {
    const msg = (err as Error).message.split('\n').filter((l) => /line|column|expected|found/i.test(l)).slice(0, 4).join(' ');
    throw new FormatError(`not a valid ${cols.length}-column CSV (${cols.join(', ')}): ${msg || (err as Error).message}`, file, { cause: err });
  }
  return cols;
}

function sameNames(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x, i) => x.trim() === b[i]);
}

/**
 * Stage a Parquet file as VARCHAR columns in temp table `_raw` with its row number in `_line`
 * (lists such as a position [x, y, z] become "[x, y, z]" text, booleans true/false).
 */
export async function stageParquet(store: ConnectomeStore, file: string): Promise<string[]> {
  const reader = `read_parquet(${sqlString(file)})`;
  let cols: string[];
  try {
    const d = await store.columns(`DESCRIBE SELECT * FROM ${reader}`);
    cols = (d.columns.column_name as unknown[]).map(String);
  } catch (err) {
    throw new FormatError(`cannot read as Parquet: ${(err as Error).message.split('\n')[0]}`, file, { cause: err });
  }
  try {
    await store.run(`CREATE OR REPLACE TEMP TABLE _raw AS SELECT row_number() OVER () AS _line, ${cols.map((c) => `${sqlIdent(c)}::VARCHAR AS ${sqlIdent(c)}`).join(', ')} FROM ${reader}`);
  } catch (err) {
    // a valid footer over corrupt pages ("TProtocolException", "Invalid data"...)
    throw new FormatError(`corrupt Parquet data: ${(err as Error).message.split('\n')[0]}`, file, { cause: err });
  }
  return cols;
}

async function firstBad(store: ConnectomeStore, cond: string, src: string): Promise<{ line: number; value: unknown } | undefined> {
  const r = await store.all(`SELECT _line, ${src === '' ? 'NULL' : sqlIdent(src)} AS v FROM _raw WHERE ${cond} ORDER BY _line LIMIT 1`);
  return r.length ? { line: Number(r[0]._line), value: r[0].v } : undefined;
}

/**
 * Turn `_raw` into typed temp table `_typed` (target columns + _line), checking every value
 * first: a bad value is an error naming the file, line and column.
 */
async function typeStaged(
  store: ConnectomeStore,
  table: TableName,
  plan: Map<string, Conv>,
  file: string,
  where = 'TRUE',
  label = 'line',
): Promise<void> {
  // One pass converts every value once (typed columns _v_<name>) and flags a row whose value
  // does not convert; only for the first flagged row is the column found and named.
  const specs = TABLES[table];
  const rawUsed = [...new Set(specs.map((s) => plan.get(s.name)!).flatMap((c) => (c.kind === 'null' ? [] : [c.src])))];
  const v = (name: string) => sqlIdent(`_v_${name}`);
  const inner = (w: string) =>
    `SELECT _line, ${[...rawUsed.map((c) => sqlIdent(c)), ...specs.map((s) => `${valueExpr(plan.get(s.name)!, s.type)} AS ${v(s.name)}`)].join(', ')} FROM _raw WHERE ${w}`;
  const checks: { c: Conv; bad: string }[] = [];
  for (const spec of specs) {
    const c = plan.get(spec.name)!;
    const bad = convertedBad(c, spec.required, v(spec.name));
    if (bad) checks.push({ c, bad });
  }
  const anyBad = checks.length ? checks.map((k) => `(${k.bad})`).join(' OR ') : 'FALSE';
  await store.run(`CREATE OR REPLACE TEMP TABLE _typed AS SELECT _line, ${specs.map((s) => `${v(s.name)} AS ${s.name}`).join(', ')}, (${anyBad}) AS _bad FROM (${inner(where)})`);
  const first = await store.all('SELECT min(_line) AS l FROM _typed WHERE _bad');
  if (first[0].l === null || first[0].l === undefined) return;
  const line = Number(first[0].l);
  const flags = await store.all(`SELECT ${checks.map((k, i) => `coalesce(${k.bad}, FALSE) AS b${i}`).join(', ')} FROM (${inner(`(${where}) AND _line = ${line}`)})`);
  const i = Math.max(0, checks.findIndex((_, j) => flags[0]?.[`b${j}`] === true));
  const { c } = checks[i];
  const src = c.kind === 'null' ? '' : c.src;
  const hit = await firstBad(store, `_line = ${line}`, src);
  const value = hit?.value;
  const shown = value === null || value === undefined || value === '' ? 'an empty value' : JSON.stringify(value);
  throw new FormatError(`${label} ${line}, column ${src}: ${shown} is not ${expectation(c)}`, file);
}

/**
 * SQL that is TRUE for a row whose raw text does not convert, given the converted value `v`
 * (valueExpr of the same column): a non-empty text that converted to NULL, an id that is not
 * only digits (DuckDB's cast alone accepts 1.7, 1e3, 0x10, +5), a number that is not finite;
 * an empty required value.
 */
function convertedBad(c: Conv, required: boolean, v: string): string | undefined {
  if (c.kind === 'null') return undefined;
  const raw = sqlIdent(c.src);
  const given = `(${raw} IS NOT NULL AND trim(${raw}) <> '')`;
  // decimal digits only: the cast alone accepts 1.7, 1e3, 0x10, +5 (a regular expression is
  // about half the CPU of ltrim with a character set here)
  const digits = `regexp_full_match(${raw}, ' *[0-9]+ *')`;
  switch (c.kind) {
    case 'id':
      return required ? `${v} IS NULL OR NOT ${digits}` : `(${v} IS NULL AND ${given}) OR (${v} IS NOT NULL AND NOT ${digits})`;
    case 'double':
      return `(${v} IS NULL AND ${given}) OR (${v} IS NOT NULL AND NOT isfinite(${v}))`;
    case 'bracket':
      return bracketBad(c);
    case 'text':
      return required ? `${v} IS NULL` : undefined;
  }
}

/**
 * Move `_typed` into the table: synapses/organelles/compartment tags are appended (a key that
 * repeats, within the file or against the table, is an error naming the lines); cells and
 * proofreading rows are merged by pt_root_id (non-NULL new values fill/replace old ones), so a
 * nucleus table and a cell-type table combine into one cells table.
 */
async function mergeTyped(store: ConnectomeStore, table: TableName, file: string, label = 'line'): Promise<{ inserted: number; updated: number }> {
  const key = keyColumn(table);
  const anyDup = await store.all(`SELECT count(${key}) - count(DISTINCT ${key}) AS d FROM _typed`);
  const dupIn = Number(anyDup[0].d) === 0 ? [] : await store.all(
    `SELECT ${key} AS k, min(_line) AS a, max(_line) AS b FROM (SELECT ${key}, _line, row_number() OVER (PARTITION BY ${key} ORDER BY _line) AS r FROM _typed) WHERE r <= 2 GROUP BY ${key} HAVING count(*) > 1 ORDER BY b LIMIT 1`,
  );
  if (dupIn.length) throw new FormatError(`${label} ${dupIn[0].b}: duplicate ${key} ${dupIn[0].k} (already at ${label} ${dupIn[0].a})`, file);
  const cols = TABLES[table].map((s) => s.name);
  const merge = table === 'cells' || table === 'proofreading';
  if (!merge) {
    const clash = await store.all(`SELECT t.${key} AS k, t._line AS l FROM _typed t SEMI JOIN ${table} s ON s.${key} = t.${key} ORDER BY t._line LIMIT 1`);
    if (clash.length) throw new FormatError(`${label} ${clash[0].l}: ${key} ${clash[0].k} is already in table ${table}`, file);
    await store.run(`INSERT INTO ${table} SELECT ${cols.join(', ')} FROM _typed ORDER BY ${table === 'synapses' ? 'pre_pt_root_id, post_pt_root_id, id' : '_line'}`);
    if (table === 'synapses') await store.addToConnections('_typed');
    const n = await store.all('SELECT count(*) AS n FROM _typed');
    return { inserted: Number(n[0].n), updated: 0 };
  }
  const upd = await store.all(`SELECT count(*) AS n FROM _typed t SEMI JOIN ${table} s ON s.${key} = t.${key}`);
  const rest = cols.filter((c) => c !== key);
  await store.run(
    `UPDATE ${table} SET ${rest.map((c) => `${c} = coalesce(t.${c}, ${table}.${c})`).join(', ')} FROM _typed t WHERE ${table}.${key} = t.${key}`,
  );
  const ins = await store.all(`SELECT count(*) AS n FROM _typed t ANTI JOIN ${table} s ON s.${key} = t.${key}`);
  await store.run(`INSERT INTO ${table} SELECT ${cols.map((c) => `t.${c}`).join(', ')} FROM _typed t ANTI JOIN ${table} s ON s.${key} = t.${key} ORDER BY t._line`);
  return { inserted: Number(ins[0].n), updated: Number(upd[0].n) };
}

/** The side table that keeps a table's extra columns, keyed like the table. */
export function extraTable(table: TableName): string {
  return `${table}_extra`;
}

/**
 * Keep columns that have no place in `table` in `<table>_extra` (key column + the extras, each
 * DOUBLE when every value is a number, else VARCHAR), by the rows of `_typed` (joined to `_raw`
 * by line). Later imports add columns and fill or replace values by key.
 */
async function keepExtraColumns(store: ConnectomeStore, table: TableName, extra: string[], file: string): Promise<string[]> {
  if (extra.length === 0) return [];
  const key = keyColumn(table);
  const side = extraTable(table);
  await store.run(`CREATE TABLE IF NOT EXISTS ${side} (${key} UBIGINT NOT NULL)`);
  const have = new Map((await store.all(`SELECT column_name AS c, data_type AS t FROM information_schema.columns WHERE table_name = '${side}'`)).map((r) => [String(r.c), String(r.t)]));
  const exprs: string[] = [];
  for (const c of extra) {
    if (c === key) continue;
    const q = `r.${sqlIdent(c)}`;
    const notNum = await store.all(`SELECT count(*) AS n FROM _typed t JOIN _raw r USING (_line) WHERE ${q} IS NOT NULL AND trim(${q}) <> '' AND TRY_CAST(${q} AS DOUBLE) IS NULL`);
    let type = Number(notNum[0].n) === 0 ? 'DOUBLE' : 'VARCHAR';
    const old = have.get(c);
    if (old === undefined) await store.run(`ALTER TABLE ${side} ADD COLUMN ${sqlIdent(c)} ${type}`);
    else if (old !== type) {
      if (old === 'DOUBLE') await store.run(`ALTER TABLE ${side} ALTER ${sqlIdent(c)} TYPE VARCHAR`);
      type = 'VARCHAR';
    }
    exprs.push(type === 'DOUBLE' ? `TRY_CAST(${q} AS DOUBLE) AS ${sqlIdent(c)}` : `NULLIF(${q}, '') AS ${sqlIdent(c)}`);
  }
  const cols = extra.filter((c) => c !== key);
  if (cols.length === 0) return [];
  try {
    await store.run(`CREATE OR REPLACE TEMP TABLE _extra AS SELECT t.${key} AS ${key}, ${exprs.join(', ')} FROM _typed t JOIN _raw r USING (_line)`);
    await store.run(`UPDATE ${side} SET ${cols.map((c) => `${sqlIdent(c)} = coalesce(e.${sqlIdent(c)}, ${side}.${sqlIdent(c)})`).join(', ')} FROM _extra e WHERE ${side}.${key} = e.${key}`);
    await store.run(`INSERT INTO ${side} (${key}, ${cols.map(sqlIdent).join(', ')}) SELECT e.${key}, ${cols.map((c) => `e.${sqlIdent(c)}`).join(', ')} FROM _extra e ANTI JOIN ${side} x ON x.${key} = e.${key}`);
  } catch (err) {
    throw new FormatError(`cannot keep extra columns ${cols.join(', ')}: ${(err as Error).message.split('\n')[0]}`, file, { cause: err });
  } finally {
    await store.run('DROP TABLE IF EXISTS _extra').catch(() => {});
  }
  return cols;
}

/** Record a column mapping used for an import, beside the data (table import_mappings). */
async function saveMapping(store: ConnectomeStore, file: string, table: TableName, opts: CaveImportOptions): Promise<void> {
  await store.run('CREATE TABLE IF NOT EXISTS import_mappings (file VARCHAR, target_table VARCHAR, mapping_json VARCHAR, resolution_json VARCHAR, imported_at TIMESTAMP)');
  await store.run('INSERT INTO import_mappings VALUES ($1, $2, $3, $4, now()::TIMESTAMP)', [path.resolve(file), table, JSON.stringify(opts.map), JSON.stringify(opts.resolution ?? [1, 1, 1])]);
}

async function dropTemps(store: ConnectomeStore): Promise<void> {
  await store.run('DROP TABLE IF EXISTS _raw; DROP TABLE IF EXISTS _typed;').catch(() => {});
}

/**
 * Import CAVE table dumps: `<table>_merged.csv.gz` (no header row) with its
 * `<table>_merged_header.csv` (one `name,type` line per column, or one line of names), a CSV
 * with a header row (gzipped or not; BOM, CRLF and quoted fields are fine), or a Parquet file
 * (list columns such as pt_position [x, y, z] are read as positions). Positions as split
 * `_x/_y/_z` columns or "[x y z]" / "[x, y, z]" text, in voxels of `resolution` nm. Header
 * files given as inputs beside their data file are used as headers, not imported.
 *
 * Rows with `valid` false (t/f, true/false, 1/0) are skipped and reported; other values of
 * `valid` are an error. Synapses with root id 0 (an unassigned partner) and self-synapses are
 * kept (queries drop them by choice); cell and proofreading rows with pt_root_id 0 (no cell)
 * are skipped and reported. Ids are unsigned 64-bit: a value that is not exactly such an
 * integer (negative, above 2^64-1, fractional, 1e17) is an error naming file, line and column;
 * so is a repeated synapse id. All files are imported in one transaction: a bad file leaves the
 * database as it was.
 */
export async function importCave(store: ConnectomeStore, files: string[], opts: CaveImportOptions = {}): Promise<ImportReport[]> {
  if (files.length === 0) throw new UsageError('no input files');
  for (const f of files) await checkInputFile(f);
  // header files given beside their data files are headers, not tables
  const headers = new Set(files.map((f) => caveHeaderFile(f)).filter((h): h is string => h !== undefined).map((h) => path.resolve(h)));
  const inputs = files.filter((f) => !headers.has(path.resolve(f)));
  if (inputs.length === 0) throw new UsageError('only header files given; pass the data files (their headers are found beside them)');
  const out: ImportReport[] = [];
  await store.transaction(async () => {
    for (const file of inputs) {
      const parquet = await isParquet(file);
      const label = parquet ? 'row' : 'line';
      let cols: string[];
      if (parquet) cols = await stageParquet(store, file);
      else {
        const headerFile = caveHeaderFile(file);
        cols = await stageText(store, file, headerFile ? await readCaveHeader(headerFile) : undefined);
      }
      const mappedNames = [...cols.filter((c) => !Object.values(opts.map ?? {}).some((v) => mapSource(v).src === c)), ...Object.keys(opts.map ?? {})];
      const aliased = mappedNames.map((c) => Object.keys(COMMON_ALIASES).find((k) => COMMON_ALIASES[k].includes(c)) ?? c);
      const table = opts.table ? parseTableName(opts.table) : detectCaveTable(aliased, file);
      const { plan, used } = planColumns(table, cols, opts, file);
      const skipped: Record<string, number> = {};
      const conds: string[] = [];
      if (cols.includes('valid')) {
        const v = `lower(trim(coalesce(${sqlIdent('valid')}, '')))`;
        const badValid = await store.all(`SELECT _line, ${sqlIdent('valid')} AS v FROM _raw WHERE ${v} NOT IN ('', 't', 'true', '1', 'f', 'false', '0') ORDER BY _line LIMIT 1`);
        if (badValid.length) throw new FormatError(`${label} ${badValid[0]._line}, column valid: ${JSON.stringify(badValid[0].v)} is not a boolean (t/f, true/false, 1/0)`, file);
        const invalid = `${v} IN ('f', 'false', '0')`;
        const n = await store.all(`SELECT count(*) AS n FROM _raw WHERE ${invalid}`);
        if (Number(n[0].n)) skipped['valid=false'] = Number(n[0].n);
        conds.push(`NOT (${invalid})`);
        used.add('valid');
      }
      if (table === 'cells' || table === 'proofreading') {
        const c = plan.get('pt_root_id') as { src: string };
        const zero = `regexp_full_match(coalesce(${sqlIdent(c.src)}, ''), '^\\s*0+\\s*$')`;
        const n = await store.all(`SELECT count(*) AS n FROM _raw WHERE ${zero}${conds.length ? ` AND ${conds.join(' AND ')}` : ''}`);
        if (Number(n[0].n)) skipped['pt_root_id=0'] = Number(n[0].n);
        conds.push(`NOT ${zero}`);
      }
      const merging = table === 'cells' || table === 'proofreading';
      if (merging && cols.includes('id')) {
        // the annotation id of a cell/proofreading table must be unique (a repeated one is a bad row)
        const idv = sqlIdent('id');
        const d = await store.all(
          `SELECT k, min(_line) AS a, max(_line) AS b FROM (SELECT trim(${idv}) AS k, _line, row_number() OVER (PARTITION BY trim(${idv}) ORDER BY _line) AS r FROM _raw WHERE ${idv} IS NOT NULL AND trim(${idv}) <> '') WHERE r <= 2 GROUP BY k HAVING count(*) > 1 ORDER BY b LIMIT 1`,
        );
        if (d.length) throw new FormatError(`${label} ${d[0].b}: duplicate id ${d[0].k} (already at ${label} ${d[0].a})`, file);
        used.add('id');
      }
      await typeStaged(store, table, plan, file, conds.length ? conds.join(' AND ') : 'TRUE', label);
      if (merging) {
        // several annotations of one root (e.g. two nuclei in one merged segment): keep the first
        const key = keyColumn(table);
        const n = await store.all(`SELECT count(*) - count(DISTINCT ${key}) AS n FROM _typed`);
        if (Number(n[0].n)) {
          skipped[`repeated ${key} (first row kept)`] = Number(n[0].n);
          await store.run(`DELETE FROM _typed WHERE _line IN (SELECT _line FROM (SELECT _line, row_number() OVER (PARTITION BY ${key} ORDER BY _line) AS r FROM _typed) WHERE r > 1)`);
        }
      }
      const { inserted, updated } = await mergeTyped(store, table, file, label);
      const rest = cols.filter((c) => !used.has(c));
      // a pandas index column is noise; everything else is kept beside the table
      const ignored = rest.filter((c) => /^_unnamed_\d+$/.test(c));
      const extra = rest.filter((c) => !ignored.includes(c));
      const kept = await keepExtraColumns(store, table, extra, file);
      if (opts.map && Object.keys(opts.map).length) await saveMapping(store, file, table, opts);
      out.push({ file, table, inserted, updated, skipped, ignoredColumns: ignored, extraColumns: kept });
    }
    await dropTemps(store);
  });
  return out;
}

// ------------------------------------------------------------------------------------------
// Edge lists

/**
 * A stable synthetic cell id for a name: FNV-1a 64-bit of the trimmed UTF-8 name, top bit
 * cleared and never 0. The same name gets the same id in every file and database.
 */
export function nameId(name: string): bigint {
  const bytes = Buffer.from(name.trim(), 'utf8');
  let h = 0xcbf29ce484222325n;
  const P = 0x100000001b3n;
  const M = (1n << 64n) - 1n;
  for (const b of bytes) h = ((h ^ BigInt(b)) * P) & M;
  h &= (1n << 63n) - 1n;
  return h === 0n ? 1n : h;
}

export interface EdgeImportOptions {
  /** What the weight column means: `count` (default) = number of synapses, each stored as a
   * synapse row of size 1; `size` = one synapse row per edge with size = weight. */
  weight?: 'count' | 'size';
}

interface EdgeRow {
  line: number;
  pre: string;
  post: string;
  weight: number;
  type?: string;
}

const PRE_NAMES = ['source', 'pre', 'from', 'presynaptic', 'pre_name', 'neuron1'];
const POST_NAMES = ['target', 'post', 'to', 'postsynaptic', 'post_name', 'neuron2'];
/** Most synapse rows one edge-list file may expand to in count mode (one row per counted synapse). */
export const MAX_COUNT_SYNAPSES = 5_000_000;

const WEIGHT_NAMES = ['weight', 'synapses', 'count', 'nbr', 'n', 'size'];
const TYPE_NAMES = ['type', 'synapse_type', 'kind'];

/**
 * The rows of an edge list (CSV or tab-separated, header naming pre/post/weight(/type) columns),
 * streamed line by line: the file is never held whole.
 */
export async function* edgeRows(file: string): AsyncGenerator<EdgeRow> {
  let head: string[] | undefined;
  let delim = ',';
  let first = '';
  let ip = -1, iq = -1, iw = -1, it = -1;
  const find = (cands: string[]) => head!.findIndex((h) => cands.includes(h));
  for await (const { n: line, text: raw } of readLines(file)) {
    if (line === 1) {
      first = raw;
      continue;
    }
    if (raw.trim() === '') continue;
    if (!head) {
      // White 1986 files separate rows with tabs (and one has a space-separated header).
      delim = raw.includes('\t') || first.includes('\t') ? '\t' : ',';
      head = splitCsvLine(first, delim).map((h) => h.trim().toLowerCase());
      if (head.length === 1 && delim === '\t') head = first.trim().toLowerCase().split(/\s+/);
      [ip, iq, iw, it] = [find(PRE_NAMES), find(POST_NAMES), find(WEIGHT_NAMES), find(TYPE_NAMES)];
      if (ip < 0 || iq < 0) {
        throw new FormatError(`line 1: header ${JSON.stringify(first.slice(0, 200))} must name a pre column (${PRE_NAMES.join('/')}) and a post column (${POST_NAMES.join('/')})`, file);
      }
    }
    const f = splitCsvLine(raw, delim);
    if (f.length !== head.length) {
      throw new FormatError(`line ${line}: ${f.length} fields, expected ${head.length} (${head.join(', ')})`, file);
    }
    const pre = f[ip].trim();
    const post = f[iq].trim();
    if (!pre) throw new FormatError(`line ${line}, column ${head[ip]}: empty cell name`, file);
    if (!post) throw new FormatError(`line ${line}, column ${head[iq]}: empty cell name`, file);
    let weight = 1;
    if (iw >= 0) {
      const w = f[iw].trim();
      weight = Number(w);
      if (w === '' || !Number.isFinite(weight) || weight < 0) {
        throw new FormatError(`line ${line}, column ${head[iw]}: ${JSON.stringify(f[iw])} is not a non-negative number`, file);
      }
    }
    yield { line, pre, post, weight, type: it >= 0 ? f[it].trim() || undefined : undefined };
  }
  if (!head) {
    const h = splitCsvLine(first, first.includes('\t') ? '\t' : ',').map((x) => x.trim().toLowerCase());
    if (!h.some((x) => PRE_NAMES.includes(x)) || !h.some((x) => POST_NAMES.includes(x))) {
      throw new FormatError(`line 1: header ${JSON.stringify(first.slice(0, 200))} must name a pre column (${PRE_NAMES.join('/')}) and a post column (${POST_NAMES.join('/')})`, file);
    }
  }
}

/** All rows of an edge list (a convenience over `edgeRows` for small files and tests). */
export async function parseEdgeList(file: string): Promise<EdgeRow[]> {
  const rows: EdgeRow[] = [];
  for await (const r of edgeRows(file)) rows.push(r);
  return rows;
}

/** Synapse rows inserted per batch while an edge list streams in. */
const EDGE_BATCH_ROWS = 50_000;

async function nextSynapseId(store: ConnectomeStore): Promise<bigint> {
  const r = await store.all('SELECT max(id) AS m FROM synapses');
  return r[0].m === null ? 1n : (r[0].m as bigint) + 1n;
}

/** Add cells for names not yet in the store (synthetic ids from `nameId`). Returns how many. */
async function ensureNamedCells(store: ConnectomeStore, names: Iterable<string>, file: string): Promise<number> {
  const ids = new Map<bigint, string>();
  for (const n of names) {
    const id = nameId(n);
    const other = ids.get(id);
    if (other !== undefined && other !== n) throw new FormatError(`cell names ${JSON.stringify(other)} and ${JSON.stringify(n)} hash to the same id ${id}`, file);
    ids.set(id, n);
  }
  if (ids.size === 0) return 0;
  const existing = await store.all(`SELECT pt_root_id, name FROM cells WHERE pt_root_id IN (SELECT unnest($1::VARCHAR[]::UBIGINT[]))`, [listValue([...ids.keys()])]);
  const have = new Set<bigint>();
  for (const r of existing) {
    const id = r.pt_root_id as bigint;
    have.add(id);
    if (r.name !== null && r.name !== ids.get(id)) {
      throw new FormatError(`cell ${JSON.stringify(ids.get(id))} would get id ${id}, which cell ${JSON.stringify(r.name)} already has`, file);
    }
  }
  const add = [...ids].filter(([id]) => !have.has(id));
  await store.insertColumns(
    'cells',
    { pt_root_id: add.map(([id]) => id), name: add.map(([, n]) => n) },
    add.length,
    { where: file },
  );
  return add.length;
}

/**
 * Import edge lists (Cook 2019 `herm_full_edgelist.csv`, White 1986 tab-separated files, any
 * CSV/TSV with pre/post/weight columns). Cells named by string get stable synthetic ids
 * (`nameId`) and keep their name. Synapse rows get fresh ids after the table's largest.
 */
export async function importEdges(store: ConnectomeStore, files: string[], opts: EdgeImportOptions = {}): Promise<ImportReport[]> {
  if (files.length === 0) throw new UsageError('no input files');
  const mode = opts.weight ?? 'count';
  for (const f of files) await checkInputFile(f);
  const out: ImportReport[] = [];
  // One transaction: a file that fails half-way leaves nothing. Rows are streamed from the file
  // and inserted in batches, so memory follows a batch and the set of cell names.
  await store.transaction(async () => {
    for (const file of files) {
      let rowsWanted = 0;
      const names = new Set<string>();
      let next = await nextSynapseId(store);
      let inserted = 0;
      let batch = { id: [] as bigint[], pre: [] as bigint[], post: [] as bigint[], size: [] as number[], type: [] as (string | undefined)[], line: [] as number[] };
      const flush = async () => {
        if (batch.id.length === 0) return;
        await store.insertColumns(
          'synapses',
          { id: batch.id, pre_pt_root_id: batch.pre, post_pt_root_id: batch.post, size: batch.size, synapse_type: batch.type },
          batch.id.length,
          { where: file, rowNumbers: batch.line, rowLabel: 'line' },
        );
        inserted += batch.id.length;
        batch = { id: [], pre: [], post: [], size: [], type: [], line: [] };
      };
      for await (const r of edgeRows(file)) {
        names.add(r.pre);
        names.add(r.post);
        if (mode === 'count' && !Number.isInteger(r.weight)) {
          throw new FormatError(`line ${r.line}: weight ${r.weight} is not a whole number of synapses (use --weight size)`, file);
        }
        if (mode === 'count') {
          // count mode stores one synapse row per count: bound the rows before making any
          rowsWanted += r.weight;
          if (rowsWanted > MAX_COUNT_SYNAPSES) {
            throw new FormatError(
              `line ${r.line}: weight ${r.weight} brings the file to more than ${MAX_COUNT_SYNAPSES} synapse rows (count mode makes one row per synapse); use --weight size for one row per edge`,
              file,
            );
          }
        }
        const a = nameId(r.pre);
        const b = nameId(r.post);
        const k = mode === 'count' ? r.weight : 1;
        for (let j = 0; j < k; j++) {
          batch.id.push(next++);
          batch.pre.push(a);
          batch.post.push(b);
          batch.size.push(mode === 'count' ? 1 : r.weight);
          batch.type.push(r.type);
          batch.line.push(r.line);
          if (batch.id.length >= EDGE_BATCH_ROWS) await flush();
        }
      }
      await flush();
      const cells = await ensureNamedCells(store, names, file);
      out.push({ file, table: 'synapses', inserted, cells });
    }
  });
  return out;
}

// ------------------------------------------------------------------------------------------
// SWC skeletons + per-neuron synapse CSVs (hemibrain / navis layout)

export interface SwcImportOptions {
  /** nm per SWC unit (hemibrain: 8). Default 1. */
  resolution?: Vec3;
  /** JSON file mapping body id -> {type, instance, status} (navis meta.json). Default: meta.json beside the swc folder. */
  meta?: string;
}

interface SwcNode {
  /** Exact unsigned 64-bit node id. */
  id: bigint;
  label: number;
  pos: [number, number, number];
  radius: number;
  /** Parent node id, -1n for a root. */
  parent: bigint;
}

/** Parse an SWC file (id label x y z radius parent per line; # comments), streamed. Node ids are exact bigints. */
export async function parseSwc(file: string): Promise<SwcNode[]> {
  const g = await readSwc(file);
  const n = g.radius.length;
  const parent: bigint[] = new Array(n).fill(-1n);
  for (let k = 0; k < g.edges.length; k += 2) parent[g.edges[k]] = g.ids![g.edges[k + 1]];
  return Array.from({ length: n }, (_, i) => ({
    id: g.ids![i],
    label: g.types![i],
    pos: [g.vertices[3 * i], g.vertices[3 * i + 1], g.vertices[3 * i + 2]] as [number, number, number],
    radius: g.radius[i],
    parent: parent[i],
  }));
}

/** The soma of an SWC skeleton: its first node of label 1, else its first root; undefined when empty. */
function swcSoma(g: SkeletonGraph): [number, number, number] | undefined {
  const n = g.radius.length;
  let v = -1;
  for (let i = 0; i < n && v < 0; i++) if (g.types![i] === 1) v = i;
  if (v < 0) {
    const child = new Uint8Array(n);
    for (let k = 0; k < g.edges.length; k += 2) child[g.edges[k]] = 1;
    v = child.indexOf(0);
  }
  return v < 0 || v >= n ? undefined : [g.vertices[3 * v], g.vertices[3 * v + 1], g.vertices[3 * v + 2]];
}

/**
 * Import SWC skeletons as cells (pt_root_id = the file's numeric name, pt_position = the soma
 * node (label 1) or the root node, in nm) and the per-neuron synapse CSVs (navis/hemibrain:
 * connector_id,node_id,type,x,y,z,...) as synapse rows. The partner of such a synapse is not
 * recorded in the file: its root id is 0 (unknown), as CAVE does for unassigned partners.
 * `type` pre -> this cell is pre_pt_root_id and the point is pre_pt_position; post -> post.
 */
export async function importSwc(store: ConnectomeStore, files: string[], opts: SwcImportOptions = {}): Promise<ImportReport[]> {
  const res = opts.resolution ?? [1, 1, 1];
  const swcs = files.filter((f) => /\.swc$/i.test(f));
  const csvs = files.filter((f) => /\.csv(\.gz)?$/i.test(f));
  const other = files.filter((f) => !swcs.includes(f) && !csvs.includes(f));
  if (other.length) throw new UsageError(`expected .swc skeletons and .csv synapse files, got ${other.join(', ')}`);
  if (swcs.length === 0 && csvs.length === 0) throw new UsageError('no input files');
  const base = (f: string) => path.basename(f).replace(/\.(swc|csv(\.gz)?)$/i, '');
  const idOf = (f: string) => {
    const b = base(f);
    if (!/^[0-9]+$/.test(b)) throw new UsageError(`file name ${path.basename(f)} is not a numeric body id`, f);
    return BigInt(b);
  };
  // Synapse CSVs: given ones, plus ../synapses/<id>.csv beside each skeleton folder.
  const synFiles = new Map<string, string>();
  for (const c of csvs) synFiles.set(base(c), c);
  for (const s of swcs) {
    const cand = path.join(path.dirname(s), '..', 'synapses', `${base(s)}.csv`);
    if (!synFiles.has(base(s)) && existsSync(cand)) synFiles.set(base(s), cand);
  }
  let meta: Record<string, { type?: string; instance?: string; status?: string }> = {};
  const metaFile = opts.meta ?? (swcs.length ? path.join(path.dirname(swcs[0]), '..', 'meta.json') : undefined);
  if (metaFile && existsSync(metaFile)) {
    try {
      meta = JSON.parse(await readText(metaFile));
    } catch (err) {
      throw new FormatError(`not valid JSON: ${(err as Error).message}`, metaFile);
    }
  }
  const out: ImportReport[] = [];
  const cellRows: { id: bigint; pos: Vec3 | undefined; file: string }[] = [];
  for (const s of swcs) {
    await checkInputFile(s);
    const soma = swcSoma(await readSwc(s));
    cellRows.push({ id: idOf(s), pos: soma ? [soma[0] * res[0], soma[1] * res[1], soma[2] * res[2]] : undefined, file: s });
  }
  const synParsed: { file: string; body: bigint; rows: { line: number; kind: 'pre' | 'post'; p: Vec3 }[] }[] = [];
  for (const [b, f] of synFiles) {
    // streamed line by line (the rows themselves are kept for the insert)
    let head: string[] = [];
    const need = ['type', 'x', 'y', 'z'];
    let [it, ix, iy, iz] = [-1, -1, -1, -1];
    const rows: { line: number; kind: 'pre' | 'post'; p: Vec3 }[] = [];
    for await (const { n: line, text } of readLines(f)) {
      if (line === 1) {
        head = splitCsvLine(text, ',').map((h) => h.trim().toLowerCase());
        for (const n of need) if (!head.includes(n)) throw new FormatError(`line 1: missing column ${n} (expected connector_id,node_id,type,x,y,z,...)`, f);
        [it, ix, iy, iz] = need.map((n) => head.indexOf(n));
        continue;
      }
      if (text.trim() === '') continue;
      const fl = splitCsvLine(text, ',');
      if (fl.length !== head.length) throw new FormatError(`line ${line}: ${fl.length} fields, expected ${head.length}`, f);
      const kind = fl[it].trim();
      if (kind !== 'pre' && kind !== 'post') throw new FormatError(`line ${line}, column type: ${JSON.stringify(kind)} is not pre or post`, f);
      const p = [ix, iy, iz].map((j, a) => {
        const v = Number(fl[j]);
        if (fl[j].trim() === '' || !Number.isFinite(v)) throw new FormatError(`line ${line}, column ${'xyz'[a]}: ${JSON.stringify(fl[j])} is not a number`, f);
        return v * res[a];
      });
      rows.push({ line, kind, p: [p[0], p[1], p[2]] });
    }
    if (head.length === 0) throw new FormatError('line 1: missing column type (expected connector_id,node_id,type,x,y,z,...)', f);
    synParsed.push({ file: f, body: /^[0-9]+$/.test(b) ? BigInt(b) : idOf(f), rows });
  }
  await store.transaction(async () => {
    if (cellRows.length) {
      const existing = new Set(
        (await store.all('SELECT pt_root_id FROM cells WHERE pt_root_id IN (SELECT unnest($1::VARCHAR[]::UBIGINT[]))', [listValue(cellRows.map((c) => c.id))])).map(
          (r) => r.pt_root_id as bigint,
        ),
      );
      for (const c of cellRows) {
        const m = meta[c.id.toString()];
        if (existing.has(c.id)) throw new FormatError(`cell ${c.id} is already in table cells`, c.file);
        await store.insertColumns(
          'cells',
          {
            pt_root_id: [c.id],
            pt_position_x: [c.pos?.[0]],
            pt_position_y: [c.pos?.[1]],
            pt_position_z: [c.pos?.[2]],
            cell_type: [m?.type],
            classification_system: [m?.type ? 'hemibrain' : undefined],
            name: [m?.instance],
          },
          1,
          { where: c.file },
        );
        out.push({ file: c.file, table: 'cells', inserted: 1 });
      }
      const pr = cellRows.filter((c) => meta[c.id.toString()]?.status);
      if (pr.length) {
        await store.insertColumns(
          'proofreading',
          {
            pt_root_id: pr.map((c) => c.id),
            status_axon: pr.map((c) => meta[c.id.toString()].status),
            status_dendrite: pr.map((c) => meta[c.id.toString()].status),
          },
          pr.length,
          { where: metaFile },
        );
      }
    }
    for (const s of synParsed) {
      let next = await nextSynapseId(store);
      const n = s.rows.length;
      const cols: Record<string, unknown[]> = {
        id: [],
        pre_pt_root_id: [],
        post_pt_root_id: [],
        pre_pt_position_x: [],
        pre_pt_position_y: [],
        pre_pt_position_z: [],
        post_pt_position_x: [],
        post_pt_position_y: [],
        post_pt_position_z: [],
        ctr_pt_position_x: [],
        ctr_pt_position_y: [],
        ctr_pt_position_z: [],
      };
      for (const r of s.rows) {
        cols.id.push(next++);
        const isPre = r.kind === 'pre';
        cols.pre_pt_root_id.push(isPre ? s.body : 0n);
        cols.post_pt_root_id.push(isPre ? 0n : s.body);
        for (let a = 0; a < 3; a++) {
          const ax = 'xyz'[a];
          cols[`pre_pt_position_${ax}`].push(isPre ? r.p[a] : null);
          cols[`post_pt_position_${ax}`].push(isPre ? null : r.p[a]);
          cols[`ctr_pt_position_${ax}`].push(r.p[a]);
        }
      }
      await store.insertColumns('synapses', cols, n, { where: s.file, rowNumbers: s.rows.map((r) => r.line), rowLabel: 'line' });
      out.push({ file: s.file, table: 'synapses', inserted: n });
    }
  });
  return out;
}

// ------------------------------------------------------------------------------------------
// Parquet / CSV tables written by export

/** Import files written by `exportAll` (`<table>.parquet` / `<table>.csv`): table from the file name. */
export async function importTables(store: ConnectomeStore, files: string[]): Promise<ImportReport[]> {
  const out: ImportReport[] = [];
  await store.transaction(async () => {
    for (const f of files) {
      await checkInputFile(f);
      const t = path.basename(f).replace(/\.(parquet|csv(\.gz)?)$/i, '');
      const table = parseTableName(t);
      out.push({ file: f, table, inserted: await store.importTable(table, f) });
    }
  });
  return out;
}

/** Export every table (live or a version) as `<dir>/<table>.<parquet|csv>`. */
export async function exportAll(store: ConnectomeStore, dir: string, format: 'parquet' | 'csv' = 'parquet', version?: number): Promise<string[]> {
  const files: string[] = [];
  for (const t of ['cells', 'synapses', 'organelles', 'compartment_tags', 'proofreading'] as TableName[]) {
    const f = path.join(dir, `${t}.${format}`);
    await store.exportTable(t, f, format, version);
    files.push(f);
  }
  return files;
}

// ------------------------------------------------------------------------------------------

/** Split one CSV line (RFC 4180 quotes; `""` inside quotes is a quote). */
export function splitCsvLine(line: string, delim: string): string[] {
  if (!line.includes('"')) return line.split(delim);
  const out: string[] = [];
  let cur = '';
  let q = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (q) {
      if (ch === '"') {
        if (line[i + 1] === '"') {
          cur += '"';
          i++;
        } else q = false;
      } else cur += ch;
    } else if (ch === '"') q = true;
    else if (ch === delim) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out;
}

/** A DuckDB LIST of ids as decimal strings, for `$1::VARCHAR[]::UBIGINT[]` parameters. */
function listValue(ids: bigint[]): DuckDBValue {
  return duckList(ids.map((i) => i.toString(10)));
}
