#!/bin/bash
# Proves: a discard to an Overflow `PO` snapshot with discard_zeroes_cow is
# refused and zeroes nothing, as the in-tree `snapshot` target does (issue
# 13, smaller list: cgsnap zeroed the COW chunks of an overflowed
# snapshot, changing what it reads); before the overflow, the same discard
# zeroes the chunk for both targets.  Origin and COW are loop devices over
# tmpfs files (they take discards).  Chunks of 256 KiB, discards of whole
# chunks: the in-tree target's io_hints set discard_granularity to the
# chunk size in sectors where bytes are meant, and on 7.3 a granularity
# under 512 bytes is a divide error in blk_stack_limits() at table load.
# timeout: 300
# tier: edges
. "$CGBLK_TOP/tests/lib/guest-lib.sh"

is_loaded loop || modprobe loop
modprobe dm-snapshot
cgblk_load dm-cgsnap
truncate -s 16M /scratch/origin.img
dd if=/dev/urandom of=/scratch/origin.img bs=1M count=16 conv=notrunc status=none
origin=$(losetup --find --show --read-only /scratch/origin.img)
dd if=/dev/urandom of=/scratch/w bs=256k count=2 status=none
zero=$(head -c $((256 << 10)) /dev/zero | md5sum | cut -d' ' -f1)

at() {	# DEV CHUNK: checksum of that 256 KiB chunk
	dd if="$1" bs=256k skip="$2" count=1 iflag=direct status=none | md5sum | cut -d' ' -f1
}

for t in snapshot cgsnap; do
	rm -f /scratch/cow.img
	truncate -s 2M /scratch/cow.img	# header, metadata, 6 data chunks
	cow=$(losetup --find --show /scratch/cow.img)
	dm_snap s $t "$origin" "$cow" PO 512 1 discard_zeroes_cow
	mm=$(dmsetup info -c --noheadings -o major,minor --separator : s | tr -d ' ')
	[ "$(cat /sys/dev/block/$mm/queue/discard_max_bytes)" -gt 0 ] || fail "$t: the snapshot takes no discards"
	# chunks 0 and 1 get exceptions; chunk 0 is discarded while valid
	dd if=/scratch/w of=/dev/mapper/s bs=256k count=2 oflag=direct status=none
	blkdiscard -o 0 -l $((256 << 10)) /dev/mapper/s || fail "$t: a discard to a valid snapshot failed"
	[ "$(at /dev/mapper/s 0)" = "$zero" ] || fail "$t: a discard to a valid snapshot did not zero the chunk"
	# overflow
	if dd if=/dev/urandom of=/dev/mapper/s bs=256k count=32 seek=8 oflag=direct status=none 2>/dev/null; then
		fail "$t: 8 MiB written to a 2 MiB COW device without an error"
	fi
	[ "$(dm_info s)" = Overflow ] || fail "$t: status $(dm_info s), not Overflow"
	want=$(at /dev/mapper/s 1)
	[ "$want" = "$(dd if=/scratch/w bs=256k skip=1 count=1 status=none | md5sum | cut -d' ' -f1)" ] ||
		fail "$t: chunk 1 does not read as written before the discard"
	if blkdiscard -o $((256 << 10)) -l $((256 << 10)) /dev/mapper/s 2>/dev/null; then
		log "$t: the discard to the Overflow snapshot was accepted"
		accepted=1
	else
		accepted=0
	fi
	echo 3 > /proc/sys/vm/drop_caches
	[ "$(at /dev/mapper/s 1)" = "$want" ] || fail "$t: a discard to an Overflow snapshot zeroed its data"
	[ $accepted = 0 ] || fail "$t: a discard to an Overflow snapshot was accepted"
	log "$t: discard refused on Overflow, data kept"
	dmsetup remove s
	losetup -d "$cow"
done
losetup -d "$origin"
cgblk_unload_all
rmmod dm_snapshot
