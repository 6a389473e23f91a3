#!/bin/bash
# Benchmark (make bench TESTS=cgsnap_merge): the merge of one snapshot
# store back into its origin, cgsnap-merge against in-tree snapshot-merge,
# in one boot, on the same devices and the same store (issue 15: merge rate
# >= 1.0x).  The store is made once through a cgsnap snapshot (P, chunk 8
# sectors) of a 64 MiB origin and saved; each run restores origin and COW
# device from the saved copies and times the merge from the resume to the
# status falling to the metadata (polled every 20 ms).  Two stores:
# "scattered", 4096 writes of 4 KiB in random order (snapshot-merge copies
# one chunk per step: read, write, flush, commit; cgsnap-merge the last
# 1 MiB of entries at once), and "sequential", 32 MiB written in order (steps of
# long runs); two set-ups: "ram", origin and COW device brd ramdisks, and
# "delay", both behind dm-delay of 1 ms (reads and writes).  Targets in
# rotating order; medians of ROUNDS runs.
# Output: summary.txt.
# timeout: 3600
. "$CGBLK_TOP/tests/lib/guest-lib.sh"

ROUNDS=${CGBLK_BENCH_ROUNDS:-3}
raw=$CGBLK_OUT/raw.txt
: > "$raw"
brd_setup 64 4		# ram0 origin, ram1 COW; ram2, ram3 their saved copies
cgblk_load dm-cgsnap
modprobe dm-snapshot
modprobe dm-delay
sz=$(blockdev --getsz /dev/ram0)

# store KIND: make the store in ram1 over the origin in ram0, save both
store() {
	fill_random /dev/ram0 64
	dd if=/dev/zero of=/dev/ram1 bs=1M count=1 oflag=direct status=none
	dmsetup create s --table "0 $sz cgsnap /dev/ram0 /dev/ram1 P 8"
	case $1 in
	scattered)
		fio --name=s --filename=/dev/mapper/s --rw=randwrite --bs=4k --size=64M \
			--number_ios=4096 --norandommap=0 --direct=1 --ioengine=psync \
			--output="$CGBLK_OUT/fio-store-$1.txt" || fail "fio making the $1 store" ;;
	sequential)
		dd if=/dev/urandom of=/dev/mapper/s bs=1M count=32 seek=16 oflag=direct status=none ;;
	esac
	STORE_BYTES=$(( $(dmsetup status s | awk '{ split($4, a, "/"); print a[1] - $5 }') * 512 ))
	dmsetup remove s
	dd if=/dev/ram0 of=/dev/ram2 bs=1M oflag=direct status=none
	dd if=/dev/ram1 of=/dev/ram3 bs=1M oflag=direct status=none
}

merged() { dmsetup status m | awk '{ split($4, a, "/"); exit !(a[1] == $5) }'; }

# one KIND SETUP TARGET: restore, merge, append "KIND SETUP TARGET MiB/s"
one() {
	local kind=$1 setup=$2 t=$3 o=/dev/ram0 c=/dev/ram1 t0 t1 i=0
	dd if=/dev/ram2 of=/dev/ram0 bs=1M oflag=direct status=none
	dd if=/dev/ram3 of=/dev/ram1 bs=1M oflag=direct status=none
	if [ "$setup" = delay ]; then
		dmsetup create do --table "0 $sz delay /dev/ram0 0 1"
		dmsetup create dc --table "0 $sz delay /dev/ram1 0 1"
		o=/dev/mapper/do c=/dev/mapper/dc
	fi
	dmsetup create m --notable
	dmsetup load m --table "0 $sz $t $o $c P 8"
	t0=$(date +%s%N)
	dmsetup resume m
	until merged; do
		i=$((i + 1))
		[ $i -lt 30000 ] || fail "$t did not finish the $kind merge ($setup) in 600 s: $(dmsetup status m)"
		sleep 0.02
	done
	t1=$(date +%s%N)
	dmsetup remove --retry m
	[ "$setup" = delay ] && dmsetup remove --retry do dc
	cmp -s /dev/ram0 "$EXPECTED" || fail "$t's $kind merge ($setup) left another origin than the snapshot's"
	echo "$kind $setup $t $(awk -v b="$STORE_BYTES" -v ns=$((t1 - t0)) 'BEGIN { printf "%.2f", b / 1048576 / (ns / 1e9) }')" >> "$raw"
}

for kind in scattered sequential; do
	store "$kind"
	# the snapshot's data: what every merge must leave in the origin
	EXPECTED=/scratch/expected-$kind
	dmsetup create s --table "0 $sz cgsnap /dev/ram2 /dev/ram3 P 8"
	dd if=/dev/mapper/s of="$EXPECTED" bs=1M status=none
	dmsetup remove s
	for r in $(seq "$ROUNDS"); do
		for setup in ram delay; do
			for t in $(rotate "$r" cgsnap-merge snapshot-merge); do
				one "$kind" "$setup" "$t"
			done
		done
		log "$kind: round $r of $ROUNDS done"
	done
	rm -f "$EXPECTED"
done

python3 - "$raw" "$CGBLK_OUT" "$(uname -r)" "$ROUNDS" <<'PY'
import statistics, sys
raw, out, kver, rounds = sys.argv[1:5]
runs = {}
for line in open(raw):
    kind, setup, t, rate = line.split()
    runs.setdefault((kind, setup, t), []).append(float(rate))
med = {k: statistics.median(v) for k, v in runs.items()}
lines = ["kernel %s: merge of one P store (chunk 8 sectors) into a 64 MiB origin, from the resume to the status at "
         "the metadata; MiB/s of exception data; median of %s runs. scattered: 4096 random 4 KiB writes; "
         "sequential: 32 MiB in order; ram: brd; delay: brd behind dm-delay 1 ms" % (kver, rounds), "",
         "| store | set-up | cgsnap-merge MiB/s | snapshot-merge MiB/s | cgsnap / in-tree |",
         "|---|---|---|---|---|"]
for kind in ("scattered", "sequential"):
    for setup in ("ram", "delay"):
        c = med.get((kind, setup, "cgsnap-merge"))
        s = med.get((kind, setup, "snapshot-merge"))
        if c and s:
            lines.append("| %s | %s | %.2f | %.2f | %.2fx |" % (kind, setup, c, s, c / s))
open(out + "/summary.txt", "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
[ -s "$CGBLK_OUT/summary.txt" ] || fail "no summary written"
cgblk_unload_all
rmmod dm_snapshot
rmmod dm_delay
brd_cleanup
