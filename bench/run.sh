#!/usr/bin/env bash
# Benchmarks fleetsh against the Python SDK (viam-sdk) and against a bare tonic call (the floor),
# all against one `fleetsh serve` on loopback. Writes bench/results.md; see the README, "Benchmarks".
#   bench/run.sh            (RUNS=N for N runs per workload, default 5)
#   bench/run.sh --quick    (one run at a tenth of the sizes: under a minute, for a developer's loop)
set -euo pipefail
if [[ "${1:-}" == "--quick" ]]; then export QUICK=1; fi
cd "$(dirname "$0")/.."

echo "bench: building release (fleetsh and the floor example)" >&2
# Apart: built in one command, the example's dev-dependencies' features are unified into
# fleetsh's own dependencies (regex's Unicode tables and engines, for expectrl), 600 KB more
# binary than `cargo run --release` or `cargo install` builds.
cargo build --release --quiet --bin fleetsh
cargo build --release --quiet --example floor

# The interop tests' venv has viam-sdk pinned; create it the same way when it is missing.
venv=target/interop-venv
if ! "$venv/bin/python" -c "import viam" 2>/dev/null; then
  echo "bench: creating $venv with tests/interop/requirements.txt" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet -r tests/interop/requirements.txt
fi

# A quick run is for a developer's loop: its figures do not replace the committed ones.
out=bench/results.md
if [[ -n "${QUICK:-}" ]]; then out=target/bench-quick.md; fi
exec "$venv/bin/python" bench/driver.py target/release/fleetsh target/release/examples/floor "$out"
