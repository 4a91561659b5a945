// Paths read from metadata (a precomputed scale `key`, an OME-Zarr dataset `path`) name places
// inside the folder that holds the metadata, never outside it.

/**
 * True for a path below its folder: names of [A-Za-z0-9._+@=,-] joined by '/', none of them '.'
 * or '..'. This refuses `../../x`, `/etc`, `C:\x`, `a\..\b` and `%2e%2e` alike.
 */
export function isSafeKey(key: unknown): key is string {
  if (typeof key !== 'string' || key === '' || key.length > 255) return false;
  return key.split('/').every((part) => /^[A-Za-z0-9._+@=,-]+$/.test(part) && part !== '.' && part !== '..');
}
