#!/bin/bash
# Benchmark (make bench): per-cgroup workers that scale.  The same load --
# 1000 processes doing 64 KiB O_DIRECT random reads through one cgloop
# device over a brd ramdisk, for a fixed time -- spread over 1, 10, 100 and
# 1000 cgroups (tests/bench/cgio.c: the processes are forked and placed in
# their cgroups first, then let go together, so only I/O is timed).  The
# aggregate throughput and the memory of the per-cgroup workers (slab
# cache cgblk_worker, from /proc/slabinfo) are compared with one cgroup.
# Three rounds each, medians.
# Output: summary.txt and cgroup_scaling.json.
# timeout: 3600
. "$CGBLK_TOP/tests/lib/guest-lib.sh"

NPROC=1000
SECS=8
brd_setup 160 1
dd if=/dev/urandom of=/dev/ram0 bs=1M count=128 oflag=direct status=none
cc -O2 -Wall -o /scratch/cgio "$CGBLK_TOP/tests/bench/cgio.c" || fail "cannot build cgio"
cgblk_load cgloop backing=/dev/ram0 idle_timeout_ms=600000
wait_for 10 test -b /dev/cgloop0
echo "+io +memory" > /sys/fs/cgroup/cgroup.subtree_control
raw=$CGBLK_OUT/raw.txt
: > "$raw"

slab_bytes() { awk '$1 == "cgblk_worker" { print $2 * $4 }' /proc/slabinfo; }

for n in 1 10 100 1000; do
	for i in $(seq "$n"); do mkdir -p "/sys/fs/cgroup/s$i"; done
	for r in 1 2 3; do
		out=$(/scratch/cgio /dev/cgloop0 "$NPROC" "$n" "$SECS" 65536 s) ||
			fail "$n cgroups: cgio failed"
		read -r bytes ios <<< "$out"
		mem=$(slab_bytes)
		workers=$(grep -c '^/s' /sys/kernel/debug/cgblk/cgloop/cgloop0/workers) || workers=0
		echo "$n $r $bytes $ios $SECS ${mem:-0} $workers" >> "$raw"
		log "$n cgroups round $r: $((bytes >> 20)) MiB in $SECS s ($ios reads by $NPROC processes); cgblk_worker slab ${mem:-0} B; workers listed $workers"
	done
done

# where the CPU goes with 1 and with 1000 cgroups (one profiled run each)
if command -v perf > /dev/null; then
	for n in 1 1000; do
		perf_profile ${n}cg /scratch/cgio /dev/cgloop0 "$NPROC" "$n" "$SECS" 65536 s
	done
fi

python3 - "$raw" "$CGBLK_OUT" "$(uname -r)" "$NPROC" <<'PY'
import json, statistics, sys
raw, out, kver, nproc = sys.argv[1:5]
runs = {}
for line in open(raw):
    n, r, b, ios, secs, mem, workers = map(int, line.split())
    runs.setdefault(n, []).append((b / 1048576.0 / secs, mem, workers))
res = {n: {"mib_s": statistics.median(x[0] for x in v), "worker_slab_bytes": max(x[1] for x in v),
           "workers": max(x[2] for x in v)} for n, v in runs.items()}
base = res[1]["mib_s"]
lines = ["kernel %s, one cgloop over brd, %s processes doing 64 KiB O_DIRECT random reads, median of 3" % (kver, nproc), "",
         "| cgroups | aggregate MiB/s | vs 1 cgroup | workers (debugfs) | cgblk_worker slab (KiB) |",
         "|---|---|---|---|---|"]
for n in sorted(res):
    r = res[n]
    slab = "%.1f" % (r["worker_slab_bytes"] / 1024) if r["worker_slab_bytes"] else "n/a (cache merged)"
    lines.append("| %d | %.1f | %.2fx | %d | %s |" % (n, r["mib_s"], r["mib_s"] / base, r["workers"], slab))
lines += ["", "1000 cgroups / 1 cgroup aggregate throughput: %.2fx (goal >= 0.9x)" % (res[1000]["mib_s"] / base)]
open(out + "/summary.txt", "w").write("\n".join(lines) + "\n")
json.dump({"kernel": kver, "processes": int(nproc), "results": res}, open(out + "/cgroup_scaling.json", "w"), indent=1)
print("\n".join(lines))
PY
[ -s "$CGBLK_OUT/summary.txt" ] || fail "no summary written"
profiles_to_summary
cgblk_unload_all
find /sys/fs/cgroup -mindepth 1 -maxdepth 1 -name 's*' -type d -exec rmdir {} +
brd_cleanup
