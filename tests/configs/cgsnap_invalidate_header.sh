#!/bin/bash
# Proves: when a P snapshot becomes Invalid its header says so on disk
# (issue 13.5), for chunks of 512 KiB (kmalloc-only buffers on 5.10) and
# of 8 KiB: a full COW device writes the invalid header at once; a COW
# device that fails (an `error` table) while the header is written gets it
# written when it works again (the write is retried, from the snapshot's
# own workqueue: suspend and resume still go on meanwhile); either way the
# in-tree `snapshot` target and cgsnap then open the store as Invalid; and
# a snapshot whose COW device never comes back is removed without a hang.
# The allocation failure itself cannot be injected on stock kernels (no
# FAULT_INJECTION): the buffer is now made when the table is.
# timeout: 600
# tier: one 6.12 (the full tier runs it everywhere)
. "$CGBLK_TOP/tests/lib/guest-lib.sh"

brd_setup 64 3
fill_random /dev/ram0 32
blockdev --setro /dev/ram0
modprobe dm-snapshot
cgblk_load dm-cgsnap

# header_valid DEV: the le32 "valid" field of the SnAp header on DEV
header_valid() { dd if="$1" bs=512 count=1 iflag=direct status=none | od -An -tu4 -j4 -N4 | tr -d ' '; }
header_invalid() { [ "$(header_valid "$1")" = 0 ]; }
expect_invalid() {	# COW CHUNK WHAT: both targets open the store as Invalid
	local t
	for t in snapshot cgsnap; do
		dm_snap chk $t /dev/ram0 "$1" P "$2"
		[ "$(dm_info chk)" = Invalid ] || fail "$3: $t opens the store as $(dm_info chk), not Invalid"
		dmsetup remove chk
	done
}
swap() {	# NAME TABLE: a new table for a live device, with I/O in flight
	dmsetup load "$1" --table "$2"
	dmsetup suspend --noflush --nolockfs "$1"
	dmsetup resume "$1"
}

for chunk in 1024 16; do
	# 1. a full COW device (1 header + 1 metadata + 6 data chunks of 512 KiB)
	dd if=/dev/zero of=/dev/ram1 bs=1M count=1 oflag=direct status=none
	dmsetup create small --table "0 $((8 * 1024)) linear /dev/ram1 0"
	dm_snap s1 cgsnap /dev/ram0 /dev/mapper/small P $chunk
	[ "$(header_valid /dev/mapper/small)" = 1 ] || fail "$chunk: a new store's header is not valid"
	if dd if=/dev/urandom of=/dev/mapper/s1 bs=64k count=512 oflag=direct status=none 2>/dev/null; then
		fail "$chunk: 32 MiB written to a 4 MiB COW device without an error"
	fi
	[ "$(dm_info s1)" = Invalid ] || fail "$chunk: full COW device: status $(dm_info s1)"
	wait_for 20 header_invalid /dev/mapper/small
	dmsetup remove s1
	expect_invalid /dev/mapper/small $chunk "$chunk, full COW device"
	dmsetup remove small
	log "$chunk: a full COW device leaves an Invalid header"

	# 2. the COW device fails, then works again
	dd if=/dev/zero of=/dev/ram1 bs=1M count=1 oflag=direct status=none
	cowsz=$(blockdev --getsz /dev/ram1)
	dmsetup create cowlin --table "0 $cowsz linear /dev/ram1 0"
	dm_snap s1 cgsnap /dev/ram0 /dev/mapper/cowlin P $chunk
	dd if=/dev/urandom of=/dev/mapper/s1 bs=64k count=32 oflag=direct status=none
	mark=$(dmesg_mark)
	swap cowlin "0 $cowsz error"
	if dd if=/dev/urandom of=/dev/mapper/s1 bs=4k count=1 seek=4096 oflag=direct status=none 2>/dev/null; then
		fail "$chunk: a write needing a copy to a failing COW device succeeded"
	fi
	[ "$(dm_info s1)" = Invalid ] || fail "$chunk: failing COW device: status $(dm_info s1)"
	wait_for 30 sh -c "dmesg | tail -n +$((mark + 1)) | grep -q 'Cannot mark the snapshot invalid on disk'"
	# the snapshot can be suspended and resumed while the header waits
	timeout 30 dmsetup suspend s1 || fail "$chunk: suspend hangs while the header write fails"
	dmsetup resume s1
	swap cowlin "0 $cowsz linear /dev/ram1 0"
	wait_for 30 header_invalid /dev/ram1
	dmesg_since "$mark" | grep cgsnap | tail -n 3
	dmsetup remove s1
	expect_invalid /dev/mapper/cowlin $chunk "$chunk, COW device back"

	# 3. the COW device never comes back: remove does not hang
	dd if=/dev/zero of=/dev/ram1 bs=1M count=1 oflag=direct status=none
	dm_snap s1 cgsnap /dev/ram0 /dev/mapper/cowlin P $chunk
	swap cowlin "0 $cowsz error"
	if dd if=/dev/urandom of=/dev/mapper/s1 bs=4k count=1 seek=4096 oflag=direct status=none 2>/dev/null; then
		fail "$chunk: a write needing a copy to a failing COW device succeeded"
	fi
	timeout 60 dmsetup remove s1 || fail "$chunk: remove hangs with the COW device gone"
	dmsetup remove cowlin
	log "$chunk: header retried until the COW device came back; remove with it gone ok"
done
blockdev --setrw /dev/ram0
cgblk_unload_all
rmmod dm_snapshot
brd_cleanup
