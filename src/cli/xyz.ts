import { type Command, Option } from 'commander';
import { type Box, type Vec3, box } from '../core/box.js';
import { UsageError } from '../core/errors.js';

/**
 * The one parser of the command line's X,Y,Z values ([x, y, z] order), by what they measure:
 *  - 'size':   whole voxels > 0 (sizes, chunks, blocks, tiles)
 *  - 'margin': whole voxels >= 0 (margins, halos, overlaps)
 *  - 'offset': whole voxels, any sign
 *  - 'nm':     a length > 0 in nanometres (voxel sizes, resolutions)
 * Errors name the option and say what was expected.
 */
export type XyzKind = 'size' | 'margin' | 'offset' | 'nm';

const EXPECT: Record<XyzKind, string> = {
  size: 'whole numbers > 0 (voxels)',
  margin: 'whole numbers >= 0 (voxels)',
  offset: 'whole numbers (voxels)',
  nm: 'numbers > 0 (nm)',
};

export function parseXyz(text: unknown, option: string, kind: XyzKind): Vec3 {
  const s = String(text ?? '');
  const parts = s.split(',').map((p) => p.trim());
  const bad = (why: string) => new UsageError(`${option} ${JSON.stringify(s)}: ${why}; expected X,Y,Z of ${EXPECT[kind]}, e.g. ${kind === 'nm' ? '8,8,30' : kind === 'size' ? '128,128,64' : '16,16,0'}`);
  if (parts.length !== 3 || parts.some((p) => p === '')) throw bad(`${parts.length === 3 ? 'an empty value' : `${parts.length} value(s)`}`);
  const v = parts.map(Number);
  v.forEach((n, i) => {
    const axis = 'xyz'[i];
    if (!Number.isFinite(n)) throw bad(`${axis} = ${JSON.stringify(parts[i])} is not a number`);
    if (kind !== 'nm' && !Number.isInteger(n)) throw bad(`${axis} = ${parts[i]} is not a whole number`);
    if ((kind === 'size' || kind === 'nm') && n <= 0) throw bad(`${axis} = ${parts[i]} is not > 0`);
    if (kind === 'margin' && n < 0) throw bad(`${axis} = ${parts[i]} is negative`);
  });
  return [v[0], v[1], v[2]];
}

/** "x0:x1,y0:y1,z0:z1" (whole voxels, half-open, non-empty). */
export function parseXyzBounds(text: unknown, option: string): Box {
  const s = String(text ?? '');
  const parts = s.split(',').map((p) => p.split(':').map((v) => (v.trim() === '' ? NaN : Number(v.trim()))));
  if (parts.length !== 3 || parts.some((p) => p.length !== 2 || p.some((v) => !Number.isInteger(v)) || p[1] <= p[0])) {
    throw new UsageError(`${option} ${JSON.stringify(s)}: expected x0:x1,y0:y1,z0:z1 (whole voxels, half-open, non-empty), e.g. 0:512,0:512,0:64`);
  }
  return box([parts[0][0], parts[1][0], parts[2][0]], [parts[0][1], parts[1][1], parts[2][1]]);
}

/** Old spellings of --block, still accepted (hidden from the help). */
const BLOCK_ALIASES = ['--block-shape', '--block-size'] as const;

/** Add the one block option, `--block <x,y,z>` (old spellings --block-shape/--block-size still read). */
export function addBlockOption(cmd: Command, description: string): Command {
  cmd.option('--block <x,y,z>', description);
  for (const a of BLOCK_ALIASES) cmd.addOption(new Option(`${a} <x,y,z>`, `same as --block`).hideHelp());
  return cmd;
}

/** The block shape given (by --block or an old spelling), or undefined. */
export function blockOption(opts: Record<string, unknown>): Vec3 | undefined {
  const given = [['--block', opts.block], ['--block-shape', opts.blockShape], ['--block-size', opts.blockSize]].filter(([, v]) => v !== undefined) as Array<[string, unknown]>;
  if (given.length > 1) throw new UsageError(`${given.map(([n]) => n).join(' and ')} are one option (--block); give it once`);
  return given.length ? parseXyz(given[0][1], given[0][0], 'size') : undefined;
}
