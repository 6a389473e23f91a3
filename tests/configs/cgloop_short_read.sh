#!/bin/bash
# Proves (issue 13, smaller list): a read past the end of a backing file
# truncated after the device was made reads as zeroes on the direct I/O
# path as on the buffered one, instead of failing only there.  Two devices
# over one 16 MiB image on ext4 (direct_io=1, which uses direct I/O there,
# and direct_io=0); the image is then truncated to 8 MiB: 4 KiB at 12 MiB
# and a 1 MiB read across the new end (7.5 to 8.5 MiB) must succeed
# through both, zeroes past the end and the image's data before it.
# Before the fix the direct device failed them with EIO.
# tier: edges
# timeout: 180
. "$CGBLK_TOP/tests/lib/guest-lib.sh"

brd_setup 64 1
ext4_on /dev/ram0 /mnt/e
head -c 16M /dev/urandom > /mnt/e/img
cgblk_deps cgloop
insmod "$(ko cgloop)" backing=/mnt/e/img,/mnt/e/img direct_io=1
[ "$(cgloop_attr 0 direct_io)" = 1 ] || fail "cgloop0 does not use direct I/O over ext4"
echo 0 > /sys/kernel/config/cgloop/cgloop1/enable
echo 0 > /sys/kernel/config/cgloop/cgloop1/direct_io
echo 1 > /sys/kernel/config/cgloop/cgloop1/enable
[ "$(cgloop_attr 1 direct_io)" = 0 ] || fail "cgloop1 still uses direct I/O"
head -c 8M /mnt/e/img > /scratch/head
truncate -s 8M /mnt/e/img
for n in 0 1; do
	d=/dev/cgloop$n
	dd if=$d of=/scratch/tail bs=4k skip=3072 count=1 iflag=direct status=none ||
		fail "$d (direct_io=$(cgloop_attr $n direct_io)): a read past the backing file's end failed"
	cmp -s /scratch/tail <(head -c 4096 /dev/zero) || fail "$d: past the end is not zeroes"
	dd if=$d of=/scratch/across bs=512k skip=15 count=2 iflag=direct status=none ||
		fail "$d: a read across the backing file's end failed"
	cmp -s <(head -c 512k /scratch/across) <(tail -c 512k /scratch/head) ||
		fail "$d: the data before the end is wrong"
	cmp -s <(tail -c 512k /scratch/across) <(head -c 512k /dev/zero) ||
		fail "$d: past the end is not zeroes (across)"
	log "$d (direct_io=$(cgloop_attr $n direct_io)): past the end reads as zeroes, before it the data"
done
rmmod cgloop
cgblk_unload_all
umount /mnt/e
brd_cleanup
