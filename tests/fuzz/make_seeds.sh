#!/bin/sh
# make_seeds.sh BUILD — writes the fuzz targets' seed corpora into
# tests/fuzz/seeds/ (checked in; run this only to change them). Needs
# python3, a C compiler with libstb-dev, and BUILD/tg for the checkpoints.
# Seeds are small valid inputs of every kind a reader accepts, plus a few
# near misses, so the fuzzer starts from inside each format.
set -eu
cd "$(dirname "$0")"
build=$(cd ../.. && cd "${1:-build}" && pwd)
rm -rf seeds
mkdir -p seeds/idx seeds/dataset seeds/image seeds/checkpoint seeds/cli seeds/safetensors
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# IDX files and dataset directories (raw and gzip), and a 16-image
# 28x28 data set to train the checkpoints on.
python3 - "$work" <<'PY'
import gzip, struct, sys
work = sys.argv[1]
def idx(dims, data):
    return bytes([0, 0, 8, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + bytes(data)
def gz(b):
    return gzip.compress(b, mtime=0)
def put(name, b):
    open(name, "wb").write(b)
images = idx([3, 2, 2], range(12))
labels = idx([3], [0, 9, 4])
put("seeds/idx/images-raw", images)
put("seeds/idx/labels-raw", labels)
put("seeds/idx/images-gz", gz(images))
put("seeds/idx/labels-gz", gz(labels))
put("seeds/idx/vector-4d", idx([1, 1, 2, 3], range(6)))
put("seeds/idx/truncated", images[:-3])
put("seeds/idx/type-float", bytes([0, 0, 0x0d, 1, 0, 0, 0, 1, 0, 0, 0, 0]))
def dataset(img, lab):
    return struct.pack("<I", len(img)) + img + lab
put("seeds/dataset/raw", dataset(images, labels))
put("seeds/dataset/gz", dataset(gz(images), gz(labels)))
put("seeds/dataset/count-mismatch", dataset(images, idx([2], [1, 2])))
put("seeds/dataset/bad-label", dataset(images, idx([3], [1, 2, 10])))
n = 16
pixels = [(i * 37 + k * 11) % 256 for i in range(n) for k in range(28 * 28)]
for split in ("train", "t10k"):
    put(f"{work}/{split}-images-idx3-ubyte", idx([n, 28, 28], pixels))
    put(f"{work}/{split}-labels-idx1-ubyte", idx([n], [i % 10 for i in range(n)]))
PY

# Images in every format tg reads: through stb_image_write, and by hand.
cat > "$work/images.c" <<'C'
#include <stb_image_write.h>
int main(void)
{
    unsigned char grey[6 * 5], rgba[6 * 5 * 4];
    for (int i = 0; i < 30; i++) {
        grey[i] = (unsigned char)(i * 8);
        for (int c = 0; c < 4; c++) rgba[4 * i + c] = (unsigned char)(c == 3 ? (i % 2) * 255 : i * 8 + c * 40);
    }
    return !(stbi_write_png("seeds/image/grey.png", 6, 5, 1, grey, 6) &&
             stbi_write_png("seeds/image/rgba.png", 6, 5, 4, rgba, 24) &&
             stbi_write_bmp("seeds/image/grey.bmp", 6, 5, 1, grey) &&
             stbi_write_bmp("seeds/image/rgba.bmp", 6, 5, 4, rgba) &&
             stbi_write_jpg("seeds/image/grey.jpg", 6, 5, 1, grey, 90) &&
             stbi_write_jpg("seeds/image/colour.jpg", 6, 5, 3, rgba, 50));
}
C
${CC:-cc} $(pkg-config --cflags stb 2>/dev/null || echo -I/usr/include/stb) -o "$work/images" "$work/images.c" -lstb -lm
"$work/images"
printf 'P5\n4 3\n255\n\000\100\200\377\000\100\200\377\000\100\200\377' > seeds/image/grey.pgm
printf 'P6\n2 1\n255\n\377\000\000\000\377\000' > seeds/image/colour.ppm
printf 'GIF89a\001\000\001\000\200\000\000\377\377\377\000\000\000,\000\000\000\000\001\000\001\000\000\002\002D\001\000;' \
    > seeds/image/white.gif

# Checkpoints as tg train writes them, with several optimizers and schedules.
ckpt() { # NAME FLAGS...
    name=$1
    shift
    "$build/tg" train --data-dir "$work" --epochs 1 --batch-size 8 --hidden 2 "$@" --save "seeds/checkpoint/$name" >/dev/null
}
ckpt sgd-momentum --optimizer sgd --lr 0.1 --momentum 0.9
ckpt adam-cosine --optimizer adam --schedule cosine --t-max 10
ckpt adamw-warmup --optimizer adamw --schedule warmup_cosine --warmup 2 --total 10 --activation gelu
ckpt rmsprop-centered --optimizer rmsprop --centered --momentum 0.5 --dropout 0.2
ckpt nadam-plateau --optimizer nadam --schedule plateau --schedule-every epoch --patience 1
ckpt softmax-regression --optimizer adagrad --hidden ""

# Command lines, one argument per line, every subcommand.
cli() { # NAME ARGS...
    name=$1
    shift
    printf '%s\n' "$@" | head -c -1 > "seeds/cli/$name"
}
cli train train --optimizer adam --lr 0.001 --batch-size 64 --epochs 2 --save demo.ckpt
cli train-all train --dataset mnist --data-dir d --hidden 512,256 --activation tanh --dropout 0.1 \
    --optimizer sgd --lr 0.1 --momentum 0.9 --nesterov --weight-decay 1e-4 --schedule onecycle --total-steps 100 \
    --clip-norm 1 --l1 1e-5 --l2 1e-4 --label-smoothing 0.1 --val-split 0.1 --early-stop 3 --seed 7 --threads 2 \
    --log run.csv --metrics m.json --normalize
cli train-resume train --resume x.ckpt --epochs 3
cli train-bad train --lr -1
cli eval eval demo.ckpt --show 4 --metrics m.json
cli predict predict demo.ckpt shirt.png
cli optimize optimize rosenbrock --optimizer adam --lr 0.01 --betas 0.9,0.99 --amsgrad --steps 100 --start -1,1
cli optimize-lbfgs optimize quadratic --optimizer lbfgs --line-search strong_wolfe --max-iter 20 --history-size 5
cli optimize-sched optimize rosenbrock --optimizer rmsprop --centered --schedule step --step-size 10 --gamma 0.5 \
    --clip-value 1
cli compare optimize rosenbrock --compare --paths p
cli report report results
cli gradcheck gradcheck --seed 3 --only matmul
cli trace trace
cli trace-expr trace 'n = x1*w1 + x2*w2 + b; o = tanh(n) / 2^-1 - exp(-n)' x1=2 x2=0 w1=-3 w2=1 b=6.88 --dot g.dot
cli version version
echo "seeds: $(find seeds -type f | wc -l) files"

# safetensors files: valid ones (F32 and I64, metadata, an unpadded header)
# and two near misses (overlapping offsets, a dtype tg does not read).
python3 - seeds/safetensors <<'PY'
import json, struct, sys, os
out = sys.argv[1]
os.makedirs(out, exist_ok=True)
def st(header, data, pad=True):
    h = json.dumps(header, separators=(",", ":")).encode()
    if pad:
        h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + data
f32 = struct.pack("<6f", *[0.5 * i - 1 for i in range(6)])
i64 = struct.pack("<q", 7)
good = {"__metadata__": {"format": "pt", "spec": "flatten linear(3)"},
        "0.weight": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]},
        "1.num_batches_tracked": {"dtype": "I64", "shape": [], "data_offsets": [24, 32]}}
def put(name, b):
    open(os.path.join(out, name), "wb").write(b)
put("two-tensors", st(good, f32 + i64))
put("empty", st({}, b""))
put("metadata-only", st({"__metadata__": {"a": "b\u00e9\\n"}}, b""))
put("unpadded", st({"x": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}, struct.pack("<f", 3.0), pad=False))
bad = dict(good); bad["0.weight"] = {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 28]}
put("overlap", st(bad, f32 + i64))
put("bf16", st({"x": {"dtype": "BF16", "shape": [2], "data_offsets": [0, 4]}}, b"\0\0\0\0"))
PY
