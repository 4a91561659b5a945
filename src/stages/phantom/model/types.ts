/** The phantom's vocabulary: cell types, compartment codes, connection rules, and the shapes of its options, cells, synapses, organelles and model. */
import type { Box, Vec3 } from '../../../core/box.js';

export const CELL_TYPES = ['pyramidal', 'stellate', 'basket', 'glia'] as const;
export type CellType = (typeof CELL_TYPES)[number];
/** The neuron types (glia have no soma, dendrites, axons or synapses in the phantom: only thin processes). */
export type NeuronType = Exclude<CellType, 'glia'>;
/** Excitatory (spiny) types and the inhibitory (smooth) type; glia are neither (false: not spiny). */
export const EXCITATORY: Record<CellType, boolean> = { pyramidal: true, stellate: true, basket: false, glia: false };

/** Compartment codes of the compartments layer (uint8). */
export const COMPARTMENT = { none: 0, soma: 1, axon: 2, dendrite: 3, spineHead: 4, spineNeck: 5 } as const;
export const COMPARTMENT_NAMES = ['none', 'soma', 'axon', 'dendrite', 'spine_head', 'spine_neck'] as const;

export type TargetKind = 'spine' | 'shaft' | 'soma';
/**
 * Connection rules: for a postsynaptic (type, target kind), the probability of each presynaptic
 * type. Excitatory axons contact spine heads of spiny cells and dendritic shafts of basket cells;
 * basket axons contact shafts and somata of spiny cells. Pairs not listed never occur.
 */
export const CONNECTION_RULES: Record<CellType, Partial<Record<TargetKind, Partial<Record<NeuronType, number>>>>> = {
  pyramidal: { spine: { pyramidal: 0.6, stellate: 0.4 }, shaft: { basket: 1 }, soma: { basket: 1 } },
  stellate: { spine: { pyramidal: 0.3, stellate: 0.7 }, shaft: { basket: 1 }, soma: { basket: 1 } },
  basket: { shaft: { pyramidal: 0.5, stellate: 0.5 }, soma: { pyramidal: 0.5, stellate: 0.5 } },
  glia: {},
};

export interface PhantomOptions {
  seed: number;
  /** Volume shape in voxels [x, y, z]. */
  size: Vec3;
  /** nm per voxel [x, y, z]. */
  voxelSize: Vec3;
  /**
   * Spines and shaft targets per µm of dendrite as a multiple of the default (a spine every ~350
   * nm of spiny dendrite): synapses (with their boutons and vesicle clouds) scale with it.
   * Default 1: every existing seed's output unchanged.
   */
  synapseDensity?: number;
}

export interface CellInfo {
  type: CellType;
  /** Soma centre (nm); for cells whose soma lies outside the modelled region, a point far along the neurite. */
  soma: Vec3;
  id: bigint;
}

export interface SynapseInfo {
  id: bigint;
  pre: number; // cell index
  post: number;
  kind: TargetKind;
  /** Compartment code of the target primitive (spine head, dendrite, soma). */
  targetComp: number;
  contact: Vec3; // centre of the contact disc (nm)
  discRadius: number;
  prePoint: Vec3; // bouton centre
  postPoint: Vec3; // inside the target (spine head centre, or just under the shaft/soma surface)
}

export interface OrganelleInfo {
  id: bigint;
  kind: 'mitochondrion' | 'vesicle_cloud';
  host: number; // cell index
  a: Vec3;
  b: Vec3;
  r: number;
  synapse: number; // vesicle clouds: synapse index; else -1
}

export interface PhantomModel {
  options: PhantomOptions;
  /** The voxel box this model serves (every primitive that can reach it is in the model). */
  box: Box;
  extent: Vec3; // volume size in nm
  cells: CellInfo[];
  /** Low / high 32-bit words of each cell's id (for filling uint64 volumes fast). */
  cellIdLo: Uint32Array;
  cellIdHi: Uint32Array;
  // primitives (cell geometry)
  nPrims: number;
  pa: Float64Array; // 3 per prim
  pb: Float64Array;
  pra: Float64Array;
  prb: Float64Array;
  pcell: Int32Array;
  pcomp: Uint8Array;
  psyn: Int32Array; // boutons: synapse index, else -1
  /** b - a per prim (3 per prim), 1 / |b - a|^2 (0 for spheres), rb - ra. */
  pu: Float64Array;
  pinv: Float64Array;
  pdr: Float64Array;
  /** Per synapse: contact point (3), disc radius, post cell (for the block loop). */
  synContact: Float64Array;
  synDisc: Float64Array;
  synPost: Int32Array;
  /** Per organelle: a (3), b - a (3), 1/|b-a|^2, r, host, kind (0 mitochondrion, 1 vesicle cloud). */
  oa: Float64Array;
  ou: Float64Array;
  oinv: Float64Array;
  or: Float64Array;
  ohost: Int32Array;
  okind: Uint8Array;
  synapses: SynapseInfo[];
  organelles: OrganelleInfo[];
  /** Grid over `box`: cells of `gridCell` nm from `gridOrigin` (a multiple of gridCell, so cells sit on one global lattice), `gridDims` cells; CSR lists of prims and organelles. */
  gridOrigin: Vec3;
  gridCell: number;
  gridDims: Vec3;
  primStart: Int32Array;
  primItems: Int32Array;
  orgStart: Int32Array;
  orgItems: Int32Array;
  /** Surfaces farther than this (nm) are ignored; voxels with no surface this close are extracellular. */
  influence: number;
}
