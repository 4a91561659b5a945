// Types for the Neuroglancer modules the tests import that ship without declarations.
declare module 'neuroglancer/unstable/mesh/backend.js' {
  /** Assigns each octree row's children (rows [x, y, z, childBegin, childEnd | emptyBit]), as Neuroglancer's precomputed mesh source does on a manifest. */
  export function computeOctreeChildOffsets(octree: Uint32Array, childStart: number, childEnd: number, parentEnd: number): void;
}
