#!/usr/bin/env bash
# `fleetsh test` on one file of 50 tests, each with its own fleet seeded by a before_each
# (3 locations, 5 machines) and a few calls: the figure the README gives ("Testing your chores").
#   bench/fleetsh_test.sh        (RUNS=N runs, default 3; JOBS passed to --jobs)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet --bin fleetsh
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
{
  echo 'before_each(function(t)'
  echo '  for i = 1, 3 do local l = cloud.create_location("loc-" .. i)'
  echo '    for j = 1, 5 do if j <= 2 or i == 1 then cloud.new_robot("m-" .. i .. "-" .. j, l.id) end end end'
  echo 'end)'
  for i in $(seq 1 50); do
    echo "test(\"case $i\", function(t)"
    echo '  local locs = cloud.list_locations()'
    echo '  t.eq(#locs, 4)'
    echo '  t.eq(#cloud.list_robots(locs[2].id) >= 0, true)'
    echo 'end)'
  done
} > "$dir/fifty_test.lua"
for run in $(seq 1 "${RUNS:-3}"); do
  start=$(date +%s.%N)
  target/release/fleetsh test "$dir/fifty_test.lua" ${JOBS:+--jobs "$JOBS"} | tail -1
  end=$(date +%s.%N)
  awk -v r="$run" -v a="$start" -v b="$end" 'BEGIN { printf "run %d: %.2f s\n", r, b - a }'
done
