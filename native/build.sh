#!/usr/bin/env bash
# Builds the native Groth16 prover: native/build/zkprove (see native/README.md).
#
# Needs g++ (with OpenMP), nasm and the GMP headers (Debian: apt-get install g++ nasm libgmp-dev)
# and the project's node_modules (ffiasm generates the BN254 field code; its C++ curve code is
# compiled in). Rebuilds only when a source is newer than the binary; `--force` rebuilds.
# Exits 1 with the missing tool named when it cannot build.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
FFIASM="$ROOT/node_modules/ffiasm"
OUT="$HERE/build"
GEN="$OUT/gen"
BIN="$OUT/zkprove"
NODE="$ROOT/node_modules/.bin/node"
[ -x "$NODE" ] || NODE="$(command -v node || true)"

missing=()
command -v g++ >/dev/null 2>&1 || missing+=("g++")
command -v nasm >/dev/null 2>&1 || missing+=("nasm")
if ! printf '#include <gmp.h>\nint main(){return 0;}\n' | g++ -x c++ - -o /dev/null -lgmp >/dev/null 2>&1; then
  command -v g++ >/dev/null 2>&1 && missing+=("libgmp-dev")
fi
[ -f "$FFIASM/src/buildzqfield.js" ] || missing+=("node_modules/ffiasm (run npm ci)")
[ -n "$NODE" ] || missing+=("node")
if [ "${#missing[@]}" -gt 0 ]; then
  echo "build-native: cannot build the native prover, missing: ${missing[*]} (Debian: apt-get install g++ nasm libgmp-dev)" >&2
  exit 1
fi
if [ "$(uname -s)" != Linux ] || [ "$(uname -m)" != x86_64 ]; then
  echo "build-native: the native prover needs Linux x86-64 (ffiasm's field code is x86-64 assembly); got $(uname -s) $(uname -m)" >&2
  exit 1
fi

SRCS=("$HERE/zkprove.cpp" "$HERE/msm.hpp" "$HERE/build.sh")
if [ "${1:-}" != "--force" ] && [ -x "$BIN" ]; then
  stale=0
  for f in "${SRCS[@]}" "$FFIASM/package.json"; do
    [ "$f" -nt "$BIN" ] && stale=1
  done
  if [ "$stale" = 0 ]; then
    echo "build-native: $BIN is up to date"
    exit 0
  fi
fi

mkdir -p "$GEN"
# BN254: q (base field) and r (scalar field)
Q=21888242871839275222246405745257275088696311157297823662689037894645226208583
R=21888242871839275222246405745257275088548364400416034343698204186575808495617
(cd "$GEN" && "$NODE" "$FFIASM/src/buildzqfield.js" -q "$Q" -n Fq && "$NODE" "$FFIASM/src/buildzqfield.js" -q "$R" -n Fr)
nasm -felf64 "$GEN/fq.asm" -o "$GEN/fq_asm.o"
nasm -felf64 "$GEN/fr.asm" -o "$GEN/fr_asm.o"

CXXFLAGS=(-O3 -std=c++17 -fopenmp -Wno-unused-result -I"$GEN" -I"$FFIASM/c" -I"$HERE")
objs=("$GEN/fq_asm.o" "$GEN/fr_asm.o")
pids=()
for src in "$GEN/fq.cpp" "$GEN/fr.cpp" "$FFIASM/c/alt_bn128.cpp" "$FFIASM/c/naf.cpp" "$FFIASM/c/splitparstr.cpp" "$FFIASM/c/misc.cpp"; do
  o="$GEN/$(basename "$src" .cpp).o"
  g++ "${CXXFLAGS[@]}" -w -c "$src" -o "$o" &
  pids+=($!)
  objs+=("$o")
done
g++ "${CXXFLAGS[@]}" -Wall -c "$HERE/zkprove.cpp" -o "$GEN/zkprove.o" &
pids+=($!)
failed=0
for p in "${pids[@]}"; do wait "$p" || failed=1; done
if [ "$failed" = 1 ]; then
  echo "build-native: compilation failed" >&2
  exit 1
fi
g++ -O3 -fopenmp -Wl,-z,noexecstack -o "$BIN.tmp" "${objs[@]}" "$GEN/zkprove.o" -lgmp
mv "$BIN.tmp" "$BIN"
echo "build-native: built $BIN"
