// Inputs of the alignment benchmark: the phantom's sections (exact shift truth) and real sections.
import { boxFromShape } from '../src/core/box.js';
import type { Volume } from '../src/core/volume.js';
import { type PhantomParams, phantomBlock, sectionArtefacts } from '../src/stages/phantom/tasks.js';
import { image } from '../src/stages/align/image.js';

export function phantomStack(p: PhantomParams) {
  const box = boxFromShape(p.size);
  const res = phantomBlock({ box, readBox: box, inputs: {}, params: p, blockIndex: [0, 0, 0] });
  const raw = res.volumes!.raw as Volume<'uint8'>;
  const [w, h, nz] = p.size;
  const sections = Array.from({ length: nz }, (_, z) => image(w, h, Float32Array.from(raw.data.subarray(z * w * h, (z + 1) * w * h))));
  return { sections, art: sectionArtefacts(p) };
}
