import { promises as fs } from 'node:fs';
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { DOUBLE, DuckDBDataChunk, DuckDBInstance, UBIGINT, VARCHAR, type DuckDBAppender, type DuckDBConnection, type DuckDBValue } from '@duckdb/node-api';
import type { Vec3 } from '../core/box.js';
import { FormatError, UsageError } from '../core/errors.js';

/**
 * The connectome store: one DuckDB file per dataset.
 *
 * Tables (column names follow CAVE / MICrONS conventions):
 *  - cells            pt_root_id UBIGINT (the cell), pt_position_{x,y,z} DOUBLE nm, cell_type,
 *                     classification_system, volume DOUBLE nm^3, name (for cells known by name)
 *  - synapses         id, pre_pt_root_id, post_pt_root_id, pre/post_pt_supervoxel_id (UBIGINT),
 *                     pre_pt_position_{x,y,z}, post_pt_position_{x,y,z}, ctr_pt_position_{x,y,z}
 *                     (DOUBLE, nm, NULL when unknown), size DOUBLE (voxels), synapse_type
 *                     (chemical/electrical for edge lists, NULL otherwise)
 *  - organelles       id, kind ('mitochondrion'|'vesicle_cloud'), pt_position_{x,y,z}, size, host_root_id
 *  - compartment_tags synapse_id UBIGINT, compartment VARCHAR (target compartment of the post side)
 *  - proofreading     pt_root_id UBIGINT, status_axon, status_dendrite (MICrONS values: non, clean, extended)
 *  - versions         version INTEGER, created_at, description, counts (JSON)
 *  - connections      derived pair table: pre_pt_root_id, post_pt_root_id, n (synapses),
 *                     size_sum, in pair order (n desc, pre, post); kept by every synapse insert
 *                     (which rewrites it: O(pairs) per insert) and copied with each version
 *
 * Positions are nanometres, stored as three DOUBLE columns per point named like CAVE's
 * "split positions" (`pre_pt_position_x`, ...). Ids are UBIGINT in SQL and bigint in JS.
 *
 * The tables above are the live (working) set. `materialize(version)` copies every live table
 * into `<table>_v<version>`: a snapshot that the store never writes again; materializing an
 * existing version number is an error. Queries take an optional version to read a snapshot.
 *
 * Every insert runs in one transaction and checks key uniqueness (within the batch and against
 * the table); a failed insert leaves the database as it was.
 */

export interface CellRow {
  id: bigint /* = pt_root_id */;
  pt_position: Vec3 /* nm */;
  cell_type?: string;
  classification_system?: string;
  volume?: number /* nm^3 */;
  name?: string;
}
export interface SynapseRow {
  id: bigint;
  pre_pt_root_id: bigint;
  post_pt_root_id: bigint;
  pre_pt_position: Vec3;
  post_pt_position: Vec3;
  ctr_pt_position: Vec3 /* all nm */;
  size: number /* voxels */;
  pre_pt_supervoxel_id?: bigint;
  post_pt_supervoxel_id?: bigint;
  synapse_type?: string;
}
export interface OrganelleRow {
  id: bigint;
  kind: 'mitochondrion' | 'vesicle_cloud';
  pt_position: Vec3;
  size: number;
  host_root_id: bigint;
}
export interface CompartmentTagRow {
  synapse_id: bigint;
  compartment: string;
}
export interface ProofreadingRow {
  pt_root_id: bigint;
  status_axon?: string;
  status_dendrite?: string;
}

export type TableName = 'cells' | 'synapses' | 'organelles' | 'compartment_tags' | 'proofreading';
export const TABLE_NAMES: readonly TableName[] = ['cells', 'synapses', 'organelles', 'compartment_tags', 'proofreading'];

export type ColumnType = 'UBIGINT' | 'DOUBLE' | 'VARCHAR';
export interface ColumnSpec {
  name: string;
  type: ColumnType;
  /** Must be present (not NULL). */
  required: boolean;
}

const pos = (p: string): ColumnSpec[] => [
  { name: `${p}_x`, type: 'DOUBLE', required: false },
  { name: `${p}_y`, type: 'DOUBLE', required: false },
  { name: `${p}_z`, type: 'DOUBLE', required: false },
];

