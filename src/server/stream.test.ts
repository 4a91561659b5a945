import * as http from 'node:http';
import * as path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../test/data.js';
import { ConnectomeStore } from '../connectome/store.js';
import { buildServer } from './app.js';
import { jsonListStream, STREAM_BATCH_ROWS } from './http.js';
import { API_PAGE } from './schema.js';

describe('jsonListStream', () => {
  it('gives other work a turn of the event loop between batches', async () => {
    const rows = Array.from({ length: 4 * STREAM_BATCH_ROWS }, (_, i) => ({ id: BigInt(i) }));
    const s = jsonListStream({ total: rows.length }, 'rows', rows);
    const events: string[] = [];
    let text = '';
    let chunks = 0;
    s.on('data', (c: Buffer) => {
      text += c.toString();
      if (chunks++ === 1) setImmediate(() => events.push('other work'));
    });
    await new Promise((r) => s.on('end', r));
    events.push('end');
    expect(events).toEqual(['other work', 'end']);
    const parsed = JSON.parse(text);
    expect(parsed.total).toBe(rows.length);
    expect(parsed.rows.map((r: { id: string }) => r.id)).toEqual(rows.map((r) => r.id.toString()));
  });
});

describe('a large answer does not hold up other requests', () => {
  const N = API_PAGE.max + 500;
  let app: FastifyInstance;
  let base: string;
  beforeAll(async () => {
    const dir = await tempDir('wiring-server-stream-');
    const store = await ConnectomeStore.open(path.join(dir, 'connectome.duckdb'));
    await store.insertSynapses(Array.from({ length: N }, (_, i) => ({
      id: BigInt(i + 1), pre_pt_root_id: 1n, post_pt_root_id: 2n, pre_pt_position: [i, 0, 0] as const, post_pt_position: [i, 1, 0] as const, ctr_pt_position: [i, 0.5, 0] as const, size: i,
    })));
    await store.close();
    app = await buildServer({ dataset: dir, partnerIndexMaxPairs: 0 });
    base = await app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(async () => {
    await app?.close();
  });

  it('answers a small request while a full page is still being read, then finishes the page', async () => {
    const order: string[] = [];
    const big = new Promise<string>((resolve, reject) => {
      http.get(`${base}/api/synapses?limit=${API_PAGE.max * 10}`, (res) => {
        let body = '';
        let paused = false;
        res.on('data', (c: Buffer) => {
          body += c.toString();
          if (paused) return;
          // Hold the big answer after its first bytes until the small one has been answered.
          paused = true;
          res.pause();
          order.push('big started');
          void fetch(`${base}/api/layers`).then((r) => r.json()).then((j) => {
            order.push(`small answered (${(j as { layers: unknown[] }).layers.length} layers)`);
            res.resume();
          }, reject);
        });
        res.on('end', () => {
          order.push('big finished');
          resolve(body);
        });
        res.on('error', reject);
      }).on('error', reject);
    });
    const page = JSON.parse(await big);
    expect(order).toEqual(['big started', 'small answered (0 layers)', 'big finished']);
    expect(page.total).toBe(N);
    expect(page.synapses).toHaveLength(API_PAGE.max);
    expect(page.next).toBe(String(API_PAGE.max));
    expect(page.synapses[API_PAGE.max - 1]).toEqual({
      id: String(API_PAGE.max), pre_pt_root_id: '1', post_pt_root_id: '2', pre_pt_position: [API_PAGE.max - 1, 0, 0], post_pt_position: [API_PAGE.max - 1, 1, 0], ctr_pt_position: [API_PAGE.max - 1, 0.5, 0], size: API_PAGE.max - 1, synapse_type: null,
    });
    const rest = JSON.parse(await (await fetch(`${base}/api/synapses?limit=${API_PAGE.max}&after=${page.next}`)).text());
    expect(rest.synapses).toHaveLength(500);
    expect(rest.next).toBeNull();
  });
});
