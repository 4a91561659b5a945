import type { Command } from 'commander';
import { exportVolume } from '../../formats/export.js';
import { PrecomputedLayer } from '../../formats/precomputed/index.js';
import { emit } from '../output.js';

export function register(program: Command): Command {
  return program
    .command('export')
    .description('export a precomputed layer: dest by extension (.npy, file.h5#name, .zarr) or a folder of PNG slices')
    .argument('<layer-dir>', 'the precomputed layer folder')
    .argument('<dest>', 'x.npy | file.h5#dataset | x.zarr | folder/ (PNG slices)')
    .option('--scale <n>', 'scale index to export', '0')
    .option('--json', 'machine-readable output')
    .action(async (layerDir: string, dest: string, opts) => {
      const scale = Number(opts.scale);
      const layer = await PrecomputedLayer.open(layerDir);
      if (!Number.isInteger(scale) || scale < 0 || scale >= layer.info.scales.length) {
        throw new Error(`--scale ${opts.scale}: ${layerDir} has scales 0..${layer.info.scales.length - 1}`);
      }
      const source = layer.source(scale);
      const started = Date.now();
      await exportVolume(source, dest, { json: !!opts.json });
      const seconds = (Date.now() - started) / 1000;
      emit(opts, { layer: layerDir, dest, scale, size: source.shape, data_type: source.dtype, seconds }, () =>
        `exported ${layerDir} (scale ${scale}, [${source.shape}] ${source.dtype}) -> ${dest} in ${seconds.toFixed(1)} s`,
      );
    });
}