/** Column layout of every table, in order. The first column is the table's unique key. */
export const TABLES: Record<TableName, readonly ColumnSpec[]> = {
  cells: [
    { name: 'pt_root_id', type: 'UBIGINT', required: true },
    ...pos('pt_position'),
    { name: 'cell_type', type: 'VARCHAR', required: false },
    { name: 'classification_system', type: 'VARCHAR', required: false },
    { name: 'volume', type: 'DOUBLE', required: false },
    { name: 'name', type: 'VARCHAR', required: false },
  ],
  synapses: [
    { name: 'id', type: 'UBIGINT', required: true },
    { name: 'pre_pt_root_id', type: 'UBIGINT', required: true },
    { name: 'post_pt_root_id', type: 'UBIGINT', required: true },
    { name: 'pre_pt_supervoxel_id', type: 'UBIGINT', required: false },
    { name: 'post_pt_supervoxel_id', type: 'UBIGINT', required: false },
    ...pos('pre_pt_position'),
    ...pos('post_pt_position'),
    ...pos('ctr_pt_position'),
    { name: 'size', type: 'DOUBLE', required: false },
    { name: 'synapse_type', type: 'VARCHAR', required: false },
  ],
  organelles: [
    { name: 'id', type: 'UBIGINT', required: true },
    { name: 'kind', type: 'VARCHAR', required: true },
    ...pos('pt_position'),
    { name: 'size', type: 'DOUBLE', required: false },
    { name: 'host_root_id', type: 'UBIGINT', required: false },
  ],
  compartment_tags: [
    { name: 'synapse_id', type: 'UBIGINT', required: true },
    { name: 'compartment', type: 'VARCHAR', required: true },
  ],
  proofreading: [
    { name: 'pt_root_id', type: 'UBIGINT', required: true },
    { name: 'status_axon', type: 'VARCHAR', required: false },
    { name: 'status_dendrite', type: 'VARCHAR', required: false },
  ],
};

export function keyColumn(table: TableName): string {
  return TABLES[table][0].name;
}

/** A column of values: typed arrays for speed, or plain arrays (null/undefined = NULL). */
export type ColumnValues = BigUint64Array | Float64Array | Float32Array | ArrayLike<unknown>;

export interface InsertOptions {
  /** Name of the input in error messages (file name). Default: the table name. */
  where?: string;
  /** Row number to report for batch row i (e.g. the file's line number). Default i + 1. */
  rowNumbers?: ArrayLike<number>;
  /** Label for a row number in messages. Default 'row'. */
  rowLabel?: string;
}

export interface VersionInfo {
  version: number;
  created_at: string;
  description: string;
  counts: Record<string, number>;
}

/** SQL string literal. */
export function sqlString(s: string): string {
  return `'${s.replaceAll("'", "''")}'`;
}

/** SQL identifier. */
export function sqlIdent(s: string): string {
  return `"${s.replaceAll('"', '""')}"`;
}

function isTable(t: string): t is TableName {
  return (TABLE_NAMES as readonly string[]).includes(t);
}

export function parseTableName(t: string): TableName {
  if (!isTable(t)) throw new UsageError(`unknown table ${JSON.stringify(t)}; expected one of ${TABLE_NAMES.join(', ')}`);
  return t;
}

const U64_MAX = (1n << 64n) - 1n;

/**
 * The pair table: one row per connected (pre, post) pair of the synapses table with its synapse
 * count `n` and summed `size_sum`, stored sorted by n desc, pre, post. Derived data, kept by the
 * store's insert paths (live) and written with each materialized version (`connections_v<N>`,
 * immutable like the version), so that per-pair counts are a scan, not a 10M-row group-by.
 */
export const PAIR_TABLE = 'connections';
const PAIR_COLUMNS = 'pre_pt_root_id UBIGINT NOT NULL, post_pt_root_id UBIGINT NOT NULL, n BIGINT NOT NULL, size_sum DOUBLE NOT NULL';

export class ConnectomeStore {
  private depth = 0;
  /** Streams running on one DuckDB thread, and the thread setting to restore after the last. */
  private singleThreadStreams = 0;
  private threadsBefore = 0;
  private constructor(
    readonly file: string,
    private readonly instance: DuckDBInstance,
    readonly connection: DuckDBConnection,
  ) {}

  /**
   * Open (or create, with its schema) the DuckDB file of one dataset. `readOnly` opens an
   * existing file without writing (several read-only processes may share it, e.g. a server);
   * DuckDB allows one writing process per file.
   */
  static async open(dbFile: string, opts: { readOnly?: boolean } = {}): Promise<ConnectomeStore> {
    if (opts.readOnly) {
      try {
        await fs.access(dbFile);
      } catch {
        throw new UsageError('database file not found', dbFile);
      }
    } else await fs.mkdir(path.dirname(path.resolve(dbFile)), { recursive: true });
    let instance: DuckDBInstance;
    try {
      instance = await DuckDBInstance.create(dbFile, opts.readOnly ? { access_mode: 'READ_ONLY' } : undefined);
    } catch (err) {
      throw new FormatError(`cannot open as a DuckDB database: ${(err as Error).message}`, dbFile, { cause: err });
    }
    const connection = await instance.connect();
    const store = new ConnectomeStore(dbFile, instance, connection);
    if (!opts.readOnly) await store.createSchema();
    else {
      const t = await store.all(`SELECT table_name FROM information_schema.tables WHERE table_name = 'synapses'`);
      if (t.length === 0) {
        await store.close();
        throw new FormatError('not a connectome database (no synapses table)', dbFile);
      }
    }
    return store;
  }

