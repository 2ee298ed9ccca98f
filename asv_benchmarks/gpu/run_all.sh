#!/usr/bin/env bash
# Every GPU check in one device call (the device tool's `run`, from the repository root,
# carrying .whl: array-api-compat, array-api-strict and POT wheels for cp312, made with
#   pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 -d .whl \
#     array-api-compat==1.16.0 array-api-strict==2.6.1 pot==0.9.7.post1
# ). The gpu-marked tests first, then the figure scripts; each log lands in $OUT.
set -u
out=${OUT:-/tmp/numopt-gpu}
mkdir -p "$out"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:. PYTHONUNBUFFERED=1
python3 -m pytest -q -p no:cacheprovider -m gpu tests 2>&1 | tail -25 | tee "$out/gpu_tests.log"
for script in ot linalg coordinate completion dcdm monotone; do
    echo "== $script"
    timeout 240 python3 "asv_benchmarks/gpu/$script.py" 2>&1 | tee "$out/gpu_$script.log"
done
