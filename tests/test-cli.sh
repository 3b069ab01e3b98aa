#!/bin/bash
# test-cli.sh — end-to-end checks of the aenet command: every error path
# gives one clear "aenet: ..." line and a non-zero status, and the happy
# paths write the right files (size, bit depth, channels, alpha, values
# against an independent reference, tile-size independence, install).
#
# Usage: bash tests/test-cli.sh /path/to/aenet
# Inputs are made here: PNG images and small random models written by
# python3 with the standard library only. Exits 1 if any check failed.
set -euo pipefail

AENET=${1:?usage: test-cli.sh /path/to/aenet}
[[ $AENET == /* ]] || AENET=$PWD/$AENET
[[ -x $AENET ]] || { echo "test-cli: $AENET is not an executable" >&2; exit 1; }
command -v python3 >/dev/null || { echo "test-cli: python3 is needed" >&2; exit 1; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/aenet-cli-XXXXXX")
trap 'rm -rf "$TMP"' EXIT
cd "$TMP"

# Nothing here may touch the real user's model folder, nor find models
# other than the ones made here; messages are untranslated.
export HOME=$TMP/home
export XDG_DATA_HOME=$TMP/home/share
export AENET_MODEL_PATH=
export LC_ALL=C
unset LANGUAGE || true
mkdir -p "$HOME"

checks=0
failures=0
pass () { checks=$((checks + 1)); }
fail () {
  checks=$((checks + 1))
  failures=$((failures + 1))
  echo "FAIL: $*" >&2
}
check () { # check DESCRIPTION COMMAND...: passes when the command succeeds
  local what=$1
  shift
  if "$@"; then pass; else fail "$what"; fi
}

# run COMMAND...: sets STATUS, STDOUT, STDERR without stopping on failure.
run () {
  set +e
  "$@" >"$TMP/stdout" 2>"$TMP/stderr"
  STATUS=$?
  set -e
  STDOUT=$(cat "$TMP/stdout")
  STDERR=$(cat "$TMP/stderr")
}

# expect_error NAME STATUS PATTERN ARGS...: aenet ARGS must exit with STATUS
# ("nonzero" for any failure) and print exactly one line on stderr that
# starts with "aenet: " and matches PATTERN (extended regex, any case).
expect_error () {
  local name=$1 want=$2 pattern=$3
  shift 3
  run "$AENET" "$@"
  if [[ $want == nonzero ]]; then
    [[ $STATUS -ne 0 ]] || { fail "$name: exit status 0, wanted a failure"; return; }
  else
    [[ $STATUS -eq $want ]] || { fail "$name: exit status $STATUS, wanted $want (stderr: $STDERR)"; return; }
  fi
  local lines
  lines=$(printf '%s\n' "$STDERR" | grep -c . || true)
  [[ $lines -eq 1 ]] || { fail "$name: $lines lines on stderr, wanted 1: $STDERR"; return; }
  [[ $STDERR == "aenet: "* ]] || { fail "$name: stderr does not start with 'aenet: ': $STDERR"; return; }
  grep -Eqi -- "$pattern" <<<"$STDERR" || { fail "$name: stderr does not match /$pattern/: $STDERR"; return; }
  pass
}

# expect_ok NAME ARGS...: aenet ARGS must succeed.
expect_ok () {
  local name=$1
  shift
  run "$AENET" "$@"
  if [[ $STATUS -eq 0 ]]; then pass; else fail "$name: exit status $STATUS: $STDERR"; fi
}

# ---- the helper that makes and reads files ----
cat >"$TMP/helper.py" <<'PYEOF'
import json, math, random, struct, sys, zlib

def png_write(path, w, h, nc, bits, pixel):
    """pixel(x, y, c) -> sample in [0, 2**bits - 1]."""
    ctype = {1: 0, 2: 4, 3: 2, 4: 6}[nc]
    raw = bytearray()
    for y in range(h):
        raw.append(0)
        for x in range(w):
            for c in range(nc):
                v = pixel(x, y, c)
                raw += struct.pack(">H", v) if bits == 16 else bytes([v])
    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.write(chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, bits, ctype, 0, 0, 0)))
        f.write(chunk(b"IDAT", zlib.compress(bytes(raw), 6)))
        f.write(chunk(b"IEND", b""))

def png_read(path):
    """Returns (w, h, nc, bits, rows) with rows[y][x*nc + c] as integers."""
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path + ": not a PNG"
    pos, idat, w = 8, b"", None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, bits, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert interlace == 0 and ctype in (0, 2, 4, 6), path + ": unsupported PNG"
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    nc = {0: 1, 4: 2, 2: 3, 6: 4}[ctype]
    bpp = nc * bits // 8
    stride = w * bpp
    raw = zlib.decompress(idat)
    prev = bytearray(stride)
    rows = []
    for y in range(h):
        ft = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if ft == 1:
                line[i] = (line[i] + a) & 255
            elif ft == 2:
                line[i] = (line[i] + b) & 255
            elif ft == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif ft == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
            else:
                assert ft == 0, "bad filter %d" % ft
        prev = line
        if bits == 16:
            rows.append(list(struct.unpack(">%dH" % (w * nc), bytes(line))))
        else:
            rows.append(list(line))
    return w, h, nc, bits, rows

def tiff_write(path, w, h, pixel, icc):
    """A baseline RGB 8-bit TIFF, one uncompressed strip, with an ICC tag."""
    pixels = bytes(pixel(x, y, c) for y in range(h) for x in range(w) for c in range(3))
    entries = []  # (tag, type, count, value bytes)
    entries.append((256, 4, 1, struct.pack("<I", w)))
    entries.append((257, 4, 1, struct.pack("<I", h)))
    entries.append((258, 3, 3, struct.pack("<3H", 8, 8, 8)))
    entries.append((259, 3, 1, struct.pack("<H", 1)))
    entries.append((262, 3, 1, struct.pack("<H", 2)))
    entries.append((273, 4, 1, None))  # strip offset, filled below
    entries.append((277, 3, 1, struct.pack("<H", 3)))
    entries.append((278, 4, 1, struct.pack("<I", h)))
    entries.append((279, 4, 1, struct.pack("<I", len(pixels))))
    entries.append((284, 3, 1, struct.pack("<H", 1)))
    entries.append((34675, 7, len(icc), icc))
    ifd_size = 2 + 12 * len(entries) + 4
    extra = bytearray()
    base = 8 + ifd_size
    strip_offset = base  # pixels first, then the long values
    extra += pixels
    ifd = bytearray(struct.pack("<H", len(entries)))
    for tag, kind, count, value in entries:
        if value is None:
            value = struct.pack("<I", strip_offset)
        if len(value) <= 4:
            ifd += struct.pack("<HHI", tag, kind, count) + value + b"\0" * (4 - len(value))
        else:
            if len(extra) % 2:
                extra += b"\0"
            ifd += struct.pack("<HHII", tag, kind, count, base + len(extra))
            extra += value
    ifd += struct.pack("<I", 0)
    with open(path, "wb") as f:
        f.write(b"II" + struct.pack("<HI", 42, 8) + bytes(ifd) + bytes(extra))

def tiff_tag(path, wanted):
    """The raw bytes of a tag in the first IFD of a TIFF, or None."""
    data = open(path, "rb").read()
    e = "<" if data[:2] == b"II" else ">"
    assert struct.unpack(e + "H", data[2:4])[0] == 42, path + ": not a TIFF"
    ifd = struct.unpack(e + "I", data[4:8])[0]
    sizes = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8}
    for i in range(struct.unpack(e + "H", data[ifd:ifd + 2])[0]):
        tag, kind, count = struct.unpack(e + "HHI", data[ifd + 2 + 12 * i:ifd + 10 + 12 * i])
        if tag != wanted:
            continue
        n = sizes[kind] * count
        at = ifd + 10 + 12 * i
        if n > 4:
            at = struct.unpack(e + "I", data[at:at + 4])[0]
        return data[at:at + n]
    return None

# A made-up ICC profile: the command must carry it over byte for byte.
FAKE_ICC = b"\0\0\0\x84" + bytes(range(32)) + b"acsp" + bytes(range(88)) + b"\0\0\0\0"

# ---- models ----
GRAPHS = {
    # a residual denoiser: out = x + conv(relu(conv(x)))
    "denoise": [{"op": "input", "channels": 3},
                {"op": "conv", "out": 8, "k": 3, "bias": True}, {"op": "relu"},
                {"op": "conv", "out": 3, "k": 3, "bias": True},
                {"op": "add", "in": [0, 3]}],
    # the same at half resolution: needs even-aligned tiles
    "aligned": [{"op": "input", "channels": 3}, {"op": "unshuffle", "factor": 2},
                {"op": "conv", "out": 16, "k": 3, "bias": True}, {"op": "relu"},
                {"op": "conv", "out": 12, "k": 3, "bias": True},
                {"op": "shuffle", "factor": 2}, {"op": "add", "in": [0, 5]}],
    # takes a noise level
    "noise": [{"op": "input", "channels": 3}, {"op": "noise_level"},
              {"op": "concat", "in": [0, 1]},
              {"op": "conv", "out": 8, "k": 3, "bias": True}, {"op": "relu"},
              {"op": "conv", "out": 3, "k": 3, "bias": True},
              {"op": "add", "in": [0, 5]}],
    # ×2: bicubic plus a learned residual
    "upscale": [{"op": "input", "channels": 3},
                {"op": "conv", "out": 12, "k": 3, "bias": True},
                {"op": "shuffle", "factor": 2},
                {"op": "bicubic", "in": [0], "factor": 2},
                {"op": "add", "in": [2, 3]}],
}

def graph_params(graph):
    """[(name, shape)] in node order, following the channel counts."""
    chans, params = [], []
    for i, node in enumerate(graph):
        op = node["op"]
        src = node.get("in", [i - 1])
        if op == "input":
            c = node["channels"]
        elif op == "noise_level":
            c = 1
        elif op == "concat":
            c = sum(chans[j] for j in src)
        elif op == "conv":
            cin = chans[src[0]]
            c = node["out"]
            params.append(("nodes.%d.weight" % i, [c, cin, node["k"], node["k"]]))
            params.append(("nodes.%d.bias" % i, [c]))
        elif op == "unshuffle":
            c = chans[src[0]] * node["factor"] ** 2
        elif op == "shuffle":
            c = chans[src[0]] // node["factor"] ** 2
        else:
            c = chans[src[0]]
        chans.append(c)
    return params

def model_weights(kind, seed):
    rng = random.Random(seed)
    out = {}
    for name, shape in graph_params(GRAPHS[kind]):
        n = 1
        for s in shape:
            n *= s
        scale = 0.02 if name.endswith("bias") else 0.15
        out[name] = (shape, [rng.uniform(-scale, scale) for _ in range(n)])
    return out

def model_write(path, kind, seed):
    task = "upscale" if kind == "upscale" else "denoise"
    meta = {"aenet.format": "1", "aenet.task": task,
            "aenet.scale": "2" if task == "upscale" else "1",
            "aenet.graph": json.dumps(GRAPHS[kind]),
            "name": "test-" + kind, "description": "random weights for test-cli.sh"}
    header, blob = {"__metadata__": meta}, b""
    for name, (shape, values) in model_weights(kind, seed).items():
        data = struct.pack("<%df" % len(values), *values)
        header[name] = {"dtype": "F32", "shape": shape,
                        "data_offsets": [len(blob), len(blob) + len(data)]}
        blob += data
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + blob)

# ---- a reference forward pass of the "denoise" graph, in plain Python ----
def conv(planes, h, w, weight, bias, cout, cin):
    """Zero-padded 3×3 convolution of cin (h*w) planes."""
    out = []
    for o in range(cout):
        acc = [bias[o]] * (h * w)
        for i in range(cin):
            src = planes[i]
            for ky in range(3):
                for kx in range(3):
                    k = weight[((o * cin + i) * 3 + ky) * 3 + kx]
                    dy, dx = ky - 1, kx - 1
                    for y in range(max(0, -dy), min(h, h - dy)):
                        base, sbase = y * w, (y + dy) * w + dx
                        for x in range(max(0, -dx), min(w, w - dx)):
                            acc[base + x] += k * src[sbase + x]
        out.append(acc)
    return out

def reference_denoise(in_path, seed):
    """The denoise model over the whole image with half-sample symmetric
    edges (reach 2), rounded like the output file; returns rows."""
    w, h, nc, bits, rows = png_read(in_path)
    maxv = (1 << bits) - 1
    colour = 3 if nc >= 3 else 1
    m = model_weights("denoise", seed)
    pad = 2
    def mirror(i, n):
        while i < 0 or i >= n:
            i = -1 - i if i < 0 else 2 * n - 1 - i
        return i
    pw, ph = w + 2 * pad, h + 2 * pad
    planes = []
    for c in range(3):
        cc = c if colour == 3 else 0   # gray goes in as three equal channels
        planes.append([rows[mirror(y - pad, h)][mirror(x - pad, w) * nc + cc] / maxv
                       for y in range(ph) for x in range(pw)])
    w1, b1 = m["nodes.1.weight"][1], m["nodes.1.bias"][1]
    w3, b3 = m["nodes.3.weight"][1], m["nodes.3.bias"][1]
    hid = [[max(0.0, v) for v in p] for p in conv(planes, ph, pw, w1, b1, 8, 3)]
    res = conv(hid, ph, pw, w3, b3, 3, 8)
    out = [[planes[c][i] + res[c][i] for i in range(ph * pw)] for c in range(3)]
    result = []
    for y in range(h):
        row = list(rows[y])
        for x in range(w):
            i = (y + pad) * pw + x + pad
            vals = [out[c][i] for c in range(3)]
            if colour == 1:
                vals = [sum(vals) / 3]
            for c in range(colour):
                v = min(1.0, max(0.0, vals[c]))
                row[x * nc + c] = int(v * maxv + 0.5)
        result.append(row)
    return result

def max_diff(rows_a, rows_b):
    return max(abs(a - b) for ra, rb in zip(rows_a, rows_b) for a, b in zip(ra, rb))

def noisy_pixel(w, h, nc, bits, seed):
    rng = random.Random(seed)
    maxv = (1 << bits) - 1
    noise = [rng.gauss(0, 0.06) for _ in range(w * h * nc)]
    def pixel(x, y, c):
        if nc in (2, 4) and c == nc - 1:   # alpha: a pattern to keep exactly
            return (x * 37 + y * 11) % (maxv + 1)
        base = 0.5 + 0.35 * math.sin(x / 7.0 + c) * math.cos(y / 5.0)
        v = base + noise[(y * w + x) * nc + c]
        return int(min(1.0, max(0.0, v)) * maxv + 0.5)
    return pixel

cmd, args = sys.argv[1], sys.argv[2:]
if cmd == "png":            # png PATH W H NC BITS SEED
    path, w, h, nc, bits, seed = args[0], *map(int, args[1:])
    png_write(path, w, h, nc, bits, noisy_pixel(w, h, nc, bits, seed))
elif cmd == "bigpng":       # bigpng PATH W H: fast, for the cancel check
    path, w, h = args[0], int(args[1]), int(args[2])
    rows = bytearray()
    line = bytes((x * 7) & 255 for x in range(w * 3))
    for y in range(h):
        rows += b"\0" + line[y % 97:] + line[:y % 97]
    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(bytes(rows), 1)) + chunk(b"IEND", b""))
elif cmd == "tiff-icc":     # tiff-icc PATH W H SEED: RGB TIFF with an ICC profile
    path, w, h, seed = args[0], *map(int, args[1:])
    tiff_write(path, w, h, noisy_pixel(w, h, 3, 8, seed), FAKE_ICC)
elif cmd == "has-icc":      # has-icc PATH: exit 0 when the TIFF has FAKE_ICC
    sys.exit(0 if tiff_tag(args[0], 34675) == FAKE_ICC else 1)
elif cmd == "model":        # model PATH KIND SEED
    model_write(args[0], args[1], int(args[2]))
elif cmd == "describe":     # describe PATH -> "W H NC BITS"
    w, h, nc, bits, _ = png_read(args[0])
    print(w, h, nc, bits)
elif cmd == "maxdiff":      # maxdiff A B -> largest sample difference
    a, b = png_read(args[0]), png_read(args[1])
    assert a[:4] == b[:4], "different shapes: %s vs %s" % (a[:4], b[:4])
    print(max_diff(a[4], b[4]))
elif cmd == "alpha-equal":  # alpha-equal A B: exit 0 when alpha is identical
    a, b = png_read(args[0]), png_read(args[1])
    nc = a[2]
    assert a[:4] == b[:4] and nc in (2, 4)
    same = all(ra[i] == rb[i] for ra, rb in zip(a[4], b[4]) for i in range(nc - 1, len(ra), nc))
    sys.exit(0 if same else 1)
elif cmd == "refdiff":      # refdiff IN OUT SEED -> max difference from the reference
    print(max_diff(reference_denoise(args[0], int(args[2])), png_read(args[1])[4]))
elif cmd == "json":         # json FILE KEY...: check keys of a JSON object
    obj = json.load(open(args[0]))
    missing = [k for k in args[1:] if k not in obj]
    assert not missing, "missing keys %s" % missing
    assert obj["runs"] and all(r["median_seconds"] > 0 and r["gflops"] > 0 for r in obj["runs"])
    assert obj["kernel"]["gflops_1_thread"] > 0
else:
    sys.exit("unknown helper command " + cmd)
PYEOF
py () { python3 "$TMP/helper.py" "$@"; }

# ---- inputs ----
py png rgb8.png 37 29 3 8 1
py png rgb16.png 40 31 3 16 2
py png rgba8.png 33 27 4 8 3
py png gray8.png 35 30 1 8 4
py png rgba16.png 30 20 4 16 7
py png big.png 203 157 3 8 5
py tiff-icc icc.tif 41 33 6
py model denoise.safetensors denoise 11
py model aligned.safetensors aligned 12
py model noise.safetensors noise 13
py model upscale.safetensors upscale 14
cp rgb8.png rgb8-orig.png
head -c 300 rgb8.png >truncated.png
head -c 2000 /dev/urandom >garbage.png
head -c 200 denoise.safetensors >truncated.safetensors
printf 'not a model at all, just text that is long enough...' >garbage.safetensors

# ---- the program itself ----
run "$AENET" --help
check "--help exits 0" test "$STATUS" -eq 0
for cmd in info install denoise upscale bench train eval degrade; do
  check "--help lists $cmd" grep -Eq "^ +$cmd " <<<"$STDOUT"
done
run "$AENET" --version
check "--version prints the version" grep -Eq '^aenet [0-9]+\.[0-9]+' <<<"$STDOUT"
run "$AENET" help denoise
check "help denoise shows --sigma" grep -q -- "--sigma" <<<"$STDOUT"
run "$AENET" upscale --help
check "upscale --help shows --scale" grep -q -- "--scale" <<<"$STDOUT"
run "$AENET"
check "no command: usage error 2" test "$STATUS" -eq 2
expect_error "unknown command" 2 "unknown command.*frobnicate" frobnicate
expect_error "help for an unknown command" 2 "unknown command" help frobnicate
expect_error "unknown option" 2 "unknown option" denoise --frobnicate rgb8.png out.png

# ---- usage errors ----
expect_error "denoise without files" 2 "input and an output" denoise
expect_error "denoise with one file" 2 "input and an output" denoise rgb8.png
expect_error "denoise with three files" 2 "one input and one output" denoise a.png b.png c.png
expect_error "info without a model" 2 "needs a MODEL" info
expect_error "install without a model" 2 "needs a MODEL" install
for bad in abc -1 75.5 1e9 nan ""; do
  expect_error "--sigma '$bad'" 2 "--sigma must be" denoise -m denoise.safetensors --sigma "$bad" rgb8.png out.png
done
for bad in -5 3 1.5 abc 100000; do
  expect_error "--tile '$bad'" 2 "tile" denoise -m denoise.safetensors --tile "$bad" rgb8.png out.png
done
expect_error "--threads -1" 2 "--threads" denoise -m denoise.safetensors --threads -1 rgb8.png out.png
expect_error "--scale 7" 2 "--scale must be a number from 2 to 4" upscale -m upscale.safetensors --scale 7 rgb8.png out.png
expect_error "--scale 3 with a x2 model" 2 "enlarges 2x, not 3x" upscale -m upscale.safetensors --scale 3 rgb8.png out.png
# The extension is checked before anything else: IN does not even exist.
expect_error "unsupported OUT extension" 2 "bmp|extension|type" denoise -m denoise.safetensors missing.png out.bmp
check "no .bmp written" test ! -e out.bmp
expect_error "OUT is IN" 2 "is the input" denoise -m denoise.safetensors rgb8.png rgb8.png
expect_error "OUT is IN by another path" 2 "is the input" denoise -m denoise.safetensors rgb8.png ./../"$(basename "$TMP")"/rgb8.png
check "IN unchanged after OUT == IN" cmp -s rgb8.png rgb8-orig.png
expect_error "upscale model given to denoise" 2 "task .upscale., not for .denoise." denoise -m upscale.safetensors rgb8.png out.png
expect_error "denoise model given to upscale" 2 "task .denoise., not for .upscale." upscale -m denoise.safetensors rgb8.png out.png
expect_error "bench --size bad" 2 "--size" bench -m denoise.safetensors --size 12by3
expect_error "bench --repeat 0" 2 "--repeat" bench -m denoise.safetensors --repeat 0

# ---- runtime errors ----
expect_error "missing IN" 1 "missing\.png" denoise -m denoise.safetensors missing.png out.png
expect_error "truncated image" 1 "truncated\.png" denoise -m denoise.safetensors truncated.png out.png
expect_error "garbage image" 1 "garbage\.png" denoise -m denoise.safetensors garbage.png out.png
expect_error "truncated model" 1 "truncated\.safetensors" denoise -m truncated.safetensors rgb8.png out.png
expect_error "garbage model" 1 "garbage\.safetensors" denoise -m garbage.safetensors rgb8.png out.png
expect_error "missing model" 1 "no-such-model" denoise -m no-such-model rgb8.png out.png
expect_error "info of a corrupt model" 1 "truncated\.safetensors" info truncated.safetensors
check "no output after the errors" test ! -e out.png
expect_error "unwritable OUT" 1 "no-such-dir" denoise -m denoise.safetensors rgb8.png no-such-dir/out.png

# ---- happy paths ----
expect_ok "denoise 8-bit RGB" denoise -m denoise.safetensors rgb8.png d-rgb8.png
check "denoise prints what it wrote" grep -Eq "Wrote d-rgb8.png \(37x29, 8-bit RGB\)" <<<"$STDOUT"
check "denoise: nothing on stderr" test -z "$STDERR"
check "denoise 8-bit RGB keeps the shape" test "$(py describe d-rgb8.png)" = "37 29 3 8"
d=$(py refdiff rgb8.png d-rgb8.png 11)
check "denoise 8-bit RGB matches the reference (max diff $d)" test "$d" -le 1

expect_ok "denoise 16-bit RGB" denoise -m denoise.safetensors rgb16.png d-rgb16.png
check "16-bit stays 16-bit" test "$(py describe d-rgb16.png)" = "40 31 3 16"
d=$(py refdiff rgb16.png d-rgb16.png 11)
check "denoise 16-bit matches the reference (max diff $d)" test "$d" -le 2

expect_ok "denoise RGBA" denoise -m denoise.safetensors rgba8.png d-rgba8.png
check "RGBA keeps 4 channels" test "$(py describe d-rgba8.png)" = "33 27 4 8"
check "RGBA keeps alpha exactly" py alpha-equal rgba8.png d-rgba8.png
d=$(py refdiff rgba8.png d-rgba8.png 11)
check "denoise RGBA colour matches the reference (max diff $d)" test "$d" -le 1

expect_ok "denoise gray" denoise -m denoise.safetensors gray8.png d-gray8.png
check "gray stays gray" test "$(py describe d-gray8.png)" = "35 30 1 8"
d=$(py refdiff gray8.png d-gray8.png 11)
check "denoise gray matches the reference (max diff $d)" test "$d" -le 1

expect_ok "denoise to TIFF" denoise -m denoise.safetensors rgb8.png d-rgb8.tif
check "TIFF written" test -s d-rgb8.tif
expect_ok "denoise to JPEG" denoise -m denoise.safetensors rgb8.png d-rgb8.jpg
check "JPEG written" test -s d-rgb8.jpg
expect_ok "16-bit RGBA to JPEG" denoise -m denoise.safetensors rgba16.png d-rgba16.jpg
check "JPEG: the 8-bit note" grep -q "8-bit" <<<"$STDERR"
check "JPEG: the alpha note" grep -q "no alpha" <<<"$STDERR"
check "JPEG: what was written" grep -q "8-bit RGB)" <<<"$STDOUT"
expect_ok "16-bit RGBA to TIFF" denoise -m denoise.safetensors rgba16.png d-rgba16.tif
check "TIFF: what was written" grep -q "16-bit RGBA)" <<<"$STDOUT"
expect_ok "a TIFF as input" denoise -m denoise.safetensors d-rgb8.tif d-tif.png
check "TIFF input keeps the shape" test "$(py describe d-tif.png)" = "37 29 3 8"
check "the test's TIFF has its ICC profile" py has-icc icc.tif
expect_ok "denoise a TIFF with an ICC profile" denoise -m denoise.safetensors icc.tif d-icc.tif
check "the ICC profile is kept" py has-icc d-icc.tif
expect_ok "upscale a TIFF with an ICC profile" upscale -m upscale.safetensors icc.tif u-icc.tif
check "the ICC profile is kept by upscale" py has-icc u-icc.tif

# Tiles: the result must not depend on the tile size or thread count.
expect_ok "tile 16" denoise -m denoise.safetensors --tile 16 --threads 2 big.png t16.png
expect_ok "tile 64" denoise -m denoise.safetensors --tile 64 --threads 2 big.png t64.png
expect_ok "big tile" denoise -m denoise.safetensors --tile 1024 --threads 1 big.png tbig.png
expect_ok "memory budget" denoise -m denoise.safetensors --memory 1 big.png tmem.png
for t in t16 t64 tmem; do
  d=$(py maxdiff "$t.png" tbig.png)
  check "$t equals the big tile (max diff $d)" test "$d" -le 1
done
# Passes: the mean of runs on mirror images, still the same for any tile.
expect_ok "2 passes, tile 16" denoise -m denoise.safetensors --passes 2 --tile 16 --threads 2 big.png p16.png
expect_ok "2 passes, big tile" denoise -m denoise.safetensors --passes 2 --tile 1024 big.png pbig.png
d=$(py maxdiff p16.png pbig.png)
check "2 passes: tile 16 equals the big tile (max diff $d)" test "$d" -le 1
d=$(py maxdiff pbig.png tbig.png)
check "2 passes differ from one (max diff $d)" test "$d" -ge 1
expect_error "--passes 5" 2 "--passes must be from 1 to 4" denoise -m denoise.safetensors --passes 5 big.png p5.png
check "no output after --passes 5" test ! -e p5.png
expect_ok "aligned model, tile 64" denoise -m aligned.safetensors --tile 64 big.png a64.png
expect_ok "aligned model, big tile" denoise -m aligned.safetensors --tile 1024 big.png abig.png
d=$(py maxdiff a64.png abig.png)
check "aligned model: tile 64 equals the big tile (max diff $d)" test "$d" -le 1
check "aligned model keeps odd sizes" test "$(py describe a64.png)" = "203 157 3 8"

expect_ok "upscale x2" upscale -m upscale.safetensors rgb8.png u-rgb8.png
check "upscale x2 doubles the size" test "$(py describe u-rgb8.png)" = "74 58 3 8"
expect_ok "upscale x2 RGBA with --scale 2" upscale -m upscale.safetensors --scale 2 rgba8.png u-rgba8.png
check "upscale RGBA keeps 4 channels" test "$(py describe u-rgba8.png)" = "66 54 4 8"
expect_ok "upscale tile 16" upscale -m upscale.safetensors --tile 16 big.png u16.png
expect_ok "upscale big tile" upscale -m upscale.safetensors --tile 1024 big.png ubig.png
d=$(py maxdiff u16.png ubig.png)
check "upscale: tile 16 equals the big tile (max diff $d)" test "$d" -le 1

# Noise level: estimated by default and with auto, set with --sigma.
expect_ok "noise model, default sigma" denoise -m noise.safetensors big.png n-auto.png
check "the estimate is printed" grep -Eq "Estimated noise level: sigma [0-9]+(\.[0-9])?" <<<"$STDOUT"
expect_ok "noise model, --sigma auto" denoise -m noise.safetensors --sigma auto big.png n-auto2.png
check "--sigma auto equals the default" cmp -s n-auto.png n-auto2.png
expect_ok "noise model, --sigma 0" denoise -m noise.safetensors --sigma 0 rgb8.png n0.png
check "no estimate with an explicit sigma" test -z "$(grep -i estimated <<<"$STDOUT" || true)"
expect_ok "noise model, --sigma 60" denoise -m noise.safetensors --sigma 60 rgb8.png n60.png
d=$(py maxdiff n0.png n60.png)
check "--sigma changes the result (max diff $d)" test "$d" -ge 1
expect_ok "--sigma on a model without noise input" denoise -m denoise.safetensors --sigma 10 rgb8.png s10.png
check "the ignored --sigma is noted" grep -qi "ignored" <<<"$STDERR"
check "the ignored --sigma changes nothing" cmp -s s10.png d-rgb8.png

# ---- info, install, -m NAME ----
expect_ok "info" info denoise.safetensors
check "info prints the task" grep -Eq "^Task: +denoise" <<<"$STDOUT"
check "info prints the receptive field" grep -Eq "^Receptive field: +2 " <<<"$STDOUT"
check "info prints metadata" grep -q "random weights for test-cli.sh" <<<"$STDOUT"
check "info hides the graph" test -z "$(grep -F '"op"' <<<"$STDOUT" || true)"
expect_ok "info --graph" info --graph upscale.safetensors
check "info --graph prints the graph" grep -qF '"bicubic"' <<<"$STDOUT"
check "info of an upscaler" grep -Eq "^Scale: +2" <<<"$STDOUT"
run "$AENET" info noise.safetensors
check "info: noise level input" grep -Eq "^Noise level input: +yes" <<<"$STDOUT"

userdir=$XDG_DATA_HOME/aenet/models
expect_error "-m NAME before install" 1 "mymodel" denoise -m mymodel rgb8.png out.png
expect_error "noise estimate on a tiny image" 1 "estimate.*--sigma" denoise -m noise.safetensors rgb8.png out.png
expect_ok "install" install denoise.safetensors
check "install prints where it went" grep -qF "$userdir/denoise.safetensors" <<<"$STDOUT"
check "installed file is a copy" cmp -s denoise.safetensors "$userdir/denoise.safetensors"
check "install leaves no temporary files" test "$(ls -A "$userdir" | wc -l)" -eq 1
expect_error "install twice" 1 "already exists.*--force" install denoise.safetensors
cp noise.safetensors denoise-v2.safetensors
mkdir -p v2 && cp noise.safetensors v2/denoise.safetensors
expect_ok "install --force" install --force v2/denoise.safetensors
check "install --force replaced it" cmp -s noise.safetensors "$userdir/denoise.safetensors"
expect_ok "install again the first" install --force denoise.safetensors
expect_error "install a corrupt model" 1 "truncated\.safetensors" install truncated.safetensors
check "nothing installed from a corrupt model" test ! -e "$userdir/truncated.safetensors"
check "still no temporary files" test "$(ls -A "$userdir" | wc -l)" -eq 1
expect_ok "-m NAME finds the installed model" denoise -m denoise rgb8.png m-name.png
check "-m NAME gives the same result" cmp -s m-name.png d-rgb8.png
expect_ok "-m NAME.safetensors too" denoise -m denoise.safetensors rgb8.png m-name2.png
expect_ok "info NAME" info denoise
check "info NAME prints the task" grep -Eq "^Task: +denoise" <<<"$STDOUT"
mkdir -p other && (cd other && run "$AENET" denoise -m denoise ../rgb8.png ../m-name3.png)
check "-m NAME works from another folder" cmp -s m-name3.png d-rgb8.png

# ---- batch: -o OUTDIR IN... ----
mkdir -p batch-in
cp rgb8.png batch-in/a.png
cp rgba8.png batch-in/b.png
cp garbage.png batch-in/c.png
printf 'not an image\n' >batch-in/notes.txt
run "$AENET" denoise -m denoise.safetensors -o batch-out batch-in gray8.png
check "batch: a failed file gives exit 1 (got $STATUS)" test "$STATUS" -eq 1
check "batch: names kept" test -f batch-out/a.png -a -f batch-out/b.png -a -f batch-out/gray8.png
check "batch: the bad file is named" grep -q "c\.png" <<<"$STDERR"
check "batch: the bad file is not written" test ! -e batch-out/c.png
check "batch: other files are not taken" test ! -e batch-out/notes.txt
check "batch: the same result as IN OUT" cmp -s batch-out/a.png d-rgb8.png
check "batch: the count" grep -q "3 of 4 files done" <<<"$STDOUT"
expect_ok "batch --format jpg --quality 80" denoise -m denoise.safetensors -o batch-jpg --format jpg --quality 80 rgb8.png batch-in/a.png
check "batch --format: the type from --format" test -f batch-jpg/rgb8.jpg -a -f batch-jpg/a.jpg
expect_error "--format with IN OUT" 2 "format" denoise -m denoise.safetensors --format jpg rgb8.png out.png
expect_error "--format bmp" 2 "--format must be" denoise -m denoise.safetensors -o x --format bmp rgb8.png
expect_error "--quality 0 or 101" 2 "--quality must be" denoise -m denoise.safetensors --quality 101 rgb8.png q.jpg
expect_error "-o without inputs" 2 "needs input files" denoise -m denoise.safetensors -o x

# ---- messages in any locale ----
# LC_ALL=C (as in this whole script): ASCII look-alikes, never "?".
expect_error "C locale: quotes" 2 '"frobnicate"' frobnicate
check "C locale: no question marks" test -z "$(tr -d -c '?' <<<"$STDERR")"
if locale -a 2>/dev/null | grep -qi '^c\.utf-\?8$'; then
  run env LC_ALL=C.UTF-8 "$AENET" frobnicate
  check "UTF-8 locale: curly quotes" grep -q '“frobnicate”' <<<"$STDERR"
fi
run env -u LC_ALL -u LANG -u LANGUAGE "$AENET" denoise --sigma 99 rgb8.png out.png
check "LANG unset: ASCII quotes" grep -q '"99"' <<<"$STDERR"
check "LANG unset: no question marks" test -z "$(tr -d -c '?' <<<"$STDERR")"
run env -u LC_ALL -u LANG -u LANGUAGE "$AENET" --help
check "LANG unset: the usage's ellipsis" grep -q 'OPTION\.\.\.' <<<"$STDOUT"

# ---- bench ----
expect_ok "bench" bench -m denoise.safetensors --size 64x48 --repeat 1 --threads 2
check "bench prints GFLOPS" grep -q "GFLOPS" <<<"$STDOUT"
check "bench prints the speed-up" grep -q "Speed-up" <<<"$STDOUT"
check "bench prints the peak memory" grep -q "Peak memory" <<<"$STDOUT"
expect_ok "bench --json" bench -m denoise.safetensors --size 64x48 --repeat 1 --threads 1 --json
printf '%s\n' "$STDOUT" >bench.json
check "bench --json is valid and complete" py json bench.json model width height runs speedup kernel peak_rss_bytes

# ---- training data for other trainers (tools/torch) ----
differ () { ! cmp -s "$1" "$2"; }
# usage_error NAME PATTERN ARGS...: status 2 and PATTERN on stderr (the
# training commands add a line pointing to --help).
usage_error () {
  local name=$1 pattern=$2
  shift 2
  run "$AENET" "$@"
  check "$name: exit status 2 (got $STATUS)" test "$STATUS" -eq 2
  check "$name: says /$pattern/" grep -Eq -- "$pattern" <<<"$STDERR"
}
mkdir -p photos
for i in 1 2 3; do py png "photos/p$i.png" 120 100 3 8 $((20 + i)); done
pairs=(--data photos --samples 5 --shard-size 2 --patch 32)
expect_ok "degrade" degrade --task denoise "${pairs[@]}" --seed 3 --out shards-a
check "degrade: 5 pairs in shards of 2 are 3 shards" \
  test -e shards-a/shard-00002.safetensors -a ! -e shards-a/shard-00003.safetensors
expect_ok "degrade again" degrade --task denoise "${pairs[@]}" --seed 3 --out shards-b
check "degrade: the same seed gives the same pairs" \
  cmp -s shards-a/shard-00002.safetensors shards-b/shard-00002.safetensors
expect_ok "degrade, another seed" degrade --task denoise "${pairs[@]}" --seed 4 --out shards-c
check "degrade: another seed gives other pairs" \
  differ shards-a/shard-00000.safetensors shards-c/shard-00000.safetensors
expect_ok "degrade --photo, upscaling" degrade --task upscale --scale 2 --photo "${pairs[@]}" \
  --out shards-up
check "degrade: a shard holds input, target and sigma" python3 -c '
import json, struct, sys
f = open("shards-up/shard-00000.safetensors", "rb")
h = json.loads(f.read(struct.unpack("<Q", f.read(8))[0]))
assert h["input"]["shape"] == [2, 3, 32, 32] and h["target"]["shape"] == [2, 3, 64, 64]
assert h["sigma"]["shape"] == [2] and h["__metadata__"]["aenet.shard"] == "1"'
usage_error "degrade without --samples" "samples" degrade --task denoise --data photos --out x
usage_error "degrade --photo with --sigma" "photo" degrade --task denoise --photo --sigma 5 \
  "${pairs[@]}" --out x
usage_error "degrade, two photo mixes" "one of --photo" degrade --task denoise --photo \
  --photo-grain "${pairs[@]}" --out x
expect_ok "degrade --photo-grain" degrade --task denoise --photo-grain "${pairs[@]}" --out shards-g
check "degrade --photo-grain: the shards record the camera-grain mix" python3 -c '
import json, struct
def meta(p):
    f = open(p, "rb")
    return json.loads(f.read(struct.unpack("<Q", f.read(8))[0]))["__metadata__"]
assert meta("shards-g/shard-00000.safetensors")["photo"] == "3"'
expect_ok "degrade --photo-mottle" degrade --task denoise --photo-mottle "${pairs[@]}" --out shards-m
check "degrade --photo-mottle: the shards record the mottle mix" python3 -c '
import json, struct
f = open("shards-m/shard-00000.safetensors", "rb")
assert json.loads(f.read(struct.unpack("<Q", f.read(8))[0]))["__metadata__"]["photo"] == "4"'
expect_ok "eval --save-inputs" eval -m denoise.safetensors --data photos --sigma 10 --threads 1 \
  --save-inputs val.safetensors
check "eval --save-inputs: one input and target per image" python3 -c '
import json, struct
f = open("val.safetensors", "rb")
h = json.loads(f.read(struct.unpack("<Q", f.read(8))[0]))
assert h["2.input"]["shape"] == [3, 100, 120] and "2.target" in h and "3.input" not in h
assert h["__metadata__"]["2.sigma"] == "10" and h["__metadata__"]["task"] == "denoise"'
run "$AENET" info --arch unet-x2 --graph
check "info --arch shows a preset's graph" grep -q '"op": "bicubic"' <<<"$STDOUT"
expect_error "info --arch and a MODEL" 2 "either a MODEL or --arch" info --arch unet-x2 \
  denoise.safetensors
expect_error "info --arch, unknown" 1 "unknown architecture" info --arch no-such-net

# ---- cancelling ----
# Only decisive when the run is still going when the signal arrives.
py bigpng huge.png 3000 2000
set +e
"$AENET" denoise -m aligned.safetensors --threads 1 --tile 256 huge.png huge-out.png \
  >cancel.out 2>cancel.err &
pid=$!
sleep 0.7
kill -INT "$pid" 2>/dev/null
wait "$pid"
status=$?
set -e
if [[ $status -eq 0 ]]; then
  echo "note: the run finished before SIGINT; cancel not checked" >&2
else
  check "SIGINT: exit 130 (got $status)" test "$status" -eq 130
  check "SIGINT: says it was cancelled" grep -q "ancelled; huge-out.png was not written" cancel.err
  check "SIGINT: no output file" test ! -e huge-out.png
fi

echo "test-cli: $((checks - failures)) of $checks checks passed"
if [[ $failures -gt 0 ]]; then
  echo "test-cli: $failures FAILED" >&2
  exit 1
fi
