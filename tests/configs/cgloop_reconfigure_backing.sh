#!/bin/bash
# Proves: one configfs device moved from a block device to a file and back,
# three times, with a refused enable over the block device each time, takes
# the right path every time: each write lands on the backing it is enabled
# over and on no other, and reads back; nothing of an earlier enable (the
# lower device, its bio set) is left for the next (issue 13.9); read-only, a
# write(2) fails with EPERM.
# timeout: 240
# tier: edges
. "$CGBLK_TOP/tests/lib/guest-lib.sh"

cfg=/sys/kernel/config/cgloop
brd_setup 16 1
truncate -s 16M /scratch/img
cgblk_load cgloop
mkdir $cfg/r
d=$cfg/r
dev=/dev/cgloop$(cat $d/index)
sysdir=/sys/block/cgloop$(cat $d/index)/cgloop

# put ROUND KIND: write block ROUND of a fresh pattern through the device
# and check it is on the backing (at the same place) and nowhere else.
put() {
	local round=$1 kind=$2 off
	off=$((round * 65536))
	head -c 65536 /dev/urandom > /scratch/pat.$kind.$round
	dd if=/scratch/pat.$kind.$round of=$dev bs=64k seek=$round oflag=direct status=none
	cmp <(dd if=$dev bs=64k skip=$round count=1 iflag=direct status=none) /scratch/pat.$kind.$round ||
		fail "round $round over the $kind: reads back other data"
	case $kind in
	bdev)
		cmp <(dd if=/dev/ram0 bs=64k skip=$round count=1 status=none) /scratch/pat.bdev.$round ||
			fail "round $round: the write is not on /dev/ram0"
		if cmp -s <(dd if=/scratch/img bs=64k skip=$round count=1 status=none) /scratch/pat.bdev.$round; then
			fail "round $round: a write over /dev/ram0 reached the file"
		fi ;;
	file)
		cmp <(dd if=/scratch/img bs=64k skip=$round count=1 status=none) /scratch/pat.file.$round ||
			fail "round $round: the write is not in the file"
		if cmp -s <(dd if=/dev/ram0 bs=64k skip=$round count=1 status=none) /scratch/pat.file.$round; then
			fail "round $round: a write over the file reached /dev/ram0"
		fi ;;
	esac
}

for round in 1 2 3; do
	echo /dev/ram0 > $d/backing
	echo 1 > $d/enable
	[ "$(cat $sysdir/backing_file)" = /dev/ram0 ] || fail "round $round: not over /dev/ram0"
	put $round bdev
	echo 0 > $d/enable

	# A refused enable over the block device (after it was opened).
	echo $((32 << 20)) > $d/offset
	expect_fail sh -c "echo 1 > $d/enable"
	[ "$(cat $d/enable)" = 0 ] || fail "round $round: a refused enable left it enabled"
	echo 0 > $d/offset

	echo /scratch/img > $d/backing
	echo 1 > $d/enable
	[ "$(cat $sysdir/backing_file)" = /scratch/img ] || fail "round $round: not over the file"
	[ "$(cat $sysdir/complete_in_task)" = 0 ] || fail "round $round: complete_in_task over a file"
	put $round file
	# What the block device rounds wrote is still there, untouched.
	for r in $(seq 1 "$round"); do
		cmp <(dd if=/dev/ram0 bs=64k skip=$r count=1 status=none) /scratch/pat.bdev.$r ||
			fail "round $round: /dev/ram0 lost round $r"
	done
	echo 0 > $d/enable
done

# Read-only over the file: write(2) fails with EPERM (README), and the
# file keeps what it had.
echo 1 > $d/read_only
echo 1 > $d/enable
if dd if=/dev/urandom of=$dev bs=64k seek=1 count=1 oflag=direct status=none 2> /scratch/dd.err; then
	fail "a write to a read-only device succeeded"
fi
grep -q 'Operation not permitted' /scratch/dd.err || fail "a write to a read-only device: $(cat /scratch/dd.err), not EPERM"
cmp <(dd if=/scratch/img bs=64k skip=1 count=1 status=none) /scratch/pat.file.1 ||
	fail "a write to a read-only device reached the file"
echo 0 > $d/enable
rmdir $d
rmmod cgloop
cgblk_unload_all
brd_cleanup
