#!/bin/bash
# Benchmark (make bench): what deferring a completion to task context
# costs.  null_blk completes 4 KiB reads from a 20 us timer (irqmode=2,
# hard IRQ); tests/modules/cgblk_test_offload.c submits them and measures
# submit-to-bi_end_io latency per bio and the rate, with no offload (none),
# cgblk_offload's dynamic and submitter-side (ctx) ways, and on kernels with
# BIO_COMPLETE_IN_TASK the kernel's own (native-*), all in this one boot.
# Each mode runs 7 times, in rotating order; the figures are medians.
# Queue depth 1 (latency: 5000 bios) and 128 (rate: 50000 bios).
# Output: summary.txt (table) and offload.json in the results folder.
# timeout: 1800
. "$CGBLK_TOP/tests/lib/guest-lib.sh"

ROUNDS=7
nullb_setup nullb0 64 2
cgblk_deps cgblk_offload
native=0
insmod "$(ko cgblk_offload)" native=1
if grep -qx 'mode native' /sys/kernel/debug/cgblk/cgblk_offload/stats; then native=1; fi
rmmod cgblk_offload

modes="none ctx dynamic"
[ $native = 0 ] || modes="$modes native-ctx native-dynamic"
raw=$CGBLK_OUT/raw.txt
: > "$raw"

# one MODE DEPTH NR: one run; appends "MODE DEPTH p50 p99 iops" to raw.
one() {
	local m=${1#native-} nat=0 mark line
	[ "$m" = "$1" ] || nat=1
	insmod "$(ko cgblk_offload)" native=$nat
	mark=$(dmesg_mark)
	insmod "$(ko cgblk_test_offload)" dev=/dev/nullb0 nr="$3" depth="$2" mode="$m" ||
		fail "$1 depth $2: $(dmesg_since "$mark" | grep RESULT)"
	rmmod cgblk_test_offload
	rmmod cgblk_offload
	line=$(dmesg_since "$mark" | grep -o 'RESULT ok .*') || fail "$1 depth $2: no ok RESULT"
	echo "$1 $2 $(echo "$line" | sed 's/.*p50_ns=\([0-9]*\) p99_ns=\([0-9]*\) iops=\([0-9]*\).*/\1 \2 \3/')" >> "$raw"
}

set -- $modes
n=$#
for r in $(seq $ROUNDS); do
	# Rotate the order each round, so that no mode always runs first.
	order=
	for i in $(seq 0 $((n - 1))); do
		eval "order=\"\$order \${$(( (i + r) % n + 1 ))}\""
	done
	for m in $order; do
		one "$m" 1 5000
		one "$m" 128 50000
	done
	log "round $r of $ROUNDS: $order"
done

python3 - "$raw" "$CGBLK_OUT" "$(uname -r)" <<'PY'
import json, statistics, sys
raw, out, kver = sys.argv[1:4]
runs = {}
for line in open(raw):
    m, d, p50, p99, iops = line.split()
    runs.setdefault((m, int(d)), []).append((int(p50), int(p99), int(iops)))
med = lambda xs: statistics.median(xs)
modes = []
for (m, d) in runs:
    if m not in modes:
        modes.append(m)
res = {}
for m in modes:
    q1 = runs[(m, 1)]
    q128 = runs[(m, 128)]
    res[m] = {"qd1_p50_ns": med([x[0] for x in q1]), "qd1_p99_ns": med([x[1] for x in q1]),
              "qd128_iops": med([x[2] for x in q128]), "qd128_p50_ns": med([x[0] for x in q128]),
              "runs": len(q1)}
base = res["none"]
lines = ["kernel %s, null_blk irqmode=2 (20 us timer), 4 KiB reads, median of %d runs" % (kver, base["runs"]),
         "",
         "| mode | QD1 p50 (us) | added vs none (us) | QD1 p99 (us) | QD128 IOPS | vs none |",
         "|---|---|---|---|---|---|"]
for m in modes:
    r = res[m]
    lines.append("| %s | %.1f | %+.1f | %.1f | %d | %.2fx |" % (
        m, r["qd1_p50_ns"] / 1000, (r["qd1_p50_ns"] - base["qd1_p50_ns"]) / 1000,
        r["qd1_p99_ns"] / 1000, r["qd128_iops"], r["qd128_iops"] / max(base["qd128_iops"], 1)))
    r["added_p50_ns"] = r["qd1_p50_ns"] - base["qd1_p50_ns"]
for a, b in (("ctx", "native-ctx"), ("dynamic", "native-dynamic")):
    if b in res:
        lines.append("")
        lines.append("%s vs %s: median QD1 latency differs by %+.2f us" % (
            a, b, (res[a]["qd1_p50_ns"] - res[b]["qd1_p50_ns"]) / 1000))
open(out + "/summary.txt", "w").write("\n".join(lines) + "\n")
json.dump({"kernel": kver, "results": res}, open(out + "/offload.json", "w"), indent=1)
print("\n".join(lines))
PY
[ -s "$CGBLK_OUT/summary.txt" ] || fail "no summary written"
cgblk_unload_all
nullb_cleanup nullb0
