#!/bin/bash
# Proves: a read through a snapshot of a chunk it has not copied, which
# goes to the origin, finishes before an origin write through
# `cgsnap-origin` overwrites that chunk (issue 15, item 3; the case of
# seed 003).  The reader's cgroup has io.max 64 KiB/s of reads on the
# origin device, so its reads wait in blk-throttle *after* cgsnap sent
# them to the origin, for seconds; meanwhile an unthrottled writer
# overwrites the same chunks through cgsnap-origin (its copies are not
# throttled).  The snapshot must still read the old data, and the writes
# must end after the reads.  Reads of 1-12 KiB at 512-byte alignment that
# span chunk boundaries; 8 rounds: one origin write (1-3), two (4-6: the
# second finds the first's exceptions complete while the reads are still
# in flight), and the snapshot's own writes making the copies before one
# origin write (7-8); the hung-task detector at 30 s.
# timeout: 300
# tier: one 6.1 (the full tier runs it everywhere)
. "$CGBLK_TOP/tests/lib/guest-lib.sh"

echo 30 > /proc/sys/kernel/hung_task_timeout_secs 2>/dev/null || true
brd_setup 16 2
fill_random /dev/ram0 16
cgblk_load dm-cgsnap
osz=$(blockdev --getsz /dev/ram0)
dmsetup create orig --table "0 $osz cgsnap-origin /dev/ram0"
dm_snap s cgsnap /dev/ram0 /dev/ram1 P 16	# 8 KiB chunks
cg_setup R
echo "$(cat /sys/block/ram0/dev) rbps=8192" > /sys/fs/cgroup/R/io.max

for round in 1 2 3 4 5 6 7 8; do
	base=$(( round * 262144 ))			# a fresh 256 KiB each round
	# six reads across chunk boundaries: 1-12 KiB, 512-byte aligned
	offs=""
	for i in 0 1 2 3 4 5; do
		offs="$offs $(( base + i * 16384 + 8192 - (i + 1) * 512 )):$(( (i * 2 + 2) * 512 ))"
	done
	i=0
	for o in $offs; do
		dd if=/dev/ram0 of=/scratch/want$i bs="${o#*:}" count=1 skip="${o%:*}" \
			iflag=skip_bytes status=none
		i=$((i + 1))
	done
	# the six reads at once, throttled below cgsnap (8 KiB/s: seconds)
	cg_run R "i=0; for o in $offs; do dd if=/dev/mapper/s of=/scratch/got\$i bs=\${o#*:} count=1 \
		skip=\${o%:*} iflag=direct,skip_bytes status=none & i=\$((i + 1)); done; wait; \
		date +%s.%N > /scratch/rdone" &
	reader=$!
	sleep 0.5
	case $round in
	[1-3])	# the same 96 KiB through the origin, unthrottled
		dd if=/dev/urandom of=/dev/mapper/orig bs=98304 count=1 seek="$base" \
			oflag=direct,seek_bytes status=none || fail "round $round: the origin write failed"
		;;
	[4-6])	# two origin writes: the second finds the first's copies complete
		dd if=/dev/urandom of=/dev/mapper/orig bs=98304 count=1 seek="$base" \
			oflag=direct,seek_bytes status=none &
		w1=$!
		sleep 0.3
		dd if=/dev/urandom of=/dev/mapper/orig bs=98304 count=1 seek="$base" \
			oflag=direct,seek_bytes status=none || fail "round $round: the second origin write failed"
		wait $w1 || fail "round $round: the first origin write failed"
		;;
	*)	# the snapshot's own writes copy the chunks first (not the bytes
		# read: the 2 KiB in the middle of each 8 KiB chunk), then the origin
		for c in 0 1 2 3 4 5 6 7 8 9 10 11; do
			dd if=/dev/urandom of=/dev/mapper/s bs=2048 count=1 \
				seek=$(( base + c * 8192 + 3072 )) oflag=direct,seek_bytes status=none ||
				fail "round $round: a snapshot write failed"
		done
		dd if=/dev/urandom of=/dev/mapper/orig bs=98304 count=1 seek="$base" \
			oflag=direct,seek_bytes status=none || fail "round $round: the origin write failed"
		;;
	esac
	date +%s.%N > /scratch/wdone
	wait $reader || fail "round $round: the snapshot reads failed"
	for i in 0 1 2 3 4 5; do
		cmp -s /scratch/want$i /scratch/got$i ||
			fail "round $round: snapshot read $i returned data the origin got after the snapshot was made"
	done
	awk -v r="$(cat /scratch/rdone)" -v w="$(cat /scratch/wdone)" 'BEGIN { exit !(w >= r) }' ||
		log "round $round: a read was issued only after the write's copies (it read the COW)"
done
log "8 rounds: every throttled snapshot read returned the old data; $(dm_info s)"
grep -E '^(copies|waiters) ' /sys/kernel/debug/cgblk/dm_cgsnap/dm-*@0
dmsetup remove s
dmsetup remove orig
echo "$(cat /sys/block/ram0/dev) rbps=max" > /sys/fs/cgroup/R/io.max
cg_cleanup R
cgblk_unload_all
brd_cleanup
