import { spawn, spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../test/data.js';
import { ConnectomeStore } from '../connectome/store.js';
import { EXIT } from './main.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const wiring = (args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'test/wiring-cli.ts', ...args], { cwd: ROOT, encoding: 'utf8' });

async function database(synapses = 50): Promise<string> {
  const dir = await tempDir('wiring-main-');
  const db = path.join(dir, 'c.duckdb');
  const store = await ConnectomeStore.open(db);
  await store.insertCells([{ id: 10n, name: 'twin', pt_position: [0, 0, 0] }, { id: 11n, name: 'twin', pt_position: [0, 0, 0] }, { id: 12n, name: 'solo', pt_position: [0, 0, 0] }]);
  await store.insertSynapses(Array.from({ length: synapses }, (_, i) => ({ id: BigInt(i + 1), pre_pt_root_id: 12n, post_pt_root_id: 10n + BigInt(i % 2), pre_pt_position: [i, 0, 0], post_pt_position: [i, 0, 0], ctr_pt_position: [i, 0, 0], size: 1 })));
  await store.materialize();
  await store.close();
  return db;
}

describe('the wiring program', () => {
  it('exit codes: 2 and one line with a hint for usage errors (parser ones too), 0 for --help/-V', async () => {
    const unknown = wiring(['query', '/nowhere.duckdb', 'cells', '--bogus']);
    expect(unknown.status).toBe(EXIT.usage);
    expect(unknown.stderr.trim().split('\n')).toEqual(["error: unknown option '--bogus'", "(run 'wiring query --help' for usage)"]);
    const missing = wiring(['query', '/nowhere.duckdb', 'cells']);
    expect(missing.status).toBe(EXIT.usage);
    expect(missing.stderr).toMatch(/^wiring: .*database file not found/);
    expect(wiring(['-V']).stdout.trim()).toBe('0.1.0');
    expect(wiring(['--version']).status).toBe(EXIT.ok);
  });

  it('--version N after a command is the data version; query inputs honours --limit; an ambiguous name is an error listing the cells', async () => {
    const db = await database();
    const v1 = wiring(['query', db, 'outputs', 'solo', '--version', '1', '--limit', '3', '--json']);
    expect(v1.status, v1.stderr).toBe(0);
    expect(JSON.parse(v1.stdout).map((s: { id: string }) => s.id)).toEqual(['1', '2', '3']);
    const noVersion = wiring(['query', db, 'outputs', 'solo', '--version', '7']);
    expect(noVersion.status).toBe(EXIT.usage);
    expect(noVersion.stderr).toMatch(/version 7/);
    const twin = wiring(['query', db, 'inputs', 'twin']);
    expect(twin.status).toBe(EXIT.usage);
    expect(twin.stderr).toMatch(/2 cells are named "twin": 10, 11/);
  });

  it('exits quietly when its reader closes the pipe (| head -1)', async () => {
    const db = await database(5000); // far more than a pipe buffer (64 KiB) of JSON
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/wiring-cli.ts', 'query', db, 'synapses', '--json'], { cwd: ROOT });
    let stderr = '';
    child.stderr.on('data', (c) => (stderr += c));
    // Read the first chunk, then close our end of the pipe, as `head -1` does.
    child.stdout.once('data', () => child.stdout.destroy());
    const code = await new Promise<number | null>((r) => child.on('close', r));
    expect(stderr).not.toMatch(/EPIPE|Error/);
    expect(code).toBe(0);
  });
});
