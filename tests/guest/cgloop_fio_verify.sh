#!/bin/bash
# Proves: cgloop devices over a tmpfs file, an ext4 file (direct I/O) and a
# block device keep what fio writes (crc32c, random offsets, 512 B-1 MiB,
# direct and buffered), also after dropping caches, and the bytes land in
# the backing at the configured place, also in a window of a block device.
# tier: one 7.3 (long: the full tier runs it everywhere)
# timeout: 900
. "$CGBLK_TOP/tests/lib/guest-lib.sh"

brd_setup 160 2
ext4_on /dev/ram0 /scratch/ext4
truncate -s 96M /scratch/tmpfs.img
truncate -s 96M /scratch/ext4/ext4.img
cgblk_load cgloop backing=/scratch/tmpfs.img,/scratch/ext4/ext4.img,/dev/ram1
for n in 0 1 2; do
	test -b /dev/cgloop$n || fail "/dev/cgloop$n is not a block device"
	log "cgloop$n: $(cgloop_attr $n backing_file) size $(cgloop_attr $n size) direct_io $(cgloop_attr $n direct_io)"
done
[ "$(cgloop_attr 1 direct_io)" = 1 ] || fail "an ext4 backing file did not get direct I/O"
[ "$(cgloop_attr 2 direct_io)" = 1 ] || fail "a block device backing did not get direct I/O"
[ "$(blockdev --getsize64 /dev/cgloop0)" = $((96 << 20)) ] || fail "cgloop0 has the wrong size"
[ "$(blockdev --getsize64 /dev/cgloop2)" = $((160 << 20)) ] || fail "cgloop2 has the wrong size"

for n in 0 1 2; do
	fio_verify /dev/cgloop$n 24M --direct=1
	fio_verify /dev/cgloop$n 24M --direct=0 --offset=48M
	log "cgloop$n: fio verify passed, direct and buffered"
done

# The data is in the backing, at the same offsets.
sync
for n in 0 1; do
	img=$(cgloop_attr $n backing_file)
	cmp /dev/cgloop$n "$img" || fail "cgloop$n differs from $img"
done
cmp -n $((160 << 20)) /dev/cgloop2 /dev/ram1 || fail "cgloop2 differs from /dev/ram1"
log "device contents equal the backing contents"

# A window of a block device (remapped bios, shifted by the offset).
rmmod cgloop
insmod "$(ko cgloop)"
d=/sys/kernel/config/cgloop/win
mkdir $d
echo /dev/ram1 > $d/backing
echo $((3 << 20)) > $d/offset
echo $((8 << 20)) > $d/size
echo 1 > $d/enable
w=/dev/cgloop$(cat $d/index)
[ "$(blockdev --getsize64 $w)" = $((8 << 20)) ] || fail "the window has the wrong size"
fio_verify $w 8M --direct=1
head -c $((8 << 20)) /dev/urandom > /scratch/pattern
dd if=/scratch/pattern of=$w bs=1M oflag=direct status=none
cmp /scratch/pattern <(dd if=/dev/ram1 bs=1M skip=3 count=8 iflag=direct status=none) ||
	fail "the window's data is not at offset 3 MiB of /dev/ram1"
log "a window at 3 MiB of /dev/ram1 keeps its data in place"
echo 0 > $d/enable
rmdir $d

rmmod cgloop
cgblk_unload_all
umount /scratch/ext4
brd_cleanup