  private async createSchema(): Promise<void> {
    const ddl: string[] = [];
    for (const t of TABLE_NAMES) {
      const cols = TABLES[t].map((c) => `${c.name} ${c.type}${c.required ? ' NOT NULL' : ''}`).join(', ');
      ddl.push(`CREATE TABLE IF NOT EXISTS ${t} (${cols});`);
    }
    ddl.push(
      'CREATE TABLE IF NOT EXISTS versions (version INTEGER NOT NULL, created_at TIMESTAMP NOT NULL, description VARCHAR, counts VARCHAR);',
      'CREATE TABLE IF NOT EXISTS wiring_meta (key VARCHAR NOT NULL, value VARCHAR);',
    );
    const hadPairs = (await this.all(`SELECT 1 AS x FROM information_schema.tables WHERE table_name = '${PAIR_TABLE}'`)).length > 0;
    ddl.push(`CREATE TABLE IF NOT EXISTS ${PAIR_TABLE} (${PAIR_COLUMNS});`);
    await this.connection.run(ddl.join('\n'));
    const meta = await this.all(`SELECT value FROM wiring_meta WHERE key = 'schema_version'`);
    if (meta.length === 0) await this.connection.run(`INSERT INTO wiring_meta VALUES ('schema_version', '1')`);
    // A file written before the pair table existed: build it once (live and every version).
    if (!hadPairs) {
      await this.transaction(async () => {
        await this.refreshConnections();
        for (const v of await this.versions()) {
          if (!(await this.hasTable(`${PAIR_TABLE}_v${v.version}`))) await this.writePairs(`${PAIR_TABLE}_v${v.version}`, `synapses_v${v.version}`);
        }
      });
    }
  }

  private async hasTable(name: string): Promise<boolean> {
    return (await this.all('SELECT 1 AS x FROM information_schema.tables WHERE table_name = $1', [name])).length > 0;
  }

  // ---------------------------------------------------------------- the pair table

  /** (Re)write pair table `target` from the synapse rows of `source`, in pair order (count desc, pre, post). */
  private async writePairs(target: string, source: string): Promise<void> {
    await this.connection.run(
      `CREATE OR REPLACE TABLE ${target} AS SELECT pre_pt_root_id, post_pt_root_id, count(*)::BIGINT AS n, coalesce(sum(size), 0)::DOUBLE AS size_sum
       FROM ${source} GROUP BY 1, 2 ORDER BY n DESC, pre_pt_root_id, post_pt_root_id`,
    );
  }

  /**
   * Rebuild the live pair table from the live synapses. The store's own writes keep it up to
   * date; call this after writing to `synapses` with raw SQL.
   */
  async refreshConnections(): Promise<void> {
    await this.transaction(() => this.writePairs(PAIR_TABLE, 'synapses'));
  }

  /**
   * Add the synapse rows of `batch` (a table or view with pre_pt_root_id, post_pt_root_id and
   * size, just inserted into `synapses`) to the live pair table: the batch's pairs are merged
   * with the existing ones and the table is rewritten in pair order. Call inside the insert's
   * transaction.
   */
  async addToConnections(batch: string): Promise<void> {
    const empty = Number((await this.all(`SELECT count(*) AS n FROM ${PAIR_TABLE}`))[0].n) === 0;
    if (empty) {
      await this.writePairs(PAIR_TABLE, batch);
      return;
    }
    await this.connection.run(
      `CREATE OR REPLACE TABLE ${PAIR_TABLE} AS SELECT pre_pt_root_id, post_pt_root_id, sum(n)::BIGINT AS n, sum(size_sum)::DOUBLE AS size_sum FROM (
         SELECT pre_pt_root_id, post_pt_root_id, n, size_sum FROM ${PAIR_TABLE}
         UNION ALL
         SELECT pre_pt_root_id, post_pt_root_id, count(*)::BIGINT, coalesce(sum(size), 0)::DOUBLE FROM ${batch} GROUP BY 1, 2
       ) GROUP BY 1, 2 ORDER BY n DESC, pre_pt_root_id, post_pt_root_id`,
    );
  }

  /**
   * The SQL name of the pair table (columns pre_pt_root_id, post_pt_root_id, n, size_sum; rows
   * stored in pair order) for the live synapses or a version, or undefined when it is missing
   * or does not account for exactly the synapses of that table (e.g. rows written by raw SQL
   * without `refreshConnections`): the caller then aggregates the synapses itself.
   */
  async pairTableRef(version?: number): Promise<string | undefined> {
    const syn = await this.tableRef('synapses', version);
    const ref = version === undefined ? PAIR_TABLE : `${PAIR_TABLE}_v${version}`;
    if (!(await this.hasTable(ref))) return undefined;
    const r = await this.all(`SELECT (SELECT count(*) FROM ${syn}) AS a, (SELECT coalesce(sum(n), 0)::BIGINT FROM ${ref}) AS b`);
    return BigInt(r[0].a as bigint) === BigInt(r[0].b as bigint) ? ref : undefined;
  }

