import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../test/data.js';
import { boxFromShape } from '../core/box.js';
import { UsageError } from '../core/errors.js';
import { Volume } from '../core/volume.js';
import { writeNpy } from './npy.js';
import { openSource, splitChannel } from './open.js';

describe('openSource ?channel=N', () => {
  it('reads one channel of a multi-channel volume', async () => {
    const dir = await tempDir();
    const v = Volume.from('float32', [3, 2, 1], Float32Array.from([0, 1, 2, 3, 4, 5, 10, 11, 12, 13, 14, 15]), { channels: 2 });
    const file = path.join(dir, 'p.npy');
    await writeNpy(file, v);
    const src = await openSource(`${file}?channel=1`);
    expect(src.channels).toBe(1);
    const r = await src.read(boxFromShape([2, 2, 1], [1, 0, 0]));
    expect(r.channels).toBe(1);
    expect([...r.data]).toEqual([11, 12, 14, 15]);
    await src.close();
    await expect(openSource(`${file}?channel=2`)).rejects.toThrow(/channels 0\.\.1/);
  });
  it('parses and rejects selectors', () => {
    expect(splitChannel('a/b?channel=3')).toEqual({ spec: 'a/b', channel: 3 });
    expect(splitChannel('f.h5#stack?channel=0')).toEqual({ spec: 'f.h5#stack', channel: 0 });
    expect(splitChannel('a/b')).toEqual({ spec: 'a/b' });
    expect(() => splitChannel('a?channel=x')).toThrow(UsageError);
  });
});
