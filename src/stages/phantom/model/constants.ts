/** Density, size and locality constants, and the tile keys. */
import type { NeuronType } from './types.js';

/** Density, size and locality constants (nm). Documented in docs/PHANTOM.md. */
export const MODEL_CONSTANTS = {
  /** Edge of the cubic tiles that generation is keyed by. */
  tile: 2000,
  /** Neurites anchored in a tile (dendrites, axons) stay inside the tile grown by this. */
  reach: 2000,
  /** Somata (centre in the tile) and everything of theirs stay inside the tile grown by this. */
  somaReach: 6000,
  /** What a walk may overshoot its confinement by: one segment plus the largest radius and organelle margin. */
  slack: 1400,
  /** One soma per this many µm^3 (a tile holds one with probability tile^3 / somaVolume). */
  somaVolume: 400,
  /** Axon length per µm^3 (µm): sets the density of small profiles. */
  axonLengthDensity: 32,
  /** Dendrite length per µm^3 (µm). */
  dendriteLengthDensity: 1.5,
  /** Glia process length per µm^3 (µm): thin irregular processes, no synapses, no organelles. */
  gliaLengthDensity: 2.5,
  gridCell: 150,
  influence: 200,
  segment: 250,
};

/** Tile indices run over -TILE_RANGE..TILE_RANGE on each axis (keys are 3 x 12 bits). */
export const TILE_RANGE = 2047;
export const tileKey = (ix: number, iy: number, iz: number): number => ((iz + 2048) * 4096 + (iy + 2048)) * 4096 + (ix + 2048);
/** Key of the one soma a small volume adds (tile (-2048, -2048, -2048), never a real tile). */
export const VOLUME_SOMA_KEY = 0;
/** Neuron types of somata and dendrites (glia are added as processes, see gliaLengthDensity). */
export const typeWeights: Record<NeuronType, number> = { pyramidal: 0.5, stellate: 0.3, basket: 0.2 };
/** Neuron types of passing axons (no synapse in their tile). */
export const passingAxonWeights: Record<NeuronType, number> = { pyramidal: 0.45, stellate: 0.35, basket: 0.2 };

/**
 * Per neuron type: its axons (synaptic and passing alike): radius range (nm), probability of a
 * mitochondrion per segment, of a bouton-like varicosity per segment, and of a mitochondrion in a
 * bouton; the probability of a mitochondrion per dendrite segment. Basket (inhibitory) axons are
 * thicker with about 2.5x the mitochondria and 3x the varicosities of excitatory ones, and their
 * dendrites carry twice the mitochondria (smooth inhibitory interneurons are mitochondria-rich).
 */
export const NEURON_PROFILE: Record<NeuronType, { axonRadius: [number, number]; axonMito: number; varicosity: number; boutonMito: number; dendriteMito: number }> = {
  pyramidal: { axonRadius: [40, 65], axonMito: 0.08, varicosity: 0.1, boutonMito: 0.4, dendriteMito: 0.5 },
  stellate: { axonRadius: [40, 65], axonMito: 0.08, varicosity: 0.1, boutonMito: 0.4, dendriteMito: 0.5 },
  basket: { axonRadius: [60, 90], axonMito: 0.2, varicosity: 0.3, boutonMito: 0.8, dendriteMito: 1 },
};