  /** Run SQL and return rows as objects (UBIGINT/BIGINT as bigint, DOUBLE as number). */
  async all(sql: string, params?: DuckDBValue[] | Record<string, DuckDBValue>): Promise<Record<string, unknown>[]> {
    const reader = await this.connection.runAndReadAll(sql, params);
    return reader.getRowObjectsJS() as Record<string, unknown>[];
  }

  /** Run SQL and return columns (name -> values) plus column names in order. */
  async columns(sql: string, params?: DuckDBValue[] | Record<string, DuckDBValue>): Promise<{ names: string[]; columns: Record<string, unknown[]> }> {
    const reader = await this.connection.runAndReadAll(sql, params);
    return { names: reader.columnNames(), columns: reader.getColumnsObjectJS() as Record<string, unknown[]> };
  }

  async run(sql: string, params?: DuckDBValue[] | Record<string, DuckDBValue>): Promise<void> {
    await this.connection.run(sql, params);
  }

  /**
   * A query's result chunks, streamed. The stream runs on a connection of its own: DuckDB closes
   * a connection's streamed result when another query starts on it, and the result then ends
   * early without an error (a server's requests arrive while its start-up index streams).
   * Inside a transaction the result is read on the store's connection, materialized, because a
   * second connection would not see the uncommitted writes. `singleThread` runs the stream on one
   * DuckDB thread (a setting of the database instance, restored when the last such stream ends).
   */
  async streamChunks(sql: string, params: DuckDBValue[] = [], opts: { singleThread?: boolean } = {}): Promise<DuckDBDataChunk[]> {
    if (this.depth > 0) return (await this.connection.run(sql, params)).fetchAllChunks();
    const own = await this.instance.connect();
    const narrow = opts.singleThread === true;
    try {
      if (narrow && this.singleThreadStreams++ === 0) {
        this.threadsBefore = Number((await this.all("SELECT current_setting('threads') AS t"))[0].t);
        await this.run('SET threads = 1');
      }
      return await (await own.stream(sql, params)).fetchAllChunks();
    } finally {
      if (narrow && --this.singleThreadStreams === 0) {
        const t = this.threadsBefore;
        await this.run(`SET threads = ${Number.isInteger(t) && t > 0 ? t : 1}`);
      }
      own.closeSync();
    }
  }

  /** Run `fn` in one transaction; roll back if it throws. */
  async transaction<T>(fn: () => Promise<T>): Promise<T> {
    // Nested calls join the outer transaction: the outermost one commits or rolls back.
    if (this.depth > 0) {
      this.depth++;
      try {
        return await fn();
      } finally {
        this.depth--;
      }
    }
    await this.connection.run('BEGIN TRANSACTION');
    this.depth = 1;
    try {
      const out = await fn();
      this.depth = 0;
      await this.connection.run('COMMIT');
      return out;
    } catch (err) {
      this.depth = 0;
      await this.connection.run('ROLLBACK').catch(() => {});
      throw err;
    }
  }

  async count(table: TableName, version?: number): Promise<number> {
    const rows = await this.all(`SELECT count(*) AS n FROM ${await this.tableRef(table, version)}`);
    return Number(rows[0].n);
  }

  /** Organelle rows by kind ({} when there are none). */
  async organelleCounts(version?: number): Promise<Record<string, number>> {
    const rows = await this.all(`SELECT kind, count(*) AS n FROM ${await this.tableRef('organelles', version)} GROUP BY kind ORDER BY kind`);
    return Object.fromEntries(rows.map((r) => [String(r.kind), Number(r.n)]));
  }

  // ---------------------------------------------------------------- inserts

  async insertCells(rows: CellRow[], opts: InsertOptions = {}): Promise<void> {
    const n = rows.length;
    const cols: Record<string, unknown[]> = {
      pt_root_id: rows.map((r) => r.id),
      ...splitPositions('pt_position', rows, (r) => r.pt_position, opts),
      cell_type: rows.map((r) => r.cell_type),
      classification_system: rows.map((r) => r.classification_system),
      volume: rows.map((r) => r.volume),
      name: rows.map((r) => r.name),
    };
    await this.insertColumns('cells', cols, n, opts);
  }

  async insertSynapses(rows: SynapseRow[], opts: InsertOptions = {}): Promise<void> {
    const n = rows.length;
    const cols: Record<string, unknown[]> = {
      id: rows.map((r) => r.id),
      pre_pt_root_id: rows.map((r) => r.pre_pt_root_id),
      post_pt_root_id: rows.map((r) => r.post_pt_root_id),
      pre_pt_supervoxel_id: rows.map((r) => r.pre_pt_supervoxel_id),
      post_pt_supervoxel_id: rows.map((r) => r.post_pt_supervoxel_id),
      ...splitPositions('pre_pt_position', rows, (r) => r.pre_pt_position, opts),
      ...splitPositions('post_pt_position', rows, (r) => r.post_pt_position, opts),
      ...splitPositions('ctr_pt_position', rows, (r) => r.ctr_pt_position, opts),
      size: rows.map((r) => r.size),
      synapse_type: rows.map((r) => r.synapse_type),
    };
    await this.insertColumns('synapses', cols, n, opts);
  }

