#!/usr/bin/env bash
# GPU numbers for BENCHMARKS.md: builds the `head` bench binary with wgpu here, packs it with the
# Vulkan loader it needs, and prints the command to run on a machine with an NVIDIA GPU (for
# this project: the `device` tool's `run`, carrying `.gpu-bench`).
#
#   scripts/gpu-bench.sh build     # here: cargo build, copy the binary and loader packages into .gpu-bench/
#   scripts/gpu-bench.sh run       # there (the repo root, .gpu-bench carried): run the bench on wgpu
#
# On the GPU machine the NVIDIA Vulkan driver is installed but the loader (libvulkan1) may not
# be; the build step downloads Debian's loader packages so the run step can unpack them.
set -euo pipefail
cd "$(dirname "$0")/.."
pack=.gpu-bench

case "${1:-}" in
build)
    grep -qx "/$pack/" .git/info/exclude 2>/dev/null || echo "/$pack/" >> .git/info/exclude
    mkdir -p "$pack"
    cargo bench --bench head --features wgpu --no-run 2>&1 | tee "$pack/build.log"
    bin=$(ls -t target/release/deps/head-* | grep -v '\.d$' | head -1)
    cp "$bin" "$pack/head-bench"
    lists=$(mktemp -d)
    o="-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=$lists"
    mkdir -p "$lists/partial"
    apt-get $o update > /dev/null
    (cd "$pack" && apt-get $o download libvulkan1 > /dev/null)
    ls -la "$pack"
    echo "now run, on the GPU machine, carrying $pack:  scripts/gpu-bench.sh run"
    ;;
run)
    for f in "$pack"/*.deb; do dpkg -x "$f" /; done
    ldconfig
    if [ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ]; then
        export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
    fi
    out=${OUT:-.}
    # Only wgpu: the CPU numbers come from the 2-core machines, not this one.
    GM_BENCH_BACKENDS=wgpu "$pack/head-bench" --bench 2>&1 | tee "$out/gpu-bench.log" \
        | grep -v '^Benchmarking'
    ;;
*)
    echo "usage: $0 build|run" >&2
    exit 2
    ;;
esac
