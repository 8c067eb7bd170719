#!/usr/bin/env bash
# `make fuzz` (part of `make test`): builds the KQL front-end fuzzer (tests/kql/fuzz) with clang and
# ASan/UBSan in its own CMake build, then runs it for FUZZ_SECONDS (default 45) seeded with the
# hunting corpus (../shared/corpus/hunting-queries/*.kql), the queries of tests/kql/*.test and the
# inputs of earlier findings (tests/kql/fuzz/regressions/). Any crash, sanitizer report, hang
# (> FUZZ_TIMEOUT s for one input) or out-of-memory fails the run; the input that did it is written
# to <build>/fuzz/artifacts/ and the command to reproduce it is printed.
set -euo pipefail
BUILD_DIR=${1:-build}
FUZZ_SECONDS=${FUZZ_SECONDS:-45}
FUZZ_TIMEOUT=${FUZZ_TIMEOUT:-10}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT="$BUILD_DIR/fuzz"
CXX_FUZZ=${CXX_FUZZ:-clang++-16}
# Symbolised reports when some llvm-symbolizer is installed (clang-16 does not pull one in).
if [ -z "${ASAN_SYMBOLIZER_PATH:-}" ]; then
  for s in /usr/bin/llvm-symbolizer-16 /usr/lib/llvm-*/bin/llvm-symbolizer; do [ -x "$s" ] && export ASAN_SYMBOLIZER_PATH=$s && break; done
fi

if [ ! -f "$OUT/build.ninja" ]; then
  CXX=$CXX_FUZZ cmake -S "$ROOT/tests/kql/fuzz" -B "$OUT" -G Ninja >/dev/null
fi
cmake --build "$OUT" -j "${JOBS:-2}"

# Seeds: a fresh directory each run (the .test files and the corpus may have changed).
SEEDS="$OUT/seeds"
rm -rf "$SEEDS" && mkdir -p "$SEEDS" "$OUT/corpus" "$OUT/artifacts"
CORPUS_DIR="$ROOT/../shared/corpus/hunting-queries"
if compgen -G "$CORPUS_DIR/*.kql" >/dev/null; then cp "$CORPUS_DIR"/*.kql "$SEEDS/"; fi
# In a .test file a query runs from a `query …`/`error …` line to the `----` line.
awk -v dir="$SEEDS" '
  FNR == 1 { n = 0; base = FILENAME; sub(".*/", "", base) }
  /^(query|error)( |$)/ { inq = 1; q = ""; next }
  inq && /^----/ { inq = 0; f = sprintf("%s/%s.%03d.kql", dir, base, ++n); printf "%s", q > f; close(f); next }
  inq { q = q $0 "\n" }' "$ROOT"/tests/kql/*.test
REGRESSIONS="$ROOT/tests/kql/fuzz/regressions"
echo "fuzz: $(ls "$SEEDS" | wc -l) seeds, $(ls "$REGRESSIONS" 2>/dev/null | wc -l) regressions, ${FUZZ_SECONDS}s" >&2

# The first directory is where libFuzzer keeps what it finds interesting; it persists in the build
# directory, so local runs resume where the last one stopped.
set +e
"$OUT/kql_fuzzer" -max_total_time="$FUZZ_SECONDS" -timeout="$FUZZ_TIMEOUT" -rss_limit_mb=2048 -max_len=4096 \
  -dict="$ROOT/tests/kql/fuzz/kql.dict" -artifact_prefix="$OUT/artifacts/" -print_final_stats=1 \
  "$OUT/corpus" "$SEEDS" $( [ -d "$REGRESSIONS" ] && echo "$REGRESSIONS" ) >"$OUT/fuzz.log" 2>&1
rc=$?
set -e
if [ $rc -ne 0 ]; then
  grep -E "ERROR|runtime error|SUMMARY|Test unit written|contract broken" "$OUT/fuzz.log" | head -20 >&2 || true
  echo "fuzz: FAILED (rc=$rc); full log: $OUT/fuzz.log" >&2
  echo "fuzz: reproduce with: $OUT/kql_fuzzer <artifact>; then add the input to tests/kql/fuzz/regressions/" >&2
  exit 1
fi
grep -E "^stat::number_of_executed_units|^#[0-9]+.*DONE" "$OUT/fuzz.log" | tail -2 >&2 || true
echo "fuzz: OK" >&2
