#!/bin/bash
# Proves: writes to a cgsnap snapshot that completed before a sync survive
# a hard power-off of the VM (tests/run kills qemu), with writes in flight
# at the moment of the cut; the persistent store opens afterwards (valid)
# under cgsnap and under the in-tree snapshot target with the same
# contents; chunks never written still read as the origin.
# Phase 1 (CGBLK_PHASE=1): origin and COW are dm-linear parts of a virtio
# disk backed by a host file; fill, write, fsync, write on, cut.
# Phase 2: check.
# tier: one 6.12 (power cut: two boots)
# timeout: 300
. "$CGBLK_TOP/tests/lib/guest-lib.sh"

is_loaded virtio_blk || modprobe virtio_blk
wait_for 10 test -b /dev/vda
dmsetup create org --table "0 65536 linear /dev/vda 0"		# 32 MiB
dmsetup create cow --table "0 196608 linear /dev/vda 65536"	# 96 MiB
# the synced data: 8 MiB from a seeded generator, the same in both phases
python3 -c 'import random, sys; random.seed(20261122)
sys.stdout.buffer.write(random.randbytes(8 << 20))' > /scratch/synced

if [ "$CGBLK_PHASE" = 1 ]; then
	dd if=/dev/urandom of=/dev/mapper/org bs=1M count=32 oflag=direct status=none
	dd if=/dev/zero of=/dev/mapper/cow bs=1M count=1 oflag=direct status=none
	sync
	blockdev --setro /dev/mapper/org
	dm_snap p cgsnap /dev/mapper/org /dev/mapper/cow P 16
	dd if=/scratch/synced of=/dev/mapper/p bs=4k seek=1000 conv=fsync status=none
	log "synced 8 MiB at 4 MiB; status $(dm_info p)"
	# more writes, never synced, some in flight at the cut
	dd if=/dev/urandom of=/dev/mapper/p bs=4k count=2048 seek=5000 oflag=direct status=none &
	sleep 2
	echo POWERCUT > /dev/ttyS1
	sleep 120
	fail "still running after the power cut"
fi

blockdev --setro /dev/mapper/org
dm_snap p cgsnap /dev/mapper/org /dev/mapper/cow P 16
st=$(dm_info p)
log "after the power-off, cgsnap: $st"
echo "$st" | grep -Eq '^[0-9]+/[0-9]+ [0-9]+$' || fail "the store did not open valid: $st"
cmp -n $((8 << 20)) /scratch/synced <(dd if=/dev/mapper/p bs=4k skip=1000 count=2048 status=none) ||
	fail "synced writes lost in the power-off"
cmp -n $((1000 * 4096)) /dev/mapper/org /dev/mapper/p || fail "chunks never written differ from the origin"
sum=$(md5 /dev/mapper/p)
dmsetup remove p
dm_snap p snapshot /dev/mapper/org /dev/mapper/cow P 16
[ "$(md5 /dev/mapper/p)" = "$sum" ] || fail "the in-tree snapshot target reads the store differently"
[ "$(dm_info p)" = "$st" ] || fail "snapshot's status $(dm_info p) differs from cgsnap's $st"
log "the in-tree snapshot target agrees: $(dm_info p)"
dmsetup remove p
dmsetup remove org
dmsetup remove cow
cgblk_unload_all
rmmod dm_snapshot
