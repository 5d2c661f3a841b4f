#!/usr/bin/env bash
# lstmkit against its peers (Keras 3, PyTorch, ONNX Runtime, a GEMM reference), measured in the
# same run, round-robin, one process at a time, so that the shared machine's drift hits every
# framework alike. Usage, from anywhere:
#
#     bash bench/run.sh                         # everything, 3 rounds
#     ROUNDS=1 MODELS=M1 FRAMEWORKS="lstmkit keras torch onnxruntime gemm" bash bench/run.sh
#
# Environment (all optional):
#   ROUNDS      rounds (default 3)
#   MODELS      models (default "M1 M2 M3 M3rd0 M4")
#   FRAMEWORKS  default "lstmkit keras keras-xla torch torch-nomkldnn onnxruntime gemm"
#               lstmkit-1t runs the engine on 1 thread instead of 2; lstmkit-bf16 compiles
#               with dtype_policy mixed_bfloat16 (also in REAL_IMDB)
#               (onnxruntime runs the .onnx file torch exported earlier in the same round, so it
#               needs torch too; gemm = ../shared/peers/gemm_ref.py at 2 and 1 threads)
#   REAL_IMDB   frameworks for the real-data epochs (bench/real_imdb_epoch.py), run after the
#               rounds, e.g. "lstmkit lstmkit-noskip keras" (default: none; lstmkit-noskip =
#               LSTMKIT_PADDING_SKIP=0); NAME@N stops after N batches and extrapolates the epoch
#               (for slow variants), e.g. "lstmkit@30 keras"; IMDB_EPOCHS (default 1)
#   REAL_RECIPES  recipes for those: imdb_lstm translate_en_fr imdb_bilstm (default imdb_lstm)
#   REAL_ROUNDS   rounds of them (default 1): each round runs every recipe with every framework,
#               one process at a time, the frameworks' order reversed in every other round;
#               REAL_FIRST_ROUND (default 1) numbers them on, to add rounds to an OUTDIR
#   OUTDIR      outputs (default bench/out): results.jsonl, logs/, results_table.md
#   PEERS_DIR   the peers' harness (default ../shared/peers beside the repository)
#   PEERS_VENV  the peers' virtualenv; created with the harness's setup_venv.sh when missing
#               (default bench/.venv-peers, gitignored). PEERS_PY overrides its interpreter.
#   LSTMKIT_PY  interpreter for lstmkit (default python3)
#   SKIP_BUILD=1  use the library already built
# Exit codes of one measurement: 0 ok, 3 = lstmkit does not support the model yet (recorded as
# such), anything else = failure (see its log).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
PEERS_DIR=$(cd "${PEERS_DIR:-$REPO/../shared/peers}" && pwd) || { echo "no peers harness"; exit 1; }
OUTDIR=$(mkdir -p "${OUTDIR:-$HERE/out}" && cd "${OUTDIR:-$HERE/out}" && pwd)
PEERS_VENV=${PEERS_VENV:-$HERE/.venv-peers}
PEERS_PY=${PEERS_PY:-$PEERS_VENV/bin/python}
LSTMKIT_PY=${LSTMKIT_PY:-python3}
ROUNDS=${ROUNDS:-3}
MODELS=${MODELS:-"M1 M2 M3 M3rd0 M4"}
FRAMEWORKS=${FRAMEWORKS:-"lstmkit keras keras-xla torch torch-nomkldnn onnxruntime gemm"}
REAL_IMDB=${REAL_IMDB:-}
REAL_RECIPES=${REAL_RECIPES:-imdb_lstm}
REAL_ROUNDS=${REAL_ROUNDS:-1}
REAL_FIRST_ROUND=${REAL_FIRST_ROUND:-1}
IMDB_EPOCHS=${IMDB_EPOCHS:-1}
EXIT_UNSUPPORTED=3
OUT=$OUTDIR/results.jsonl

has() { case " $1 " in *" $2 "*) return 0 ;; esac; return 1; }

# ---- (a) the peers' interpreter ------------------------------------------------------------
needs_peers=0
for fw in $FRAMEWORKS $REAL_IMDB; do case $fw in lstmkit*) ;; *) needs_peers=1 ;; esac; done
if [ $needs_peers = 1 ]; then
  if ! "$PEERS_PY" -c "import tensorflow, keras, torch, onnxruntime" 2>/dev/null; then
    echo "$(date -u +%H:%M:%S) creating the peers' virtualenv in $PEERS_VENV (several minutes)"
    bash "$PEERS_DIR/setup_venv.sh" "$PEERS_VENV" || { echo "setup_venv.sh failed"; exit 1; }
  fi
fi

# ---- (b) the release library and the C latency program --------------------------------------
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  echo "$(date -u +%H:%M:%S) swift build -c release --product lstmkit"
  (cd "$REPO" && swift build -c release --product lstmkit) || { echo "build failed"; exit 1; }
fi
LIBDIR=$REPO/.build/release
export LSTMKIT_LIBRARY=$LIBDIR/liblstmkit.so
cc -O2 -Wall -o "$OUTDIR/latency" "$HERE/latency.c" -I "$REPO/include" -L "$LIBDIR" -llstmkit \
   -Wl,-rpath,"$LIBDIR" || { echo "cannot build bench/latency.c"; exit 1; }
export LSTMKIT_LATENCY_BIN=$OUTDIR/latency

