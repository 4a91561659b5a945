import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { addBlockOption, blockOption, parseXyz, parseXyzBounds } from './xyz.js';

describe('X,Y,Z options', () => {
  it('parses by kind and names the option, the axis and what was expected', () => {
    expect(parseXyz('128, 128,64', '--block', 'size')).toEqual([128, 128, 64]);
    expect(parseXyz('4,4,40.5', '--voxel-size', 'nm')).toEqual([4, 4, 40.5]);
    expect(parseXyz('-3,0,2', '--offset', 'offset')).toEqual([-3, 0, 2]);
    expect(parseXyz('16,16,0', '--margin', 'margin')).toEqual([16, 16, 0]);
    expect(() => parseXyz('128,128', '--block', 'size')).toThrow('--block "128,128": 2 value(s); expected X,Y,Z of whole numbers > 0 (voxels), e.g. 128,128,64');
    expect(() => parseXyz('8,0,30', '--voxel-size', 'nm')).toThrow(/--voxel-size "8,0,30": y = 0 is not > 0; expected X,Y,Z of numbers > 0 \(nm\)/);
    expect(() => parseXyz('1,2.5,3', '--tile', 'size')).toThrow(/--tile "1,2.5,3": y = 2.5 is not a whole number/);
    expect(() => parseXyz('1,x,3', '--halo', 'margin')).toThrow(/--halo "1,x,3": y = "x" is not a number/);
    expect(() => parseXyz('1,-1,3', '--halo', 'margin')).toThrow(/y = -1 is negative/);
    expect(() => parseXyz('1,,3', '--size', 'size')).toThrow(/an empty value/);
    expect(parseXyzBounds('0:4, 2:3,0:1', '--bounds')).toEqual({ min: [0, 2, 0], max: [4, 3, 1] });
    expect(() => parseXyzBounds('0:4,3:2,0:1', '--bounds')).toThrow(/--bounds "0:4,3:2,0:1": expected x0:x1,y0:y1,z0:z1/);
  });

  it('has one block option; the old spellings still read, and two at once are an error', async () => {
    const parse = async (args: string[]) => {
      const cmd = addBlockOption(new Command('x').exitOverride(), 'block');
      await cmd.parseAsync(['node', 'x', ...args]);
      return blockOption(cmd.opts());
    };
    expect(await parse(['--block', '16,16,8'])).toEqual([16, 16, 8]);
    expect(await parse(['--block-shape', '16,16,8'])).toEqual([16, 16, 8]);
    expect(await parse(['--block-size', '8,8,8'])).toEqual([8, 8, 8]);
    expect(await parse([])).toBeUndefined();
    await expect(parse(['--block', '1,1,1', '--block-shape', '2,2,2'])).rejects.toThrow('--block and --block-shape are one option (--block); give it once');
    await expect(parse(['--block-size', '0,1,1'])).rejects.toThrow(/--block-size "0,1,1": x = 0 is not > 0/);
    const help = addBlockOption(new Command('x'), 'block').helpInformation();
    expect(help).toContain('--block <x,y,z>');
    expect(help).not.toContain('--block-shape');
  });
});
