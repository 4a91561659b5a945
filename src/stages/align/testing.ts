/** Test helpers: read one real section as a float image. */
import sharp from 'sharp';

export async function readSlice(file: string): Promise<{ data: Float32Array; w: number; h: number }> {
  const { data, info } = await sharp(file).greyscale().raw().toBuffer({ resolveWithObject: true });
  const out = new Float32Array(info.width * info.height);
  for (let i = 0; i < out.length; i++) out[i] = data[i * info.channels];
  return { data: out, w: info.width, h: info.height };
}