# ---- (c) the configurations, round-robin ----------------------------------------------------
# tag | interpreter | script and arguments (scripts are relative to PEERS_DIR unless absolute)
CONFIGS=()
for m in $MODELS; do
  for fw in $FRAMEWORKS; do
    case $fw in
      lstmkit*)
        extra=""
        case $fw in *-1t) extra="$extra --threads 1" ;; esac
        case $fw in *-bf16*) extra="$extra --dtype-policy mixed_bfloat16" ;; esac
        CONFIGS+=("$fw:$m|$LSTMKIT_PY|$HERE/bench_lstmkit.py $m$extra") ;;
    esac
  done
  has "$FRAMEWORKS" keras && CONFIGS+=("keras:$m|$PEERS_PY|bench_keras.py $m")
  has "$FRAMEWORKS" keras-xla && CONFIGS+=("keras-xla:$m|$PEERS_PY|bench_keras.py $m --jit")
  if has "$FRAMEWORKS" torch; then
    case $m in
      M1|M4) CONFIGS+=("torch:$m|$PEERS_PY|bench_torch.py $m --export-onnx onnx/$m.onnx") ;;
      M3rd0) CONFIGS+=("torch:$m|$PEERS_PY|bench_torch.py $m --window-steps 5") ;;
      *) CONFIGS+=("torch:$m|$PEERS_PY|bench_torch.py $m") ;;
    esac
  fi
  if has "$FRAMEWORKS" torch-nomkldnn && [ "$m" != M3 ]; then
    CONFIGS+=("torch-nomkldnn:$m|$PEERS_PY|bench_torch.py $m --no-mkldnn")
  fi
  if has "$FRAMEWORKS" onnxruntime && { [ "$m" = M1 ] || [ "$m" = M4 ]; }; then
    CONFIGS+=("onnxruntime:$m|$PEERS_PY|bench_onnx.py $m onnx/$m.onnx")
  fi
done
if has "$FRAMEWORKS" gemm; then
  CONFIGS+=("gemm:2threads|$PEERS_PY|gemm_ref.py --threads 2" "gemm:1thread|$PEERS_PY|gemm_ref.py --threads 1")
fi

cd "$OUTDIR"
mkdir -p logs onnx
export PYTHONPATH=$PEERS_DIR${PYTHONPATH:+:$PYTHONPATH}

run_one() {  # tag round interpreter command...
  local tag=$1 r=$2 py=$3; shift 3
  local script=$1; shift
  case $script in /*) ;; *) script=$PEERS_DIR/$script ;; esac
  local log="logs/${tag//:/_}_r${r}.log"
  echo "$(date -u +%H:%M:%S) round $r  $tag  ($(basename "$script") $*)"
  local start rc line
  start=$(date +%s)
  "$py" "$script" "$@" >"$log" 2>&1
  rc=$?
  line=$(grep -m1 '^RESULT ' "$log" | cut -c8-)
  if [ $rc -eq $EXIT_UNSUPPORTED ]; then
    local reason
    reason=$(grep -m1 '^unsupported: ' "$log" | cut -c14-)
    echo "   not supported yet: $reason"
    reason=$(printf '%s' "$reason" | "$LSTMKIT_PY" -c 'import json,sys; print(json.dumps(sys.stdin.read()))')
    printf '{"tag": "%s", "round": %d, "status": "unsupported", "reason": %s}\n' \
      "$tag" "$r" "$reason" >>"$OUT"
    return
  fi
  if [ $rc -ne 0 ] || [ -z "$line" ]; then
    echo "   FAILED rc=$rc, see $OUTDIR/$log"
    printf '{"tag": "%s", "round": %d, "status": "failed", "rc": %d}\n' "$tag" "$r" "$rc" >>"$OUT"
    return
  fi
  printf '{"tag": "%s", "round": %d, "wall_s": %d, "result": %s}\n' \
    "$tag" "$r" "$(( $(date +%s) - start ))" "$line" >>"$OUT"
}

echo "$(date -u +%H:%M:%S) ${#CONFIGS[@]} configurations x $ROUNDS rounds -> $OUT"
for r in $(seq 1 "$ROUNDS"); do
  for cfg in "${CONFIGS[@]}"; do
    IFS='|' read -r tag py cmd <<<"$cfg"
    # shellcheck disable=SC2086  # cmd is a word list on purpose
    run_one "$tag" "$r" "$py" $cmd
  done
done

reversed_list() { local out="" w; for w in $1; do out="$w $out"; done; echo "$out"; }
for r in $(seq "$REAL_FIRST_ROUND" $((REAL_FIRST_ROUND + REAL_ROUNDS - 1))); do
  order=$REAL_IMDB
  [ $((r % 2)) = 0 ] && order=$(reversed_list "$REAL_IMDB")
  for recipe in $REAL_RECIPES; do
    for spec in $order; do
      fw=${spec%%@*}; py=$PEERS_PY; extra=""
      case $fw in lstmkit*) py=$LSTMKIT_PY ;; esac
      case $spec in *@*) extra="$extra --max-steps ${spec#*@}" ;; esac
      case $fw in *-1t) extra="$extra --threads 1" ;; esac
      echo "   load average: $(cut -d' ' -f1-3 /proc/loadavg)"
      # shellcheck disable=SC2086  # extra is a word list on purpose
      run_one "real-$recipe:$fw" "$r" "$py" "$HERE/real_imdb_epoch.py" --recipe "$recipe" \
        --framework "${fw%-1t}" --epochs "$IMDB_EPOCHS" $extra
    done
  done
done

# ---- (d) the table ---------------------------------------------------------------------------
"$LSTMKIT_PY" "$HERE/aggregate.py" "$OUT" --out "$OUTDIR/results_table.md"
echo "done: $(wc -l <"$OUT") lines in $OUT; table in $OUTDIR/results_table.md"
