#!/bin/bash
# Benchmark (make bench): cgloop and cgsnap against their in-tree peers, in
# one boot, on the same brd ramdisk.  The fio jobs of tests/fio/ (4 KiB
# random read and write at QD1 and QD32, 128 KiB sequential read and write,
# a 70/30 mix) run on: the raw ramdisk, the in-tree loop driver over it
# (direct I/O), and cgloop over it; on a file on tmpfs (no direct I/O
# there before 6.6: both buffered), the in-tree loop and cgloop over the
# same file; then the snapshot targets (in-tree
# snapshot and cgsnap, origin and COW on ramdisks, chunk 16 sectors) for the
# first writes to fresh chunks (each needs a copy), overwrites and reads.
# Every job runs ROUNDS times per target, targets in rotating order, with a
# warm-up; the figures are medians.  CPU per I/O is the whole guest's busy
# time (/proc/stat) over the I/Os done, so worker threads count.
# Output: summary.txt (tables with ratios) and fio_peers.json.
# timeout: 3600
. "$CGBLK_TOP/tests/lib/guest-lib.sh"

ROUNDS=${CGBLK_BENCH_ROUNDS:-3}
export RUNTIME=${CGBLK_BENCH_RUNTIME:-4} RAMP=1 SIZE=192M
JOBS="randread-4k-qd1 randread-4k-qd32 randwrite-4k-qd1 randwrite-4k-qd32 seqread-128k seqwrite-128k mixed-70-30"
raw=$CGBLK_OUT/raw.txt
: > "$raw"

brd_setup 256 3
dd if=/dev/urandom of=/dev/ram0 bs=1M count=192 oflag=direct status=none
dd if=/dev/urandom of=/dev/ram1 bs=1M count=96 oflag=direct status=none
mkdir -p /scratch/tmpfs && mount -t tmpfs -o size=256M tmpfs /scratch/tmpfs
dd if=/dev/urandom of=/scratch/tmpfs/img bs=1M count=192 status=none
is_loaded loop || modprobe loop
loopdev=$(losetup --find --show --direct-io=on /dev/ram0)
looptmp=$(losetup --find --show /scratch/tmpfs/img)
cgblk_load cgloop backing=/dev/ram0,/scratch/tmpfs/img
wait_for 10 test -b /dev/cgloop1
log "cgloop1 over the tmpfs file: direct_io=$(cgloop_attr 1 direct_io); loop: dio=$(cat /sys/block/${looptmp#/dev/}/loop/dio)"

busy() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 }' /proc/stat; }

# run TARGET DEV JOBFILE: one fio run; appends "TARGET JOB iops bw_kib
# p50_us p99_us cpu_us_per_io" to raw (JOB: the job file's name).
run() {
	local t=$1 dev=$2 file=$3 job b0 b1 out
	job=$(basename "$file" .fio)
	out=$CGBLK_OUT/$t-$job-$(date +%s%N).json
	b0=$(busy)
	DEV=$dev fio --output-format=json --output="$out" "$file" ||
		fail "fio $job on $t ($dev) failed"
	b1=$(busy)
	python3 - "$out" "$t" "$job" "$((b1 - b0))" "$(getconf CLK_TCK)" >> "$raw" <<'PY'
import json, sys
out, t, job, ticks, hz = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
j = json.load(open(out))["jobs"][0]
iops = j["read"]["iops"] + j["write"]["iops"]
bw = j["read"]["bw"] + j["write"]["bw"]
ios = j["read"]["total_ios"] + j["write"]["total_ios"]
lat = j["read"] if j["read"]["total_ios"] >= j["write"]["total_ios"] else j["write"]
pct = lat.get("clat_ns", {}).get("percentile", {})
p50 = pct.get("50.000000", 0) / 1000
p99 = pct.get("99.000000", 0) / 1000
cpu = ticks * 1e6 / hz / max(ios, 1)
print(t, job, round(iops), round(bw), round(p50, 1), round(p99, 1), round(cpu, 1))
PY
}

# --- stacking: raw vs loop vs cgloop ---
for job in $JOBS; do
	DEV=/dev/ram0 RUNTIME=1 fio --output=/dev/null "$CGBLK_TOP/tests/fio/$job.fio" # warm-up
	for r in $(seq "$ROUNDS"); do
		for t in $(rotate "$r" raw loop cgloop loop-tmpfs cgloop-tmpfs); do
			case $t in
			raw) dev=/dev/ram0 ;;
			loop) dev=$loopdev ;;
			cgloop) dev=/dev/cgloop0 ;;
			loop-tmpfs) dev=$looptmp ;;
			cgloop-tmpfs) dev=/dev/cgloop1 ;;
			esac
			run $t $dev "$CGBLK_TOP/tests/fio/$job.fio"
		done
	done
	log "stacking: $job done"
done
losetup -d "$loopdev"
losetup -d "$looptmp"

# --- snapshots: fresh-chunk writes, overwrites, reads ---
is_loaded dm_snapshot || modprobe dm-snapshot
# snapjob TARGET PHASE: QD32 4 KiB direct I/O on /dev/mapper/b over 96 MiB:
# first (one write in each fresh 8 KiB chunk: each needs a copy), over (the
# same writes again: no copy), read (random reads, COW and origin chunks).
snapjob() {
	local rw
	case $2 in
	first|over) rw=write:4k ;;
	read) rw=randread ;;
	esac
	printf '[global]\nfilename=${DEV}\nioengine=libaio\ndirect=1\niodepth=32\nsize=96M\n[snap-%s]\nrw=%s\nbs=4k\n' \
		"$2" "$rw" > "/scratch/snap-$2.fio"
	run "$1" /dev/mapper/b "/scratch/snap-$2.fio"
}
for r in $(seq "$ROUNDS"); do
	for t in $(rotate "$r" snapshot cgsnap); do
		dd if=/dev/zero of=/dev/ram2 bs=1M count=1 oflag=direct status=none
		dm_snap b $t /dev/ram1 /dev/ram2 P 16
		snapjob $t first
		snapjob $t over
		snapjob $t read
		dmsetup remove --retry b
	done
	log "snapshots: round $r done"
