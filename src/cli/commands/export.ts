import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { box } from '../../core/box.js';
import { writeFileAtomic } from '../../core/atomic.js';
import { bytesPerElement } from '../../core/dtype.js';
import { UsageError } from '../../core/errors.js';
import { exportVolume } from '../../formats/export.js';
import { encodeTiffStack } from '../../formats/imagestack.js';
import { PrecomputedLayer } from '../../formats/precomputed/index.js';
import type { VolumeSource } from '../../formats/source.js';
import { emit } from '../output.js';

/** Largest volume a classic (32-bit offset) multi-page TIFF holds. */
const TIFF_MAX_BYTES = 2 ** 32 - 1;

/** One multi-page TIFF (a page per z plane, uint8/uint16, one channel), written atomically. */
async function exportTiff(source: VolumeSource, dest: string): Promise<void> {
  if (source.channels !== 1 || (source.dtype !== 'uint8' && source.dtype !== 'uint16')) {
    throw new UsageError(`a TIFF export takes a one-channel uint8 or uint16 layer; this one is ${source.channels} x ${source.dtype} (export it as .npy, .h5 or .zarr)`, dest);
  }
  const [X, Y, Z] = source.shape;
  const bytes = X * Y * Z * bytesPerElement(source.dtype);
  if (bytes + Z * 200 > TIFF_MAX_BYTES) throw new UsageError(`[${source.shape}] ${source.dtype} is larger than a classic TIFF holds (4 GiB); export as .zarr or .h5`, dest);
  const o = source.offset;
  const vol = await source.read(box([o[0], o[1], o[2]], [o[0] + X, o[1] + Y, o[2] + Z]));
  await writeFileAtomic(dest, encodeTiffStack(vol));
}

export function register(program: Command): Command {
  return program
    .command('export')
    .description('export a precomputed layer: dest by extension (.npy, file.h5#name, .zarr, .tif) or a folder of PNG slices')
    .argument('<layer-dir>', 'the precomputed layer folder')
    .argument('<dest>', 'x.npy | file.h5#dataset | x.zarr | x.tif (multi-page) | folder/ (PNG slices)')
    .option('--scale <n>', 'scale index to export', '0')
    .option('--zarr-format <v>', '.zarr: 3 (OME-Zarr 0.5) or 2 (OME-Zarr 0.4, for zarr-python 2)', '3')
    .option('--overwrite', 'replace an existing destination')
    .option('--json', 'machine-readable output')
    .action(async (layerDir: string, dest: string, opts) => {
      const scale = Number(opts.scale);
      const zarrFormat = Number(opts.zarrFormat);
      if (zarrFormat !== 2 && zarrFormat !== 3) throw new UsageError(`--zarr-format ${opts.zarrFormat}: expected 2 or 3`);
      const layer = await PrecomputedLayer.open(layerDir);
      if (!Number.isInteger(scale) || scale < 0 || scale >= layer.info.scales.length) {
        throw new UsageError(`--scale ${opts.scale}: ${layerDir} has scales 0..${layer.info.scales.length - 1}`);
      }
      const file = dest.includes('#') ? dest.slice(0, dest.indexOf('#')) : dest;
      const tiff = /\.tiff?$/i.test(file);
      // An HDF5 destination adds a dataset to a file that may exist; every other one is replaced only when asked.
      if (existsSync(file) && !opts.overwrite && !dest.includes('#')) throw new UsageError(`${dest} exists; pass --overwrite to replace it`, dest);
      const source = layer.source(scale);
      const started = Date.now();
      if (tiff) await exportTiff(source, file);
      else await exportVolume(source, dest, { json: !!opts.json, overwrite: !!opts.overwrite, zarrFormat });
      const seconds = (Date.now() - started) / 1000;
      emit(opts, { layer: layerDir, dest, scale, size: source.shape, data_type: source.dtype, format: tiff ? 'tiff' : undefined, seconds }, () =>
        `exported ${layerDir} (scale ${scale}, [${source.shape}] ${source.dtype}) -> ${dest} in ${seconds.toFixed(1)} s`,
      );
    });
}
