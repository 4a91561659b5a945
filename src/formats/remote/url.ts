import { UsageError } from '../../core/errors.js';

/**
 * Remote volume URLs as Neuroglancer writes them:
 *
 *   precomputed://https://host/path/layer     precomputed://gs://bucket/path     precomputed://s3://bucket/path
 *   zarr://https://...   zarr2://...   zarr3://...   n5://...   (also a bare https:// URL)
 *
 * Public buckets are read over their HTTPS endpoints, no credentials:
 *   gs://bucket/path  -> https://storage.googleapis.com/bucket/path
 *   s3://bucket/path  -> https://bucket.s3.amazonaws.com/path
 */

export type RemoteFormat = 'precomputed' | 'zarr' | 'n5' | 'auto';

export interface RemoteUrl {
  format: RemoteFormat;
  /** The HTTPS (or HTTP) base URL of the layer, no trailing slash. */
  base: string;
  /** The URL as given. */
  spec: string;
}

/** Whether a spec names a remote source (http(s), gs, s3, optionally behind a format prefix). */
export function isRemote(spec: string): boolean {
  return /^((precomputed|zarr|zarr2|zarr3|n5):\/\/)?(https?|gs|s3):\/\//i.test(spec.trim());
}

export function bucketToHttps(url: string): string {
  const gs = /^gs:\/\/([^/]+)(\/.*)?$/i.exec(url);
  if (gs) return `https://storage.googleapis.com/${gs[1]}${gs[2] ?? ''}`;
  const s3 = /^s3:\/\/([^/]+)(\/.*)?$/i.exec(url);
  if (s3) return `https://${s3[1]}.s3.amazonaws.com${s3[2] ?? ''}`;
  return url;
}

export function parseRemoteUrl(spec: string): RemoteUrl {
  const s = spec.trim();
  const m = /^(?:(precomputed|zarr|zarr2|zarr3|n5):\/\/)?((?:https?|gs|s3):\/\/.+)$/i.exec(s);
  if (!m) throw new UsageError(`${spec}: not a remote URL (expected http(s)://, gs:// or s3://, optionally after precomputed://, zarr://, n5://)`);
  const prefix = (m[1] ?? '').toLowerCase();
  const format: RemoteFormat = prefix === 'precomputed' ? 'precomputed' : prefix.startsWith('zarr') ? 'zarr' : prefix === 'n5' ? 'n5' : 'auto';
  let base = bucketToHttps(m[2]);
  if (base.includes('#')) throw new UsageError(`${spec}: '#' paths are not supported for remote sources`);
  let u: URL;
  try {
    u = new URL(base);
  } catch {
    throw new UsageError(`${spec}: not a valid URL`);
  }
  if (u.username || u.password) throw new UsageError(`${spec}: credentials in URLs are not supported (public data only)`);
  base = u.toString().replace(/\/+$/, '');
  return { format, base, spec };
}
