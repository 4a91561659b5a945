// The proofread stage's defaults, in one place (the CLI help reads them).
/** Defaults of the proofread stage (the CLI help reads them). */
export const PROOFREAD_DEFAULTS = {
  /** capacity of a contact face = 1 - mean boundary probability of its two voxels, plus this */
  faceFloor: 0.01,
  /** capacity of a link edge a merge adds between supervoxels that do not touch (one face of affinity 1) */
  linkCapacity: 1,
  /** mesh cell grid (voxels): cell c covers [cF, (c+1)F + 1); the base lists the cells each supervoxel has voxels in */
  meshCell: 32,
  /** a split's minimum cut runs on the root's supervoxels within this many voxels of the sources' and sinks' bounding box (at least half its size), doubled until the cut separates them in the whole root */
  splitMargin: 32,
  /** sections of the volumes `wiring edit init` reads at a time */
  initSlab: 32,
  /** proofreading status values of a cell's axon and dendrite (MICrONS' proofreading table: none done, clean, extended) */
  statuses: ['non', 'clean', 'extended'],
  /** split previews kept in memory by a server (the app shows one at a time) */
  previews: 8,
  /** roots whose supervoxel lists a state keeps (a root id's supervoxels never change), and at most this many supervoxels in all (the latest root is always kept) */
  memberCacheRoots: 8,
  memberCacheSupervoxels: 4_000_000,
  /** user name recorded when none is given */
  user: 'unknown',
} as const;
