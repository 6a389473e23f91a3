#!/bin/bash
# Proves: I/O through cgloop is charged to the issuing cgroup on the backing
# device: a cgroup that writes 64 MiB (direct, then buffered) sees at least
# that much in its own io.stat for the backing, and it accounts for nearly
# all that was written to the backing (the root cgroup does not absorb it).
# tier: core
# timeout: 300
. "$CGBLK_TOP/tests/lib/guest-lib.sh"

nullb_setup nullb0 256
ext4_on /dev/nullb0 /scratch/ext4
truncate -s 160M /scratch/ext4/img
cgblk_load cgloop backing=/scratch/ext4/img
cg_setup t_direct t_buffered t_idle
dev=$(cat /sys/block/nullb0/dev)
[ "$(cgloop_attr 0 direct_io)" = 1 ] || fail "cgloop0 over ext4 on a 4 KiB null_blk did not get direct I/O"
sync

for mode in direct buffered; do
	cg=t_$mode
	before=$(dev_written_bytes nullb0)
	if [ $mode = direct ]; then
		cg_run $cg "dd if=/dev/zero of=/dev/cgloop0 bs=1M count=64 oflag=direct status=none"
	else
		cg_run $cg "dd if=/dev/zero of=/dev/cgloop0 bs=1M count=64 seek=64 conv=fsync status=none"
	fi
	sync
	total=$(( $(dev_written_bytes nullb0) - before ))
	mine=$(io_stat_bytes $cg "$dev" wbytes)
	[ "$total" -ge $((64 << 20)) ] || fail "nullb0 counted only $total bytes written"
	log "$mode: $cg wrote $mine bytes to nullb0 by its io.stat; nullb0 took $total bytes"
	log "$cg io.stat: $(cat /sys/fs/cgroup/$cg/io.stat)"
	[ "$mine" -ge $((64 << 20)) ] || fail "$cg's io.stat shows $mine bytes on $dev, less than the 64 MiB it wrote"
	[ $((mine * 10)) -ge $((total * 9)) ] ||
		fail "$cg accounts for only $mine of the $total bytes written to nullb0"
done
[ "$(io_stat_bytes t_idle "$dev" wbytes)" -eq 0 ] || fail "an idle cgroup was charged"

rmmod cgloop
cgblk_unload_all
umount /scratch/ext4
nullb_cleanup nullb0
cg_cleanup t_direct t_buffered t_idle
