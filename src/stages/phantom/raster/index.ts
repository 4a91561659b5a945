// The phantom's rasteriser: labels and the sharp EM-like image of a box (README.md beside it).
export { LOOK, type RasterFields } from './look.js';
export { NoiseTable, PointTable, smearedGaussian, valueNoise } from './noise.js';
export { packed } from './pack.js';
export { rasterize } from './rasterize.js';
export { rasterizeLabelsReference } from './reference.js';
