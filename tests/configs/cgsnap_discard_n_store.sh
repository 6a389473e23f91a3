#!/bin/bash
# Proves: a discard with discard_zeroes_cow to a transient (`N`) snapshot
# zeroes every chunk that has an exception, the first one too (review of
# the dm-cgsnap split: the discard path took COW sector 0 for "no
# exception", but an N store has no header and gives its first copy COW
# chunk 0, so a discard of that chunk zeroed nothing and reported
# success).  Checked against the in-tree `snapshot` target on the same
# devices.  Origin and COW are loop devices over tmpfs files (they take
# discards); chunks of 256 KiB for the reason cgsnap_overflow_discard gives.
# timeout: 300
# tier: edges
. "$CGBLK_TOP/tests/lib/guest-lib.sh"

is_loaded loop || modprobe loop
modprobe dm-snapshot
cgblk_load dm-cgsnap
truncate -s 16M /scratch/origin.img
dd if=/dev/urandom of=/scratch/origin.img bs=1M count=16 conv=notrunc status=none
origin=$(losetup --find --show --read-only /scratch/origin.img)
dd if=/dev/urandom of=/scratch/w bs=256k count=3 status=none
zero=$(head -c $((256 << 10)) /dev/zero | md5sum | cut -d' ' -f1)

at() {	# DEV CHUNK: checksum of that 256 KiB chunk
	dd if="$1" bs=256k skip="$2" count=1 iflag=direct status=none | md5sum | cut -d' ' -f1
}
w_at() { dd if=/scratch/w bs=256k skip="$1" count=1 status=none | md5sum | cut -d' ' -f1; }

for t in snapshot cgsnap; do
	rm -f /scratch/cow.img
	truncate -s 4M /scratch/cow.img
	cow=$(losetup --find --show /scratch/cow.img)
	dm_snap s $t "$origin" "$cow" N 512 1 discard_zeroes_cow
	# the first three origin chunks get exceptions, COW chunks 0, 1, 2
	dd if=/scratch/w of=/dev/mapper/s bs=256k count=3 oflag=direct status=none
	for c in 0 1 2; do
		[ "$(at /dev/mapper/s $c)" = "$(w_at $c)" ] || fail "$t: chunk $c does not read as written"
	done
	# discard the first two chunks (the first one is at COW sector 0)
	blkdiscard -o 0 -l $((512 << 10)) /dev/mapper/s || fail "$t: the discard failed"
	echo 3 > /proc/sys/vm/drop_caches
	for c in 0 1; do
		[ "$(at /dev/mapper/s $c)" = "$zero" ] ||
			fail "$t: chunk $c (COW chunk $c) is not zero after a discard with discard_zeroes_cow"
	done
	[ "$(at /dev/mapper/s 2)" = "$(w_at 2)" ] || fail "$t: the discard changed chunk 2, outside its range"
	[ "$(dm_info s)" != Invalid ] || fail "$t: the snapshot became invalid"
	log "$t: N store, discard zeroed COW chunks 0 and 1, kept chunk 2"
	dmsetup remove s
	losetup -d "$cow"
done
losetup -d "$origin"
cgblk_unload_all
rmmod dm_snapshot
