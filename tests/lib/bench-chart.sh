#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# bench-chart.sh RESULTS: a PNG chart (gnuplot) of every fio_peers.json below
# RESULTS, next to it: IOPS of each job per target, relative to the raw
# ramdisk (stacking), to the in-tree loop over the same tmpfs file (jobs
# marked @tmpfs) or to the in-tree snapshot target (snapshots).
# Run by `make bench` on the host after the guest run (it lives in tests/lib,
# not tests/bench, because every script in tests/bench runs in the guest).
set -euo pipefail
command -v gnuplot > /dev/null ||
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends gnuplot-nox > /dev/null
find "${1:?results folder}" -name fio_peers.json | while read -r json; do
	dir=$(dirname "$json")
	python3 - "$json" "$dir/chart.dat" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
m = d["median"]
rows = []
JOBS = ("randread-4k-qd1", "randread-4k-qd32", "randwrite-4k-qd1", "randwrite-4k-qd32",
        "seqread-128k", "seqwrite-128k", "mixed-70-30")
for job in JOBS:
    base = m.get("raw/" + job)
    if base:
        rows.append((job, [m.get(t + "/" + job, {}).get("iops", 0) / base["iops"]
                           for t in ("raw", "loop", "cgloop")] + [0, 0]))
for job in JOBS:
    base = m.get("loop-tmpfs/" + job)
    if base:
        rows.append((job + "@tmpfs", [0, 1.0, m.get("cgloop-tmpfs/" + job, {}).get("iops", 0) / base["iops"], 0, 0]))
for job in ("snap-first", "snap-over", "snap-read"):
    base = m.get("snapshot/" + job)
    if base:
        rows.append((job, [0, 0, 0, 1.0, m.get("cgsnap/" + job, {}).get("iops", 0) / base["iops"]]))
with open(sys.argv[2], "w") as f:
    f.write("job raw loop cgloop snapshot cgsnap\n")
    for job, v in rows:
        f.write(job + " " + " ".join("%.3f" % x for x in v) + "\n")
PY
	kver=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["kernel"])' "$json")
	gnuplot <<GP
set terminal pngcairo size 1400,520 noenhanced
set output "$dir/chart.png"
set title "cgblk vs in-tree peers, kernel $kver (IOPS relative to the raw ramdisk; @tmpfs: to loop over the same tmpfs file; snap-: to dm-snapshot; medians)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set yrange [0:*]
set ylabel "relative IOPS"
set xtics rotate by -30
set key outside right
set grid ytics
plot for [i=2:6] "$dir/chart.dat" using i:xtic(1) title columnheader
GP
	echo "chart: $dir/chart.png"
done