  async insertOrganelles(rows: OrganelleRow[], opts: InsertOptions = {}): Promise<void> {
    const n = rows.length;
    const cols: Record<string, unknown[]> = {
      id: rows.map((r) => r.id),
      kind: rows.map((r) => r.kind),
      ...splitPositions('pt_position', rows, (r) => r.pt_position, opts),
      size: rows.map((r) => r.size),
      host_root_id: rows.map((r) => r.host_root_id),
    };
    for (let i = 0; i < n; i++) {
      const k = rows[i].kind;
      if (k !== 'mitochondrion' && k !== 'vesicle_cloud') {
        throw new FormatError(`${rowName(opts, i)}: kind ${JSON.stringify(k)}; expected mitochondrion or vesicle_cloud`, opts.where ?? 'organelles');
      }
    }
    await this.insertColumns('organelles', cols, n, opts);
  }

  async insertCompartmentTags(rows: CompartmentTagRow[], opts: InsertOptions = {}): Promise<void> {
    await this.insertColumns(
      'compartment_tags',
      { synapse_id: rows.map((r) => r.synapse_id), compartment: rows.map((r) => r.compartment) },
      rows.length,
      opts,
    );
  }

  async insertProofreading(rows: ProofreadingRow[], opts: InsertOptions = {}): Promise<void> {
    await this.insertColumns(
      'proofreading',
      {
        pt_root_id: rows.map((r) => r.pt_root_id),
        status_axon: rows.map((r) => r.status_axon),
        status_dendrite: rows.map((r) => r.status_dendrite),
      },
      rows.length,
      opts,
    );
  }

  /**
   * Bulk insert by columns (the fast path: typed arrays, no row objects). Every column of the
   * table's layout may be given; missing optional columns are NULL. UBIGINT columns take
   * BigUint64Array or bigint values; DOUBLE columns Float64Array/Float32Array or numbers
   * (NaN = NULL in typed arrays). One transaction; keys checked for duplicates.
   */
  async insertColumns(table: TableName, cols: Record<string, ColumnValues>, n: number, opts: InsertOptions = {}): Promise<void> {
    const specs = TABLES[table];
    const where = opts.where ?? table;
    for (const name of Object.keys(cols)) {
      if (!specs.some((s) => s.name === name)) {
        throw new UsageError(`table ${table} has no column ${JSON.stringify(name)}; columns: ${specs.map((s) => s.name).join(', ')}`, where);
      }
      if (cols[name].length !== n) throw new UsageError(`column ${name} has ${cols[name].length} values, expected ${n}`, where);
    }
    // Validate everything before touching the database, so errors name the row.
    for (const spec of specs) {
      const values = cols[spec.name];
      if (!values) {
        if (spec.required && n > 0) throw new FormatError(`column ${spec.name} is required`, where);
        continue;
      }
      validateColumn(spec, values, n, opts, where);
    }
    if (n === 0) return;
    await this.transaction(async () => {
      // The given columns go through the appender into a temp stage (missing ones stay NULL),
      // keys are checked on the stage (within the batch, then against the table: cost grows
      // with the batch, not with a full group-by of the table), then one INSERT ... SELECT.
      const given = specs.filter((s) => cols[s.name] !== undefined);
      // Synapses are stored clustered by (pre, post): grouping by pair and a cell's outputs read
      // far less (about 2x faster group-by, 50x faster single-cell lookups on 10M rows).
      const order = table === 'synapses' ? ' ORDER BY pre_pt_root_id, post_pt_root_id, id' : '';
      await this.connection.run(`CREATE OR REPLACE TEMP TABLE _stage_insert (${given.map((s) => `${s.name} ${s.type}`).join(', ')})`);
      const appender = await this.connection.createAppender('_stage_insert', 'main', 'temp');
      try {
        appendChunks(appender, given, given.map((s) => cols[s.name]), n);
        appender.flushSync();
      } finally {
        appender.closeSync();
      }
      await this.checkUnique(table, cols, n, opts);
      const names = given.map((s) => s.name).join(', ');
      await this.connection.run(`INSERT INTO ${table} (${names}) SELECT ${names} FROM _stage_insert${order}`);
      if (table === 'synapses') await this.addToConnections(cols.size === undefined ? '(SELECT *, NULL::DOUBLE AS size FROM _stage_insert)' : '_stage_insert');
      await this.connection.run('DROP TABLE _stage_insert');
    });
  }

