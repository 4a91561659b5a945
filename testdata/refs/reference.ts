/**
 * Reference outputs of the Python scripts (scipy, scikit-image) for the tests that claim
 * "identical to scipy/scikit-image": computed live when Debian's python3 with the needed modules
 * is here, else read from the committed fixture testdata/refs/<name>.gz (made by make.sh with
 * the same scripts, copied under py/). Every choice is printed with its reason, so a run says
 * which reference it checked against; a missing fixture without Python fails (never skips).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync, gzipSync } from 'node:zlib';

export const TESTDATA_REFS = path.dirname(fileURLToPath(import.meta.url));
export const PY = '/usr/bin/python3';
const SHARED_REFS = process.env.WIRING_REFS ?? path.resolve(TESTDATA_REFS, '../../../shared/refs');

/** A refs script: the shared copy when present (the live tree), else the copy committed under py/. */
export function refScript(name: string): string {
  const shared = path.join(SHARED_REFS, name);
  return existsSync(shared) ? shared : path.join(TESTDATA_REFS, 'py', name);
}

const probed = new Map<string, string | undefined>();

/** Why the live Python reference cannot run (python3 or a module missing), or undefined when it can. */
export function pythonMissing(modules: string[]): string | undefined {
  if (process.env.WIRING_NO_PYTHON) return 'WIRING_NO_PYTHON is set';
  const key = modules.join(',');
  if (!probed.has(key)) {
    let why: string | undefined;
    if (!existsSync(PY)) why = `${PY} not found`;
    else {
      const r = spawnSync(PY, ['-c', `import ${key}`], { encoding: 'utf8' });
      if (r.status !== 0) why = `${PY} cannot import ${key} (${(r.stderr || '').trim().split('\n').pop()})`;
    }
    probed.set(key, why);
  }
  return probed.get(key);
}

export function fixturePath(name: string): string {
  return path.join(TESTDATA_REFS, `${name}.gz`);
}

/**
 * The reference bytes `name`: from `live()` when `missing` is undefined (and saved as the
 * fixture with WIRING_WRITE_FIXTURES=1), else from the committed fixture.
 */
export function referenceBytes(name: string, missing: string | undefined, live: () => Uint8Array): Uint8Array {
  if (missing === undefined) {
    const bytes = live();
    if (process.env.WIRING_WRITE_FIXTURES === '1') writeFileSync(fixturePath(name), gzipSync(bytes, { level: 9 }));
    return bytes;
  }
  const file = fixturePath(name);
  if (!existsSync(file)) throw new Error(`reference ${name}: no live Python (${missing}) and no committed fixture ${file}`);
  console.log(`[fixture] ${name}: live reference unavailable (${missing}); checking against the committed ${path.relative(process.cwd(), file)} (made by testdata/refs/make.sh)`);
  const b = gunzipSync(readFileSync(file));
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/** referenceBytes for a JSON document. */
export function referenceJson<T>(name: string, missing: string | undefined, live: () => T): T {
  const bytes = referenceBytes(name, missing, () => new TextEncoder().encode(JSON.stringify(live())));
  return JSON.parse(new TextDecoder().decode(bytes)) as T;
}

/** A typed view on reference bytes (copied, so the element alignment is right). */
export function asUint32(b: Uint8Array): Uint32Array {
  return new Uint32Array(b.slice().buffer);
}
export function asFloat32(b: Uint8Array): Float32Array {
  return new Float32Array(b.slice().buffer);
}
