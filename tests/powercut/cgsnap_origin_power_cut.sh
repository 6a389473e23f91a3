#!/bin/bash
# Proves (issue 15): a power cut while the origin is written through
# cgsnap-origin loses no flushed origin write and leaves every snapshot
# reading exactly the origin as it was when it was made.  Two persistent
# snapshots of different chunk sizes (8 KiB and 64 KiB: one read serves
# both), an 8 MiB origin write flushed (fsync), then writes in flight at
# the cut (tests/run kills qemu).  After the cut: both stores open valid,
# both snapshots read the origin of their creation over the whole device,
# the flushed origin write is there, and the in-tree snapshot target reads
# both stores the same way.
# Phase 1 (CGBLK_PHASE=1): origin and COW devices are dm-linear parts of a
# virtio disk backed by a host file; write, fsync, write on, cut.
# Phase 2: check.
# tier: one 7.3 (power cut: two boots)
# timeout: 300
. "$CGBLK_TOP/tests/lib/guest-lib.sh"

is_loaded virtio_blk || modprobe virtio_blk
wait_for 10 test -b /dev/vda
dmsetup create org --table "0 65536 linear /dev/vda 0"		# 32 MiB
dmsetup create cow1 --table "0 98304 linear /dev/vda 65536"	# 48 MiB
dmsetup create cow2 --table "0 98304 linear /dev/vda 163840"	# 48 MiB
# seeded data, the same in both phases: the origin at the snapshots'
# creation (32 MiB) and the flushed origin write (8 MiB)
seeded() { python3 -c 'import random, sys; random.seed(int(sys.argv[1]))
sys.stdout.buffer.write(random.randbytes(int(sys.argv[2]) << 20))' "$1" "$2"; }
seeded 20261203 32 > /scratch/at_snap
seeded 20261204 8 > /scratch/flushed

if [ "$CGBLK_PHASE" = 1 ]; then
	dd if=/scratch/at_snap of=/dev/mapper/org bs=1M oflag=direct status=none
	dd if=/dev/zero of=/dev/mapper/cow1 bs=1M count=1 oflag=direct status=none
	dd if=/dev/zero of=/dev/mapper/cow2 bs=1M count=1 oflag=direct status=none
	sync
	dm_snap s1 cgsnap /dev/mapper/org /dev/mapper/cow1 P 16
	dm_snap s2 cgsnap /dev/mapper/org /dev/mapper/cow2 P 128
	dmsetup create o --table "0 65536 cgsnap-origin /dev/mapper/org"
	dd if=/scratch/flushed of=/dev/mapper/o bs=64k seek=64 conv=fsync status=none
	log "flushed 8 MiB at 4 MiB through cgsnap-origin; s1 $(dm_info s1), s2 $(dm_info s2)"
	# more origin writes, never flushed, some in flight at the cut: 4 KiB
	# at 16-24 MiB, 12 KiB (across chunks) at 24-30 MiB
	dd if=/dev/urandom of=/dev/mapper/o bs=4k count=2048 seek=4096 oflag=direct status=none &
	dd if=/dev/urandom of=/dev/mapper/o bs=12k count=512 seek=2048 oflag=direct status=none &
	sleep 2
	echo POWERCUT > /dev/ttyS1
	sleep 120
	fail "still running after the power cut"
fi

dm_snap s1 cgsnap /dev/mapper/org /dev/mapper/cow1 P 16
dm_snap s2 cgsnap /dev/mapper/org /dev/mapper/cow2 P 128
for n in 1 2; do
	st=$(dm_info s$n)
	log "after the power-off, s$n: $st"
	echo "$st" | grep -Eq '^[0-9]+/[0-9]+ [0-9]+$' || fail "s$n's store did not open valid: $st"
	cmp /scratch/at_snap /dev/mapper/s$n || fail "s$n does not read the origin as it was at its creation"
done
cmp -n $((8 << 20)) /scratch/flushed <(dd if=/dev/mapper/org bs=64k skip=64 count=128 iflag=direct status=none) ||
	fail "the flushed origin write was lost in the power-off"
cmp -n $((4 << 20)) /scratch/at_snap /dev/mapper/org || fail "origin chunks never written changed"
for n in 1 2; do
	st=$(dm_info s$n)
	dmsetup remove s$n
	dm_snap t$n snapshot /dev/mapper/org /dev/mapper/cow$n P $(( n == 1 ? 16 : 128 ))
	cmp /scratch/at_snap /dev/mapper/t$n || fail "the in-tree snapshot target reads s$n's store differently"
	[ "$(dm_info t$n)" = "$st" ] || fail "snapshot's status $(dm_info t$n) differs from cgsnap's $st"
	dmsetup remove t$n
done
log "both stores read the same under the in-tree snapshot target"
dmsetup remove org
dmsetup remove cow1
dmsetup remove cow2
cgblk_unload_all
rmmod dm_snapshot