  /** Error naming the batch row when a key repeats in the batch (`_stage_insert`) or is already in the table. */
  private async checkUnique(table: TableName, cols: Record<string, ColumnValues>, n: number, opts: InsertOptions): Promise<void> {
    const key = keyColumn(table);
    const where = opts.where ?? table;
    const keys = cols[key] as ArrayLike<bigint>;
    const inBatch = await this.all(`SELECT count(${key}) - count(DISTINCT ${key}) AS d FROM _stage_insert`);
    if (Number(inBatch[0].d) > 0) {
      const seen = new Map<bigint, number>();
      for (let i = 0; i < n; i++) {
        const first = seen.get(keys[i]);
        if (first !== undefined) throw new FormatError(`${rowName(opts, i)}: duplicate ${key} ${keys[i]} (already at ${rowName(opts, first)})`, where);
        seen.set(keys[i], i);
      }
    }
    const clash = await this.all(`SELECT t.${key} AS k FROM ${table} t SEMI JOIN _stage_insert s ON s.${key} = t.${key} LIMIT 1`);
    if (clash.length === 0) return;
    const k = clash[0].k as bigint;
    let at = 0;
    for (let i = 0; i < n; i++) if (keys[i] === k) {
      at = i;
      break;
    }
    throw new FormatError(`${rowName(opts, at)}: ${key} ${k} is already in table ${table}`, where);
  }

  // ---------------------------------------------------------------- versions

  /** The SQL name of a table, live (no version) or a materialized version (must exist). */
  async tableRef(table: TableName, version?: number): Promise<string> {
    if (version === undefined) return table;
    if (!Number.isInteger(version) || version < 0) throw new UsageError(`version ${version} must be a whole number >= 0`);
    const rows = await this.all('SELECT version FROM versions WHERE version = $1', [version]);
    if (rows.length === 0) throw new UsageError(`version ${version} does not exist in ${this.file}`);
    return `${table}_v${version}`;
  }

  /**
   * Materialize the live tables as an immutable snapshot. Without a number, the next free
   * version is used. Writing to an existing version is an error.
   */
  async materialize(version?: number, description = ''): Promise<VersionInfo> {
    return this.transaction(async () => {
      const existing = await this.all('SELECT max(version) AS m FROM versions');
      const next = existing[0].m === null ? 1 : Number(existing[0].m) + 1;
      const v = version ?? next;
      if (!Number.isInteger(v) || v < 0) throw new UsageError(`version ${v} must be a whole number >= 0`);
      const clash = await this.all('SELECT version FROM versions WHERE version = $1', [v]);
      if (clash.length > 0) throw new UsageError(`version ${v} already exists in ${this.file}; a materialized version is never rewritten`);
      const counts: Record<string, number> = {};
      for (const t of TABLE_NAMES) {
        const ord = t === 'synapses' ? 'pre_pt_root_id, post_pt_root_id, id' : keyColumn(t);
        await this.connection.run(`CREATE TABLE ${t}_v${v} AS SELECT * FROM ${t} ORDER BY ${ord}`);
        counts[t] = await this.count(t);
      }
      if ((await this.pairTableRef()) === undefined) await this.writePairs(PAIR_TABLE, 'synapses');
      // the live pair table is stored in pair order; the copy keeps it (insertion order)
      await this.connection.run(`CREATE TABLE ${PAIR_TABLE}_v${v} AS SELECT * FROM ${PAIR_TABLE}`);
      const created = new Date().toISOString();
      await this.connection.run('INSERT INTO versions VALUES ($1, $2::TIMESTAMP, $3, $4)', [
        v,
        created.replace('T', ' ').replace('Z', ''),
        description,
        JSON.stringify(counts),
      ]);
      return { version: v, created_at: created, description, counts };
    });
  }

  async versions(): Promise<VersionInfo[]> {
    const rows = await this.all('SELECT version, strftime(created_at, \'%Y-%m-%dT%H:%M:%S.%gZ\') AS created_at, description, counts FROM versions ORDER BY version');
    return rows.map((r) => ({
      version: Number(r.version),
      created_at: String(r.created_at),
      description: String(r.description ?? ''),
      counts: JSON.parse(String(r.counts ?? '{}')) as Record<string, number>,
    }));
  }

  // ---------------------------------------------------------------- export / import

  /** Write one table (live or a version) as Parquet, atomically (temp name + rename). */
  async exportParquet(table: TableName, file: string, version?: number): Promise<void> {
    await this.exportTable(table, file, 'parquet', version);
  }

  async exportCsv(table: TableName, file: string, version?: number): Promise<void> {
    await this.exportTable(table, file, 'csv', version);
  }

