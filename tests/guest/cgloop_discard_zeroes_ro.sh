#!/bin/bash
# Proves: discard punches holes in a backing file (the range reads back as
# zeroes and the file shrinks), write zeroes zeroes, data written and
# flushed survives remounting the backing file system, and writes to a
# read-only device fail.
# tier: edges
# timeout: 300
. "$CGBLK_TOP/tests/lib/guest-lib.sh"

brd_setup 96 1
ext4_on /dev/ram0 /scratch/ext4
truncate -s 32M /scratch/ext4/img
cgblk_load cgloop
d=/sys/kernel/config/cgloop/t
mkdir $d
echo /scratch/ext4/img > $d/backing
echo 1 > $d/enable
dev=/dev/cgloop$(cat $d/index)
[ "$(cat /sys/block/${dev#/dev/}/queue/discard_max_bytes)" -gt 0 ] || fail "no discard on an ext4 file"

head -c $((8 << 20)) /dev/urandom > /scratch/data
dd if=/scratch/data of=$dev bs=1M conv=fsync status=none
used=$(du -k /scratch/ext4/img | cut -f1)
blkdiscard -o $((2 << 20)) -l $((4 << 20)) $dev
after=$(du -k /scratch/ext4/img | cut -f1)
log "backing file: ${used} KiB before discard, ${after} KiB after"
[ "$after" -le $((used - 4096)) ] || fail "discard of 4 MiB freed only $((used - after)) KiB"
cmp -n $((4 << 20)) /dev/zero <(dd if=$dev bs=1M skip=2 count=4 iflag=direct status=none) ||
	fail "a discarded range does not read as zeroes"
cmp -n $((2 << 20)) /scratch/data $dev || fail "discard touched data before the range"

blkdiscard -z -o $((6 << 20)) -l $((1 << 20)) $dev
cmp -n $((1 << 20)) /dev/zero <(dd if=$dev bs=1M skip=6 count=1 iflag=direct status=none) ||
	fail "write zeroes did not zero"
cmp <(dd if=/scratch/data bs=1M skip=7 count=1 status=none) \
    <(dd if=$dev bs=1M skip=7 count=1 iflag=direct status=none) ||
	fail "write zeroes touched data after the range"

# Flushed data reaches the backing file's disk.
dd if=/scratch/data of=$dev bs=1M seek=16 count=8 conv=fsync status=none
echo 0 > $d/enable
umount /scratch/ext4
mount -t ext4 /dev/ram0 /scratch/ext4
cmp <(dd if=/scratch/ext4/img bs=1M skip=16 count=8 status=none) /scratch/data ||
	fail "flushed data is not in the backing file after a remount"

# Read-only.
echo 1 > $d/read_only
echo 1 > $d/enable
[ "$(blockdev --getro $dev)" = 1 ] || fail "a read_only device is writable"
[ "$(cat /sys/block/${dev#/dev/}/cgloop/read_only)" = 1 ] || fail "sysfs read_only is not 1"
expect_fail dd if=/scratch/data of=$dev bs=1M count=1 oflag=direct status=none
cmp -n $((1 << 20)) /scratch/data $dev || fail "a write reached a read-only device"

echo 0 > $d/enable
rmdir $d
rmmod cgloop
cgblk_unload_all
umount /scratch/ext4
brd_cleanup
