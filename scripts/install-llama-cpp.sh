#!/usr/bin/env bash
# Builds llama-cpp-python for this project and installs it into the given Python.
#
#   scripts/install-llama-cpp.sh PYTHON [portable|native]
#
# portable (the default): x86-64 with AVX2, FMA and F16C and nothing newer (no AVX-512, no
#   AMX), so a build runs on any x86-64 machine of the last ten years, in containers and
#   virtual machines that refuse newer instructions; elsewhere (ARM) the generic build.
# native: -march=native, for the machine that builds it and no other (AMX included, which
#   some containers refuse at run time).
#
# The wheel is built outside pip's cache, which keys on the source package and not on the
# build flags (a native wheel cached there would be picked up for a portable install), and
# kept in a folder named by version, variant and flags, so a new venv reuses it.
set -euo pipefail

python=${1:?usage: install-llama-cpp.sh PYTHON [portable|native]}
variant=${2:-portable}
version=${LLAMA_CPP_PYTHON_VERSION:-0.3.36}

case "$variant" in
  portable)
    cmake_args="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON"
    cmake_args+=" -DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF"
    ;;
  native) cmake_args="-DGGML_NATIVE=ON" ;;
  *) echo "error: unknown llama.cpp build '$variant' (use portable or native)" >&2; exit 2 ;;
esac
# The embedded model needs neither the bundled tools nor the examples: faster to build.
cmake_args+=" -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF"

tag=$("$python" -c 'import sys, platform; print(f"cp{sys.version_info[0]}{sys.version_info[1]}-{platform.machine()}")')
key=$(printf '%s %s %s' "$version" "$tag" "$cmake_args" | sha256sum | cut -c1-12)
wheels="${PROMPTEUR_WHEEL_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/prompteur/wheels}/llama-cpp-python-$version-$variant-$key"

wheel=$(ls "$wheels"/llama_cpp_python-*.whl 2>/dev/null | head -n 1 || true)
if [ -z "$wheel" ] && command -v flock >/dev/null; then
  # Two checkouts installing at once share one build: the second waits for the first's
  # wheel instead of compiling beside it into the same folder.
  mkdir -p "$(dirname "$wheels")"
  exec 9>"$wheels.lock"
  if ! flock -n 9; then
    echo "waiting for another install's build of llama-cpp-python ($wheels.lock)"
    flock 9
  fi
  wheel=$(ls "$wheels"/llama_cpp_python-*.whl 2>/dev/null | head -n 1 || true)
fi
if [ -z "$wheel" ]; then
  echo "building llama-cpp-python $version ($variant: $cmake_args)"
  echo "  this compiles llama.cpp: about 5 minutes on 2 cores; needs a C/C++ compiler and cmake"
  rm -rf "$wheels.tmp"  # what a build that was stopped left
  mkdir -p "$wheels.tmp"
  log="$wheels.tmp/build.log"
  # pip -v shows the build's output: ninja's [N/M] or make's [ NN%] lines are the progress
  if ! CMAKE_ARGS="$cmake_args" CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc 2>/dev/null || echo 2)}" \
      "$python" -m pip wheel -v --no-deps --no-cache-dir --no-binary llama-cpp-python \
        "llama-cpp-python==$version" -w "$wheels.tmp" 2>&1 \
      | tee "$log" \
      | awk 'match($0, /\[ *[0-9]+\/[0-9]+\]/) { split(substr($0, RSTART + 1, RLENGTH - 2), n, "/");
                                               pct = int(100 * n[1] / n[2]) }
             match($0, /\[ *[0-9]+%\]/) { pct = int(substr($0, RSTART + 1, RLENGTH - 3)) }
             pct != "" && int(pct / 10) != last { last = int(pct / 10);
                                                  printf "  compiling llama.cpp: %d%%\n", pct; fflush() }'; then
    echo "error: building llama-cpp-python failed; the log is $log" >&2
    exit 1
  fi
  if ! ls "$wheels.tmp"/llama_cpp_python-*.whl >/dev/null 2>&1; then
    echo "error: building llama-cpp-python made no wheel; the log is $log" >&2
    exit 1
  fi
  rm -rf "$wheels"
  mv "$wheels.tmp" "$wheels"
  wheel=$(ls "$wheels"/llama_cpp_python-*.whl | head -n 1)
fi

# --force-reinstall --no-deps: replace another variant's build already in this environment
"$python" -m pip install -q "$wheel"
"$python" -m pip install -q --force-reinstall --no-deps "$wheel"
echo "llama-cpp-python $version ($variant build) installed from $wheel"