  async exportTable(table: TableName, file: string, format: 'parquet' | 'csv', version?: number): Promise<void> {
    const ref = await this.tableRef(parseTableName(table), version);
    await fs.mkdir(path.dirname(path.resolve(file)), { recursive: true });
    const tmp = `${file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
    // Rows go out in the table's stored order (synapses clustered by pre, post); no sort.
    const fmt = format === 'parquet' ? 'FORMAT parquet, COMPRESSION snappy' : 'FORMAT csv, HEADER true';
    try {
      // Synapses carry CAVE's `valid` column (every stored synapse is valid; invalid rows are dropped on import).
      const source = table === 'synapses' ? `(SELECT *, true AS valid FROM ${ref})` : ref;
      await this.connection.run(`COPY ${source} TO ${sqlString(tmp)} (${fmt})`);
      await fs.rename(tmp, file);
    } catch (err) {
      await fs.rm(tmp, { force: true });
      throw err;
    }
  }

  /**
   * Load a Parquet or CSV file written by exportTable (or any file with the table's column
   * names; missing optional columns become NULL) into a live table, in one transaction.
   */
  async importTable(table: TableName, file: string, format?: 'parquet' | 'csv'): Promise<number> {
    parseTableName(table);
    const fmt = format ?? (/\.parquet$/i.test(file) ? 'parquet' : 'csv');
    try {
      await fs.access(file);
    } catch {
      throw new UsageError(`file not found`, file);
    }
    const specs = TABLES[table];
    let available: string[];
    const reader =
      fmt === 'parquet'
        ? `read_parquet(${sqlString(file)})`
        : `read_csv(${sqlString(file)}, header = true, all_varchar = true, auto_detect = true)`;
    try {
      const d = await this.columns(`DESCRIBE SELECT * FROM ${reader}`);
      available = (d.columns.column_name as string[]).map(String);
    } catch (err) {
      throw new FormatError(`cannot read as ${fmt}: ${(err as Error).message}`, file, { cause: err });
    }
    for (const s of specs) {
      if (s.required && !available.includes(s.name)) throw new FormatError(`missing required column ${s.name}`, file);
    }
    const raw = specs.map((s) => (available.includes(s.name) ? `${sqlIdent(s.name)}::VARCHAR AS ${s.name}` : `NULL AS ${s.name}`));
    return this.transaction(async () => {
      try {
        await this.connection.run(`CREATE OR REPLACE TEMP TABLE _import_raw AS SELECT row_number() OVER () AS _row, * FROM (SELECT ${raw.join(', ')} FROM ${reader})`);
      } catch (err) {
        // a readable schema over corrupt data ("TProtocolException", "Invalid data"...)
        throw new FormatError(`corrupt ${fmt} data: ${(err as Error).message.split('\n')[0]}`, file, { cause: err });
      }
      // A value that does not convert is an error naming the row and column.
      for (const s of specs) {
        if (!available.includes(s.name)) continue;
        const bad = await this.all(
          `SELECT _row, ${s.name} AS v FROM _import_raw WHERE (${s.name} IS NOT NULL AND ${s.name} <> '' AND TRY_CAST(${s.name} AS ${s.type}) IS NULL)${s.required ? ` OR ${s.name} IS NULL OR ${s.name} = ''` : ''} ORDER BY _row LIMIT 1`,
        );
        if (bad.length) {
          const line = Number(bad[0]._row) + (fmt === 'csv' ? 1 : 0);
          throw new FormatError(`${fmt === 'csv' ? 'line' : 'row'} ${line}, column ${s.name}: ${JSON.stringify(bad[0].v)} is not a valid ${s.type}${s.type === 'UBIGINT' ? ' (unsigned 64-bit id)' : ''}`, file);
        }
      }
      const before = await this.count(table);
      await this.connection.run(
        `INSERT INTO ${table} SELECT * FROM (SELECT ${specs.map((s) => `TRY_CAST(NULLIF(${s.name}, '') AS ${s.type}) AS ${s.name}`).join(', ')} FROM _import_raw) ORDER BY ${table === 'synapses' ? 'pre_pt_root_id, post_pt_root_id, id' : keyColumn(table)}`,
      );
      const key = keyColumn(table);
      const dup = await this.all(`SELECT ${key} AS k FROM ${table} GROUP BY ${key} HAVING count(*) > 1 LIMIT 1`);
      if (dup.length) {
        const r = await this.all(`SELECT _row FROM _import_raw WHERE TRY_CAST(${key} AS UBIGINT) = $1 ORDER BY _row`, [dup[0].k as bigint]);
        const line = (x: unknown) => Number(x) + (fmt === 'csv' ? 1 : 0);
        const label = fmt === 'csv' ? 'line' : 'row';
        throw new FormatError(
          r.length >= 2
            ? `${label} ${line(r[1]._row)}: duplicate ${key} ${dup[0].k} (already at ${label} ${line(r[0]._row)})`
            : `${label} ${line(r[0]?._row ?? 0)}: ${key} ${dup[0].k} is already in table ${table}`,
          file,
        );
      }
      await this.connection.run('DROP TABLE IF EXISTS _import_raw');
      if (table === 'synapses') await this.writePairs(PAIR_TABLE, 'synapses');
      return (await this.count(table)) - before;
    });
  }

  async close(): Promise<void> {
    try {
      this.connection.closeSync();
    } finally {
      this.instance.closeSync();
    }
  }
}

function rowName(opts: InsertOptions, i: number): string {
  const n = opts.rowNumbers ? opts.rowNumbers[i] : i + 1;
  return `${opts.rowLabel ?? 'row'} ${n}`;
}

function splitPositions<R>(
  prefix: string,
  rows: R[],
  get: (r: R) => Vec3 | undefined | null,
  opts: InsertOptions,
): Record<string, unknown[]> {
  const x = new Array<unknown>(rows.length);
  const y = new Array<unknown>(rows.length);
  const z = new Array<unknown>(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const p = get(rows[i]);
    if (p === undefined || p === null) {
      x[i] = y[i] = z[i] = null;
      continue;
    }
    if (!Array.isArray(p) || p.length !== 3) {
      throw new FormatError(`${rowName(opts, i)}: ${prefix} must be [x, y, z] (3 numbers), got ${JSON.stringify(p)}`, opts.where);
    }
    x[i] = p[0];
    y[i] = p[1];
    z[i] = p[2];
  }
  return { [`${prefix}_x`]: x, [`${prefix}_y`]: y, [`${prefix}_z`]: z };
}

function validateColumn(spec: ColumnSpec, values: ColumnValues, n: number, opts: InsertOptions, where: string): void {
  if (values instanceof BigUint64Array) {
    if (spec.type !== 'UBIGINT') throw new UsageError(`column ${spec.name} is ${spec.type}, got a BigUint64Array`, where);
    return;
  }
  if (values instanceof Float64Array || values instanceof Float32Array) {
    if (spec.type !== 'DOUBLE') throw new UsageError(`column ${spec.name} is ${spec.type}, got a float array`, where);
    return;
  }
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (v === undefined || v === null) {
      if (spec.required) throw new FormatError(`${rowName(opts, i)}: column ${spec.name} is required`, where);
      continue;
    }
    switch (spec.type) {
      case 'UBIGINT':
        if (typeof v !== 'bigint') {
          throw new FormatError(`${rowName(opts, i)}, column ${spec.name}: expected a bigint id, got ${typeof v} ${String(v)} (ids are never JS numbers)`, where);
        }
        if (v < 0n || v > U64_MAX) throw new FormatError(`${rowName(opts, i)}, column ${spec.name}: id ${v} is outside 0..2^64-1`, where);
        break;
      case 'DOUBLE':
        if (typeof v !== 'number' || !Number.isFinite(v)) {
          throw new FormatError(`${rowName(opts, i)}, column ${spec.name}: expected a finite number, got ${JSON.stringify(String(v))}`, where);
        }
        break;
      default:
        if (typeof v !== 'string') throw new FormatError(`${rowName(opts, i)}, column ${spec.name}: expected text, got ${typeof v}`, where);
    }
  }
}

/** Vector element types behind the DuckDB node API's column vectors (used for bulk copies). */
interface WritableVector {
  setItem(i: number, v: unknown): void;
  flush(): void;
}

/**
 * Append n rows in data chunks of 2048 (DuckDB's vector size). A BigUint64Array / Float64Array
 * column is copied into the vector's buffer in one `set` (NaN becomes NULL); other columns are
 * set value by value. About 3x faster than one appender call per value.
 */
function appendChunks(appender: DuckDBAppender, specs: readonly ColumnSpec[], arrays: ColumnValues[], n: number): void {
  const types = specs.map((s) => (s.type === 'UBIGINT' ? UBIGINT : s.type === 'DOUBLE' ? DOUBLE : VARCHAR));
  const CH = 2048;
  for (let off = 0; off < n; off += CH) {
    const len = Math.min(CH, n - off);
    const chunk = DuckDBDataChunk.create(types, len);
    for (let c = 0; c < specs.length; c++) {
      const vec = chunk.getColumnVector(c) as unknown as WritableVector & { items?: unknown };
      const src = arrays[c];
      const items = vec.items;
      if (src instanceof BigUint64Array && items instanceof BigUint64Array && items.length === len) {
        items.set(src.subarray(off, off + len));
      } else if ((src instanceof Float64Array || src instanceof Float32Array) && items instanceof Float64Array && items.length === len) {
        items.set(src.subarray(off, off + len));
        for (let i = 0; i < len; i++) if (Number.isNaN(items[i])) vec.setItem(i, null);
      } else {
        const a = src as ArrayLike<unknown>;
        const t = specs[c].type;
        for (let i = 0; i < len; i++) {
          const v = a[off + i];
          if (v === undefined || v === null || (t === 'DOUBLE' && Number.isNaN(v))) vec.setItem(i, null);
          else vec.setItem(i, t === 'VARCHAR' ? String(v) : v);
        }
      }
      vec.flush();
    }
    appender.appendDataChunk(chunk);
  }
}
