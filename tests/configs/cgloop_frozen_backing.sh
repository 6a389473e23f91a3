#!/bin/bash
# Proves: with the backing file system frozen (fsfreeze -f), a direct write
# through cgloop (the asynchronous direct I/O path) waits for the thaw in
# the worker — it does not reach the frozen image and the kernel does not
# warn — and completes with the right data after fsfreeze -u (issue 13.4).
# timeout: 240
# tier: edges
. "$CGBLK_TOP/tests/lib/guest-lib.sh"

brd_setup 64 1
ext4_on /dev/ram0 /scratch/fs
dd if=/dev/zero of=/scratch/fs/img bs=1M count=16 conv=fsync status=none
cgblk_load cgloop backing=/scratch/fs/img
[ "$(cgloop_attr 0 direct_io)" = 1 ] || fail "cgloop0 over an ext4 file does not use direct I/O"
head -c 65536 /dev/urandom > /scratch/pat

# A task blocked on the freeze from cgloop's I/O path: its stack waits on
# the superblock's percpu rwsem under a cgloop function.
worker_frozen() {
	local s
	for s in /proc/[0-9]*/stack; do
		grep -q 'percpu_rwsem_wait\|percpu_down_read' "$s" 2>/dev/null &&
			grep -q '\[cgloop\]' "$s" 2>/dev/null && return 0
	done
	return 1
}
writes_in_flight() { [ "$(awk '{print $2}' /sys/block/cgloop0/inflight)" -gt 0 ]; }
done_or_in_flight() { ! kill -0 "$1" 2>/dev/null || writes_in_flight; }

mark=$(dmesg_mark)
fsfreeze -f /scratch/fs
dd if=/scratch/pat of=/dev/cgloop0 bs=64k seek=2 count=1 oflag=direct status=none &
ddpid=$!
wait_for 30 done_or_in_flight $ddpid
kill -0 $ddpid 2>/dev/null || { fsfreeze -u /scratch/fs; fail "a direct write completed while the backing file system was frozen"; }
if ! (wait_for 20 worker_frozen); then
	fsfreeze -u /scratch/fs
	fail "the write is not waiting for the thaw in cgloop's I/O path"
fi
log "the write waits in the worker for the thaw"
if dd if=/scratch/fs/img bs=64k skip=2 count=1 iflag=direct status=none | cmp -s - /scratch/pat; then
	fsfreeze -u /scratch/fs
	fail "the write landed on the frozen image"
fi
kill -0 $ddpid 2>/dev/null || { fsfreeze -u /scratch/fs; fail "the write completed on a frozen file system"; }
fsfreeze -u /scratch/fs
wait $ddpid || fail "the write failed after the thaw"
cmp <(dd if=/dev/cgloop0 bs=64k skip=2 count=1 iflag=direct status=none) /scratch/pat ||
	fail "cgloop0 reads back other data after the thaw"
cmp <(dd if=/scratch/fs/img bs=64k skip=2 count=1 iflag=direct status=none) /scratch/pat ||
	fail "the image holds other data after the thaw"
if dmesg_since "$mark" | grep -E 'WARNING|ext4_journal_check_start'; then
	fail "the kernel warned"
fi

# Freeze again with nothing in flight: fsfreeze itself does not wait for
# cgloop (no freeze protection leaked by the write above).
timeout 30 fsfreeze -f /scratch/fs || fail "fsfreeze -f hangs after the write: freeze protection leaked"
fsfreeze -u /scratch/fs

rmmod cgloop
cgblk_unload_all
umount /scratch/fs
brd_cleanup
