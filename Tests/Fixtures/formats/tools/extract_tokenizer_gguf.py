#!/usr/bin/env python3
"""Write a GGUF file that holds only the tokenizer metadata of another GGUF file.

Usage: extract_tokenizer_gguf.py SOURCE.gguf OUT.gguf

The key-value pairs whose keys start with "tokenizer." (plus general.architecture) are copied
byte for byte; the output has no tensors. Only the Python standard library is used.
"""
import struct
import sys

SCALAR_SIZES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}


def main(src, dst):
    with open(src, "rb") as f:
        data = f.read()
    if data[:4] != b"GGUF":
        sys.exit(f"{src}: not a GGUF file")
    version, _n_tensors, n_kv = struct.unpack_from("<IQQ", data, 4)
    pos = 24

    def skip_string(p):
        (n,) = struct.unpack_from("<Q", data, p)
        return p + 8 + n

    def skip_value(p, t):
        if t == 8:
            return skip_string(p)
        if t == 9:
            et, n = struct.unpack_from("<IQ", data, p)
            p += 12
            for _ in range(n):
                p = skip_value(p, et)
            return p
        return p + SCALAR_SIZES[t]

    kept = []
    for _ in range(n_kv):
        start = pos
        (klen,) = struct.unpack_from("<Q", data, pos)
        key = data[pos + 8:pos + 8 + klen].decode("utf-8")
        pos += 8 + klen
        (t,) = struct.unpack_from("<I", data, pos)
        pos = skip_value(pos + 4, t)
        if key.startswith("tokenizer.") or key == "general.architecture":
            kept.append(data[start:pos])
    with open(dst, "wb") as f:
        f.write(b"GGUF" + struct.pack("<IQQ", version, 0, len(kept)) + b"".join(kept))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
