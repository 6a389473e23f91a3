#!/bin/bash
# Proves: cgloop over a file on a 4 KiB-block file system (ext4 on a 4Kn
# scsi_debug disk) with direct I/O refuses, with EINVAL and no I/O error,
# an O_DIRECT write whose buffer is 512-byte but not 4 KiB aligned — the
# backing file's direct I/O cannot take its segments — and takes
# page-aligned direct I/O and buffered I/O with their data intact (issue
# 13, smaller list: dma_alignment of lbs - 1; before, on 6.x the block
# layer let the write through, to fail as EIO in the backing file when
# its two pages were not contiguous).  5.10's block layer refuses such a
# buffer itself, so the test applies to 6.x.
# kernels: 6.1 6.12 7.3
# timeout: 300
# tier: edges
. "$CGBLK_TOP/tests/lib/guest-lib.sh"

sdbg_setup 4096 96
ext4_on "$SDBG" /scratch/fs
dd if=/dev/zero of=/scratch/fs/img bs=1M count=32 conv=fsync status=none
cgblk_load cgloop backing=/scratch/fs/img
[ "$(cgloop_attr 0 direct_io)" = 1 ] || fail "cgloop0 over the ext4 file does not use direct I/O"
[ "$(blockdev --getss /dev/cgloop0)" = 4096 ] ||
	fail "cgloop0 has $(blockdev --getss /dev/cgloop0)-byte blocks over a 4 KiB-block file system"

# A 4 KiB direct write from a buffer 512 bytes past a page boundary.
mark=$(dmesg_mark)
out=$(fio --name=misaligned --filename=/dev/cgloop0 --direct=1 --rw=write \
	--bs=4k --size=4k --mem_align=512 --ioengine=psync 2>&1) &&
	fail "a 512-byte aligned O_DIRECT write over a 4 KiB-block file succeeded"
echo "$out" | grep -m1 'error' | tee "$CGBLK_OUT/misaligned.txt"
grep -q 'Invalid argument' "$CGBLK_OUT/misaligned.txt" ||
	fail "the misaligned write did not fail with EINVAL: $(cat "$CGBLK_OUT/misaligned.txt")"
! dmesg_since "$mark" | grep -E 'I/O error|cgloop' ||
	fail "the misaligned write reached the backing file"
log "512-aligned O_DIRECT: EINVAL up front"

fio_verify /dev/cgloop0 8M --direct=1 --bsrange=4k-1M
fio_verify /dev/cgloop0 8M --direct=0 --offset=16M --bsrange=4k-1M
rmmod cgloop
cgblk_unload_all
umount /scratch/fs
sdbg_cleanup
