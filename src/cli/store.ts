/** Opening a connectome database for a command. */
import { existsSync } from 'node:fs';
import { UsageError } from '../core/errors.js';
import { ConnectomeStore } from '../connectome/store.js';

/** Run `fn` on an existing database, read-only unless `write`. */
export async function withStore<T>(db: string, fn: (s: ConnectomeStore) => Promise<T>, write = false): Promise<T> {
  if (!existsSync(db)) throw new UsageError('database file not found', db);
  const store = await ConnectomeStore.open(db, { readOnly: !write });
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}
