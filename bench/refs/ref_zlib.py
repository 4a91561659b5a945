"""gzip reference for bench/chunk-io.bench.ts: Python's zlib on the same chunk bytes.

Reads a file of chunks (each: uint32 little-endian length, then the bytes), compresses every
chunk as gzip (wbits 31) at each level given, and prints JSON {level: {cpu_s, bytes}} with the
process CPU seconds (best of 3 passes) and the total compressed size; each result is checked to
decompress to its chunk.
"""
import json
import struct
import sys
import time
import zlib

path, levels = sys.argv[1], [int(x) for x in sys.argv[2].split(",")]
data = open(path, "rb").read()
chunks, i = [], 0
while i < len(data):
    (n,) = struct.unpack_from("<I", data, i)
    chunks.append(data[i + 4 : i + 4 + n])
    i += 4 + n
out = {}
for level in levels:
    best, size = float("inf"), 0
    for _ in range(3):
        t0 = time.process_time()
        comp = []
        for c in chunks:
            z = zlib.compressobj(level, zlib.DEFLATED, 31)
            comp.append(z.compress(c) + z.flush())
        best = min(best, time.process_time() - t0)
        size = sum(len(x) for x in comp)
    for c, z in zip(chunks, comp):
        assert zlib.decompress(z, 31) == c
    out[str(level)] = {"cpu_s": best, "bytes": size}
print(json.dumps({"zlib": zlib.ZLIB_VERSION, "levels": out}))
