#!/bin/bash
# Benchmark (make bench TESTS=cgsnap_origin): origin writes through
# cgsnap-origin against in-tree snapshot-origin, in one boot, on the same
# devices (issue 15).  4 KiB direct writes, each to a fresh 8 KiB chunk
# (every write needs a copy into every snapshot), with 1 and with 4
# snapshots (P, chunk 16 sectors), on two set-ups: "delay", the origin and
# every COW device brd ramdisks behind dm-delay of 1 ms (reads and writes),
# at QD1 and QD32; "bw", an origin whose bandwidth is the bound (null_blk,
# memory-backed, mbps=8: a disk's, not a ramdisk's) and COW devices on brd,
# QD32.  Fresh snapshots for every run; targets in rotating order; medians
# of ROUNDS runs.  Also the origin device's reads per write: cgsnap-origin
# reads each chunk once for all snapshots, snapshot-origin once per
# snapshot.
# Output: summary.txt.
# timeout: 3600
. "$CGBLK_TOP/tests/lib/guest-lib.sh"

ROUNDS=${CGBLK_BENCH_ROUNDS:-3}
raw=$CGBLK_OUT/raw.txt
: > "$raw"
brd_setup 64 5
cgblk_load dm-cgsnap
modprobe dm-snapshot
modprobe dm-delay
sz=$(blockdev --getsz /dev/ram0)
dd if=/dev/urandom of=/dev/ram0 bs=1M count=64 oflag=direct status=none
for i in 0 1 2 3 4; do
	dmsetup create d$i --table "0 $sz delay /dev/ram$i 0 1"
	dmsetup create l$i --table "0 $sz linear /dev/ram$i 0"
done
modprobe null_blk nr_devices=0
nb=/sys/kernel/config/nullb/nullb0
mkdir $nb
echo 2 > $nb/queue_mode; echo 64 > $nb/size; echo 1 > $nb/memory_backed
echo 4096 > $nb/blocksize; echo 8 > $nb/mbps; echo 1 > $nb/power
wait_for 10 test -b /dev/nullb0
dd if=/dev/ram0 of=/dev/nullb0 bs=1M count=64 oflag=direct status=none
# sectors_read NAME: sectors read from /sys/block/NAME
sectors_read() { awk '{print $3}' "/sys/block/$1/stat"; }
d0_name=dm-$(dmsetup info -c --noheadings -o minor d0 | tr -d ' ')

# one SETUP TARGET NSNAP QD: fresh snapshots, one fio run of writes to
# fresh chunks; appends "SETUP TARGET-NSNAP qdQD iops reads_per_write" to
# raw
one() {
	local setup=$1 t=$2 n=$3 qd=$4 ios i d0 out iops origin cow stat
	ios=$(( qd == 1 ? 400 : 2000 ))
	case $setup in
	delay) origin=/dev/mapper/d0 cow=d stat=$d0_name ;;
	bw) origin=/dev/nullb0 cow=l stat=nullb0 ;;
	esac
	for i in $(seq 1 "$n"); do
		dd if=/dev/zero of=/dev/mapper/$cow$i bs=64k count=1 oflag=direct status=none
	done
	if [ "$t" = cgsnap ]; then
		dmsetup create o --table "0 $sz cgsnap-origin $origin"
	else
		dmsetup create o --table "0 $sz snapshot-origin $origin"
	fi
	for i in $(seq 1 "$n"); do
		dmsetup create s$i --table "0 $sz $t $origin /dev/mapper/$cow$i P 16"
	done
	out=$CGBLK_OUT/$setup-$t-$n-qd$qd-$(date +%s%N).json
	d0=$(sectors_read "$stat")
	fio --output-format=json --output="$out" --name=first --filename=/dev/mapper/o \
		--ioengine=libaio --direct=1 --rw=write:4k --bs=4k --iodepth="$qd" \
		--number_ios="$ios" --size=$(( ios * 8 ))k ||
		fail "fio on $t with $n snapshots at QD$qd failed"
	reads=$(( $(sectors_read "$stat") - d0 ))
	iops=$(python3 -c 'import json, sys; print(round(json.load(open(sys.argv[1]))["jobs"][0]["write"]["iops"]))' "$out")
	echo "$setup $t-$n qd$qd $iops $(awk -v r="$reads" -v n="$ios" 'BEGIN { printf "%.2f", r / 16 / n }')" >> "$raw"
	for i in $(seq 1 "$n"); do dmsetup remove --retry s$i; done
	dmsetup remove --retry o
}

for r in $(seq "$ROUNDS"); do
	for n in 1 4; do
		for sq in delay:1 delay:32 bw:32; do
			for t in $(rotate "$r" cgsnap snapshot); do
				one "${sq%:*}" "$t" "$n" "${sq#*:}"
			done
		done
	done
	log "round $r of $ROUNDS done"
done

python3 - "$raw" "$CGBLK_OUT" "$(uname -r)" "$ROUNDS" <<'PY'
import statistics, sys
raw, out, kver, rounds = sys.argv[1:5]
runs = {}
for line in open(raw):
    setup, t, qd, iops, rpw = line.split()
    runs.setdefault((setup, t, qd), []).append((float(iops), float(rpw)))
med = {k: (statistics.median(x[0] for x in v), statistics.median(x[1] for x in v)) for k, v in runs.items()}
lines = ["kernel %s: origin writes of 4 KiB, each to a fresh 8 KiB chunk; P stores, chunk 16 sectors; median of %s runs. "
         "delay: origin and COW devices brd behind dm-delay 1 ms; bw: origin null_blk mbps=8, COW devices brd" % (kver, rounds), "",
         "| set-up | snapshots | QD | cgsnap-origin IOPS | snapshot-origin IOPS | cgsnap / in-tree | origin chunk reads per write: cgsnap / in-tree |",
         "|---|---|---|---|---|---|---|"]
for setup, qds in (("delay", ("qd1", "qd32")), ("bw", ("qd32",))):
    for n in ("1", "4"):
        for qd in qds:
            c = med.get((setup, "cgsnap-" + n, qd))
            s = med.get((setup, "snapshot-" + n, qd))
            if not c or not s:
                continue
            lines.append("| %s | %s | %s | %d | %d | %.2fx | %.2f / %.2f |" % (setup, n, qd[2:], c[0], s[0], c[0] / s[0], c[1], s[1]))
open(out + "/summary.txt", "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
[ -s "$CGBLK_OUT/summary.txt" ] || fail "no summary written"
for i in 0 1 2 3 4; do dmsetup remove --retry d$i; dmsetup remove --retry l$i; done
nullb_cleanup nullb0
cgblk_unload_all
rmmod dm_snapshot
rmmod dm_delay
brd_cleanup
