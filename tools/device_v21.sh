#!/usr/bin/env bash
# The v2.1 decision as ONE device command (models/sarco-unet-v2.1/SHIPPING_RULE.md): install the carried wheels,
# train the 5 LOPO folds and the final model side by side on CUDA, run the shipping check (rules 3-5), write the
# verdict, the fold scores and the candidate into $OUT, and stop by itself before BUDGET_S seconds (default 570 s,
# under the device's 10-min command limit). Staged here first: python -m tools.device_stage (docs/model.md, v2.1).
#
# On the device (run tool; carry ["device_stage/v21", "device_stage/wheels"], timeout_s 600):
#   bash tools/device_v21.sh
# A second call on the still-warm machine resumes every unfinished job from its checkpoints (RUNS persists there).
# Here, on the CPU, with the smoke stage:
#   DEVICE=cpu STAGE=device_stage/smoke RUNS=device_runs/smoke OUT=/tmp/v21_smoke_out SKIP_INSTALL=1 \
#     bash tools/device_v21.sh --patients A058062 --parallel 2 --check-seeds 2 --check-variant-seeds 1
# Any further arguments go to `python -m tools.device_run run`.
set -uo pipefail
T0=$(date +%s)
: "${OUT:?OUT (the folder whose files come back) must be set}"
DEVICE=${DEVICE:-cuda}
STAGE=${STAGE:-device_stage/v21}
RUNS=${RUNS:-device_runs/v21}
WHEELS=${WHEELS:-device_stage/wheels}
BUDGET_S=${BUDGET_S:-570}
SITE=${SITE:-/tmp/site}
mkdir -p "$OUT"
[ -f "$STAGE/manifest.json" ] || { echo "no $STAGE/manifest.json: stage first (python -m tools.device_stage)"; exit 2; }
if [ "${SKIP_INSTALL:-0}" != 1 ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" \
    "$WHEELS"/*.whl || { echo "wheel install failed"; exit 3; }
  export PYTHONPATH="$SITE:$PWD"
else
  export PYTHONPATH="${PREPEND_PYTHONPATH:+$PREPEND_PYTHONPATH:}$PWD"  # a CPU test may block imports this way
fi
export PYTHONUNBUFFERED=1
python3 -c "import sys, torch, timm, segmentation_models_pytorch as smp, onnxruntime as ort
print('python', sys.version.split()[0], 'torch', torch.__version__, 'cuda', torch.cuda.is_available(),
      'smp', smp.__version__, 'timm', timm.__version__, 'onnxruntime', ort.__version__)
assert '$DEVICE' != 'cuda' or torch.cuda.is_available(), 'DEVICE=cuda but torch sees no GPU'" \
  2>&1 | tee -a "$OUT/run.log" || { echo "imports failed"; exit 4; }
LEFT=$(( BUDGET_S - ($(date +%s) - T0) ))
python3 -m tools.device_run run --stage "$STAGE" --runs "$RUNS" --out "$OUT" --device "$DEVICE" \
  --budget-s "$LEFT" "$@" 2>&1 | tee -a "$OUT/run.log"
