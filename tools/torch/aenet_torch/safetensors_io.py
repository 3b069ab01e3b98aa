"""safetensors files in pure Python (struct + json), as aenet reads and writes them.

The writer produces byte for byte what aenet's own writer produces for the
same tensors and metadata (docs/model-format.md, section 1): metadata keys
sorted by byte value, compact JSON escaped as core/json.c escapes it, the
header padded with spaces to a multiple of 8, F32 data without gaps, the
file written beside the target, flushed, then renamed over it.
"""
import json
import os
import struct
import tempfile

import numpy as np

HEADER_LIMIT = 100_000_000
DTYPES = {"F32": "<f4", "F16": "<f2", "BF16": None, "F64": "<f8"}


class FormatError(ValueError):
    """A file that is not a safetensors file aenet would accept."""


def _bf16_to_f32(raw):
    halves = np.frombuffer(raw, dtype="<u2").astype("<u4") << 16
    return halves.view("<f4")


def read(path):
    """Returns (tensors, metadata): tensors maps each name, in file order, to a
    float32 numpy array of its shape; metadata is the dict of strings."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise FormatError(f"{path}: shorter than 8 bytes")
    (n,) = struct.unpack_from("<Q", data, 0)
    if n > len(data) - 8 or n > HEADER_LIMIT:
        raise FormatError(f"{path}: header length {n} does not fit the file")
    try:
        header = json.loads(data[8:8 + n].decode("utf-8"),
                            object_pairs_hook=_no_duplicates)
    except (UnicodeDecodeError, ValueError) as e:
        raise FormatError(f"{path}: header is not valid JSON: {e}") from None
    if not isinstance(header, dict):
        raise FormatError(f"{path}: header is not a JSON object")
    body = memoryview(data)[8 + n:]
    metadata = header.pop("__metadata__", {})
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise FormatError(f"{path}: __metadata__ must map names to strings")
    tensors = {}
    for name, entry in header.items():
        if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
            raise FormatError(f"{path}: tensor {name}: needs exactly dtype, shape, data_offsets")
        dtype, shape, (begin, end) = entry["dtype"], entry["shape"], entry["data_offsets"]
        if dtype not in DTYPES:
            raise FormatError(f"{path}: tensor {name}: unsupported dtype {dtype}")
        count = int(np.prod(shape, dtype=np.int64))
        size = 2 if dtype in ("F16", "BF16") else 4 if dtype == "F32" else 8
        if not 0 <= begin <= end <= len(body) or end - begin != count * size:
            raise FormatError(f"{path}: tensor {name}: data_offsets do not match its shape")
        raw = body[begin:end]
        values = _bf16_to_f32(raw) if dtype == "BF16" else np.frombuffer(raw, dtype=DTYPES[dtype])
        values = values.astype(np.float32).reshape(shape)
        if not np.isfinite(values).all():
            raise FormatError(f"{path}: tensor {name} has a NaN or infinite value")
        tensors[name] = values
    return tensors, metadata


def open_arrays(path):
    """Like read, for large F32 files (training shards): the tensors are
    memory-mapped, read from disk only when used."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        if n > HEADER_LIMIT:
            raise FormatError(f"{path}: header length {n} is too large")
        header = json.loads(f.read(n).decode("utf-8"))
    metadata = header.pop("__metadata__", {})
    size = os.path.getsize(path) - 8 - n
    arrays = {}
    for name, entry in header.items():
        shape, (begin, end) = entry["shape"], entry["data_offsets"]
        count = int(np.prod(shape, dtype=np.int64))
        if entry["dtype"] != "F32" or not 0 <= begin <= end <= size or end - begin != 4 * count:
            raise FormatError(f"{path}: tensor {name} is not F32 data of its shape")
        arrays[name] = np.memmap(path, dtype="<f4", mode="r", offset=8 + n + begin,
                                 shape=tuple(shape))
    return arrays, metadata


def _no_duplicates(pairs):
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise ValueError("duplicate key")
    return dict(pairs)


_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r",
            "\t": "\\t"}


def _json_string(s):
    """A JSON string as core/json.c writes it: UTF-8 kept, controls escaped."""
    out = ['"']
    for ch in s:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append("\\u%04x" % ord(ch))
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def encode(tensors, metadata):
    """The bytes of a file: tensors is a list of (name, float32 array) in the
    order to store them; metadata a dict of strings (may be empty)."""
    parts = []
    if metadata:
        keys = sorted(metadata, key=lambda k: k.encode("utf-8"))
        items = ",".join(_json_string(k) + ":" + _json_string(metadata[k]) for k in keys)
        parts.append('"__metadata__":{' + items + "}")
    blobs, offset = [], 0
    for name, array in tensors:
        a = np.ascontiguousarray(array, dtype="<f4")
        if not np.isfinite(a).all():
            raise ValueError(f"tensor {name} has a NaN or infinite value")
        blob = a.tobytes()
        shape = ",".join(str(d) for d in a.shape)
        parts.append(f'{_json_string(name)}:{{"dtype":"F32","shape":[{shape}],'
                     f'"data_offsets":[{offset},{offset + len(blob)}]}}')
        blobs.append(blob)
        offset += len(blob)
    header = ("{" + ",".join(parts) + "}").encode("utf-8")
    header += b" " * (-len(header) % 8)
    return struct.pack("<Q", len(header)) + header + b"".join(blobs)


def write(path, tensors, metadata):
    """Writes encode(tensors, metadata) atomically: a crash never leaves half a file."""
    data = encode(tensors, metadata)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix="." + os.path.basename(path) + ".")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