done

# --- where the CPU goes: one profiled run of the jobs the goals are read on ---
if command -v perf > /dev/null; then
	loopdev=$(losetup --find --show --direct-io=on /dev/ram0)
	qd32=$CGBLK_TOP/tests/fio/randread-4k-qd32.fio
	perf_profile loop-randread-4k-qd32 env DEV="$loopdev" fio --output=/dev/null "$qd32"
	perf_profile cgloop-randread-4k-qd32 env DEV=/dev/cgloop0 fio --output=/dev/null "$qd32"
	losetup -d "$loopdev"
	for t in snapshot cgsnap; do
		dd if=/dev/zero of=/dev/ram2 bs=1M count=1 oflag=direct status=none
		dm_snap b $t /dev/ram1 /dev/ram2 P 16
		perf_profile $t-first env DEV=/dev/mapper/b fio --output=/dev/null /scratch/snap-first.fio
		dmsetup remove --retry b
	done
	log "profiles: $(ls "$CGBLK_OUT" | grep -c '^profile-') written"
else
	log "no perf in the guest: no profiles"
fi

python3 - "$raw" "$CGBLK_OUT" "$(uname -r)" "$ROUNDS" <<'PY'
import json, statistics, sys
raw, out, kver, rounds = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
runs = {}
for line in open(raw):
    t, job, iops, bw, p50, p99, cpu = line.split()
    runs.setdefault((t, job), []).append([float(iops), float(bw), float(p50), float(p99), float(cpu)])
med = {k: [statistics.median(x[i] for x in v) for i in range(5)] for k, v in runs.items()}
jobs = []
for (t, job) in runs:
    if job not in jobs:
        jobs.append(job)
lines = ["kernel %s, fio libaio direct on the device, median of %s runs; backing: brd ramdisk (raw, loop with direct I/O, cgloop), "
         "or a file on tmpfs (loop-tmpfs, cgloop-tmpfs: buffered)" % (kver, rounds), "",
         "| job | target | IOPS | MiB/s | p50 us | p99 us | CPU us/IO | vs raw | vs loop (same backing) |",
         "|---|---|---|---|---|---|---|---|---|"]
for job in jobs:
    if job.startswith("snap-"):
        continue
    for t in ("raw", "loop", "cgloop", "loop-tmpfs", "cgloop-tmpfs"):
        m = med.get((t, job))
        if not m:
            continue
        r = med.get(("raw", job))
        l = med.get(("loop-tmpfs" if t.endswith("-tmpfs") else "loop", job))
        vr = "%.2fx" % (m[0] / r[0]) if r and not t.endswith("-tmpfs") else ""
        vl = "%.2fx" % (m[0] / l[0]) if l else ""
        lines.append("| %s | %s | %d | %.1f | %.1f | %.1f | %.1f | %s | %s |" % (
            job, t, m[0], m[1] / 1024, m[2], m[3], m[4], vr, vl))
lines += ["", "| snapshot phase (4 KiB, QD32, chunk 16 sectors) | target | IOPS | MiB/s | p50 us | p99 us | CPU us/IO | cgsnap vs snapshot |",
          "|---|---|---|---|---|---|---|---|"]
for job in ("snap-first", "snap-over", "snap-read"):
    for t in ("snapshot", "cgsnap"):
        m = med.get((t, job))
        s = med.get(("snapshot", job))
        if not m:
            continue
        lines.append("| %s | %s | %d | %.1f | %.1f | %.1f | %.1f | %s |" % (
            job[5:], t, m[0], m[1] / 1024, m[2], m[3], m[4],
            "%.2fx" % (m[0] / s[0]) if t == "cgsnap" else ""))
goals = []
def ratio(a, b, job):
    return med[(a, job)][0] / med[(b, job)][0]
if ("cgloop", "randread-4k-qd32") in med:
    goals.append("cgloop / loop, 4 KiB random read QD32: %.2fx (goal >= 1.0x, aim 1.1x)" % ratio("cgloop", "loop", "randread-4k-qd32"))
    goals.append("cgloop / raw,  4 KiB random read QD32: %.2fx (goal >= 0.9x)" % ratio("cgloop", "raw", "randread-4k-qd32"))
if ("cgloop-tmpfs", "randread-4k-qd32") in med:
    goals.append("cgloop / loop over a tmpfs file, 4 KiB random read QD32: %.2fx" % ratio("cgloop-tmpfs", "loop-tmpfs", "randread-4k-qd32"))
if ("cgsnap", "snap-first") in med:
    goals.append("cgsnap / snapshot, first writes: %.2fx (goal >= 2x)" % ratio("cgsnap", "snapshot", "snap-first"))
lines += [""] + goals
open(out + "/summary.txt", "w").write("\n".join(lines) + "\n")
json.dump({"kernel": kver, "rounds": int(rounds),
           "median": {"%s/%s" % k: dict(zip(["iops", "bw_kib", "p50_us", "p99_us", "cpu_us_per_io"], v)) for k, v in med.items()}},
          open(out + "/fio_peers.json", "w"), indent=1)
print("\n".join(lines))
PY
[ -s "$CGBLK_OUT/summary.txt" ] || fail "no summary written"
profiles_to_summary
cgblk_unload_all
rmmod dm_snapshot
umount /scratch/tmpfs
brd_cleanup
