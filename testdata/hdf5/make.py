# Small HDF5 files for src/formats/hdf5-chunks.test.ts (direct chunk reads vs h5wasm).
# Run with Debian's python3 (h5py 3.7): /usr/bin/python3 make.py  (writes the .h5 files beside it).
import numpy as np, h5py, shutil
rng = np.random.default_rng(22)

def body(f):
    g = f.create_group('a').create_group('b')
    g.create_dataset('int16', data=rng.integers(-30000, 30000, (11, 13, 17), dtype=np.int16), chunks=(4, 5, 6), compression='gzip', shuffle=True)
    f.create_dataset('f32', data=rng.standard_normal((9, 10, 11)).astype(np.float32), chunks=(4, 4, 4), compression='gzip', compression_opts=9, shuffle=True)
    f.create_dataset('u64', data=rng.integers(0, 2**63, (5, 6, 7), dtype=np.uint64), chunks=(2, 3, 4), compression='gzip')
    f.create_dataset('plain', data=rng.integers(0, 255, (7, 8, 9), dtype=np.uint8), chunks=(3, 3, 3))
    s = f.create_dataset('sparse', shape=(8, 8, 8), dtype=np.uint16, chunks=(4, 4, 4), fillvalue=7, compression='gzip')
    s[0:4, 0:4, 0:4] = rng.integers(0, 60000, (4, 4, 4), dtype=np.uint16)
    s[4:8, 4:8, 0:4] = 9
    f.create_dataset('c4', data=rng.integers(0, 255, (2, 5, 6, 7), dtype=np.uint8), chunks=(1, 3, 3, 3), compression='gzip', shuffle=True)
    f.create_dataset('contig', data=rng.integers(0, 255, (4, 5, 6), dtype=np.uint8))
    f.create_dataset('big_endian', data=rng.integers(0, 60000, (4, 5, 6)).astype('>u2'), chunks=(2, 2, 2), compression='gzip')

with h5py.File('chunks.h5', 'w') as f:
    body(f)
with h5py.File('chunks-latest.h5', 'w', libver='latest') as f:
    body(f)
# one chunk of f32 overwritten with garbage (same size): a damaged deflate stream
shutil.copy('chunks.h5', 'damaged.h5')
with h5py.File('damaged.h5', 'r') as f:
    info = f['f32'].id.get_chunk_info(1)
with open('damaged.h5', 'r+b') as fh:
    fh.seek(info.byte_offset)
    fh.write(bytes(rng.integers(0, 255, info.size, dtype=np.uint8)))
