#!/bin/bash
# Benchmark (make bench): per-cgroup workers that scale.  1, 10, 100 and
# 1000 cgroups read 128 MiB in all (each its share, 64 KiB direct reads)
# at the same time (all started, then let go together) through one cgloop
# device over a brd ramdisk; the
# aggregate throughput and the memory of the per-cgroup workers (slab
# cache cgblk_worker, from /proc/slabinfo, at the peak) are compared with
# one cgroup.  Three rounds each, medians.
# Output: summary.txt and cgroup_scaling.json.
# timeout: 3600
. "$CGBLK_TOP/tests/lib/guest-lib.sh"

TOTAL_MB=128
brd_setup 160 1
dd if=/dev/urandom of=/dev/ram0 bs=1M count=$TOTAL_MB oflag=direct status=none
cgblk_load cgloop backing=/dev/ram0 idle_timeout_ms=600000
wait_for 10 test -b /dev/cgloop0
echo "+io +memory" > /sys/fs/cgroup/cgroup.subtree_control
raw=$CGBLK_OUT/raw.txt
: > "$raw"

slab_bytes() { awk '$1 == "cgblk_worker" { print $2 * $4 }' /proc/slabinfo; }

for n in 1 10 100 1000; do
	for i in $(seq "$n"); do mkdir -p "/sys/fs/cgroup/s$i"; done
	per=$(( TOTAL_MB * 16 / n ))	# 64 KiB blocks per cgroup
	for r in 1 2 3; do
		echo 3 > /proc/sys/vm/drop_caches
		# Every reader waits on a shared lock that this shell holds
		# until all are in place: starting N processes is not timed.
		exec 9> /scratch/go
		flock -x 9
		for i in $(seq "$n"); do
			( echo $BASHPID > "/sys/fs/cgroup/s$i/cgroup.procs" &&
			  exec flock -s /scratch/go dd if=/dev/cgloop0 of=/dev/null bs=64k \
				count=$per skip=$(( (i - 1) * per )) iflag=direct status=none ) &
		done
		wait_for 600 sh -c "[ \$(pgrep -c -x flock) -ge $n ]"
		start=$(date +%s%N)
		flock -u 9
		wait || fail "$n cgroups: a reader failed"
		end=$(date +%s%N)
		exec 9>&-
		mb=$(( per * n / 16 ))
		mem=$(slab_bytes)
		workers=$(grep -c '^/s' /sys/kernel/debug/cgblk/cgloop/cgloop0/workers) || workers=0
		echo "$n $r $mb $(( (end - start) / 1000000 )) ${mem:-0} $workers" >> "$raw"
		log "$n cgroups round $r: $mb MiB in $(( (end - start) / 1000000 )) ms; cgblk_worker slab ${mem:-0} B; workers listed $workers"
	done
done

python3 - "$raw" "$CGBLK_OUT" "$(uname -r)" <<'PY'
import json, statistics, sys
raw, out, kver = sys.argv[1:4]
runs = {}
for line in open(raw):
    n, r, mb, ms, mem, workers = map(int, line.split())
    runs.setdefault(n, []).append((mb * 1000.0 / max(ms, 1), mem, workers))
res = {n: {"mib_s": statistics.median(x[0] for x in v), "worker_slab_bytes": max(x[1] for x in v),
           "workers": max(x[2] for x in v)} for n, v in runs.items()}
base = res[1]["mib_s"]
lines = ["kernel %s, one cgloop over brd, %d MiB read in all per run, 64 KiB direct, median of 3" % (kver, 128), "",
         "| cgroups | aggregate MiB/s | vs 1 cgroup | workers (debugfs) | cgblk_worker slab (KiB) |",
         "|---|---|---|---|---|"]
for n in sorted(res):
    r = res[n]
    slab = "%.1f" % (r["worker_slab_bytes"] / 1024) if r["worker_slab_bytes"] else "n/a (cache merged)"
    lines.append("| %d | %.1f | %.2fx | %d | %s |" % (n, r["mib_s"], r["mib_s"] / base, r["workers"], slab))
lines += ["", "1000 cgroups / 1 cgroup aggregate throughput: %.2fx (goal >= 0.9x)" % (res[1000]["mib_s"] / base)]
open(out + "/summary.txt", "w").write("\n".join(lines) + "\n")
json.dump({"kernel": kver, "results": res}, open(out + "/cgroup_scaling.json", "w"), indent=1)
print("\n".join(lines))
PY
[ -s "$CGBLK_OUT/summary.txt" ] || fail "no summary written"
cgblk_unload_all
find /sys/fs/cgroup -mindepth 1 -maxdepth 1 -name 's*' -type d -exec rmdir {} +
brd_cleanup
