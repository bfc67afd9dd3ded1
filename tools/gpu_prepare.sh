#!/usr/bin/env bash
# Make what the lease plan carries (tools/gpu_lease.sh), here, once per machine; all of it
# lies under .gpu/, which git ignores and which travels only when a call carries it.
#   .gpu/site      jpeglib (its libjpeg-turbo 2.1 and 6b builds only), simplejpeg and isal for
#                  the machine's Python 3.12, unpacked: the GPU image lacks them (the CUDA check
#                  runs qgac itself). ~6 MiB instead of jpeglib's 23 MiB wheel.
#   .gpu/eval      Live-1 as lossless WebP in .gpu/eval/live1 (the check's eval set), 13 MiB
#   .gpu/holdout   the pool's hold-out (every 25th image): the validation crops, ~1 MiB
#   .gpu/data      part 1 of 2 of the rest of the pool, for call 1 (what is left of 64 MiB)
#   .gpu/data2     part 2 of 2, for call 2 (the tree and .gpu/data2 only)
# Usage: bash tools/gpu_prepare.sh [POOL_DIR]  (default ../shared/data/train), with the project's
# environment active (its jpeglib, simplejpeg and isal versions are the ones fetched); prints the sizes.
set -euo pipefail
POOL=${1:-../shared/data/train}
LIVE1=${LIVE1:-../shared/data/eval/live1}
SCALE1=${SCALE1:-0.35}  # the first scale each part tries (then 0.05 less until it fits): where they
SCALE2=${SCALE2:-0.8}   # fitted with a 22.4 MiB tree, so that the packing is one pass each (~2 min)
mkdir -p .gpu
rm -rf .gpu/wheels .gpu/site && mkdir -p .gpu/wheels .gpu/site
version() { python3 -m pip show "$1" | awk '/^Version/{print $2}'; }
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  -d .gpu/wheels "jpeglib==$(version jpeglib)" "simplejpeg==$(version simplejpeg)" "isal==$(version isal)"
for w in .gpu/wheels/*.whl; do python3 -m zipfile -e "$w" .gpu/site; done
rm -rf .gpu/wheels
LIBJPEG=$(python3 -c "from qgac_cli.codec.jpeg import LIBJPEG_VERSION; print(LIBJPEG_VERSION)")
# its C sources (1 211 files) and the other libjpeg builds are not needed to run
find .gpu/site/jpeglib/cjpeglib -type f ! -name '*.py' ! -name "cjpeglib_${LIBJPEG}.*" ! -name 'cjpeglib_6b.*' -delete
find .gpu/site -type d -empty -delete
python3 tools/gpu_pack.py .gpu/eval "$LIVE1" --budget-mb 64  # lossless, whole: .gpu/eval/live1/*.webp
tree_mib=$(git ls-files -z | xargs -0 du -cb | tail -1 | awk '{print $1 / 1048576}')
fixed_mib=$(du -scb .gpu/site .gpu/eval | tail -1 | awk '{print $1 / 1048576}')
budget1=$(python3 -c "print(round(64 - $tree_mib - $fixed_mib - 2.5, 1))")  # 2.5: the hold-out and slack
budget2=$(python3 -c "print(round(64 - $tree_mib - 1.5, 1))")
python3 tools/gpu_pack.py .gpu/data "$POOL"/* --budget-mb "$budget1" --scale "$SCALE1" --part 1/2 --holdout .gpu/holdout
python3 tools/gpu_pack.py .gpu/data2 "$POOL"/* --budget-mb "$budget2" --scale "$SCALE2" --part 2/2
du -sh .gpu/* | sed 's/^/  /'
echo "tree ${tree_mib} MiB; call 1 carries .gpu/data .gpu/holdout .gpu/eval .gpu/site; call 2 .gpu/data2"
