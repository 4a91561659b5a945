import type { Box } from '../../../core/box.js';

/** Appearance constants (nm, grey levels of the sharp image before blur and noise). Documented in docs/PHANTOM.md. */
export const LOOK = {
  /** Voxels where the two nearest cells' surfaces tie within 2*ecsHalf nm are extracellular space. */
  ecsHalf: 0.6,
  /** Membrane darkness exp(-(h/membraneSigma)^2), h = half the gap between the two nearest surfaces. */
  membraneSigma: 11,
  membraneGrey: 14,
  /** Cleft: h below this within the contact disc (nm): labelled and drawn as a grey band. */
  cleftHalf: 10,
  cleftGrey: 128,
  /** Presynaptic membrane beyond the cleft (nm thick) and its grey. */
  preMembrane: 8,
  preGrey: 36,
  /** Postsynaptic density: up to this thick (nm) beyond the cleft on the post side, thinner towards the disc rim. */
  psdDepth: 45,
  psdGrey: 6,
  cytoplasm: 166,
  /** Amplitudes of the cytoplasm's value noise at 110 nm and 14 nm, and of the per-voxel stain grain at 4 nm pixels (grey levels). */
  coarseTexture: 30,
  fineTexture: 110,
  grain: 90,
  vesicleLattice: 46,
  vesicleRadius: 19,
  /** Mitochondria: the outer membrane and this far (nm) outside it are drawn. */
  mitoReach: 3,
  mitoMatrix: 112,
  cristaGrey: 52,
  /** Crista spacing along the mitochondrion's axis (nm). */
  cristaPeriod: 36,
};

export interface RasterFields {
  box: Box;
  /** Cell index, -1 for extracellular space. */
  cell: Int32Array;
  comp: Uint8Array;
  /** Organelle indices (-1 none). */
  mito: Int32Array;
  cloud: Int32Array;
  /** Synapse index (-1 none). */
  cleft: Int32Array;
  /** Sharp intensity (before blur and noise), only when asked. */
  raw?: Float32Array;
}
