#!/bin/bash
# Proves: cgblk_pool_note_current() (cgloop's ->open) racing with a
# cgroup's I/O never puts a worker on the idle list while its work item is
# pending or running (issue 13.7: "list_add double add", or the reaper
# freeing a queued worker): fio with numjobs=8 in one cgroup through cgloop
# (over a brd ramdisk and over a tmpfs file, direct, idle_timeout_ms=20 so
# that the reaper runs throughout), each job opening the device, while the
# same cgroup opens and closes the device in a loop: no kernel report, data
# verified.  On 5.10 note_current() lends the cgroup's mm to its worker;
# elsewhere it does nothing and this is a stress of the pool.  Not
# deterministic: it makes the window frequent, it cannot force it.
# timeout: 600
# tier: one 5.10 (its bug was 5.10's: the full tier runs it everywhere)
. "$CGBLK_TOP/tests/lib/guest-lib.sh"

echo "+io +memory" > /sys/fs/cgroup/cgroup.subtree_control
mkdir /sys/fs/cgroup/x

# fio, 8 jobs in one cgroup, each opening the device, workers reaped
# after 20 ms idle, and the cgroup opening the device in a loop.
brd_setup 64 1
truncate -s 32M /scratch/backing.img
cgblk_load cgloop backing=/dev/ram0,/scratch/backing.img idle_timeout_ms=20
wait_for 10 test -b /dev/cgloop1
opener() {	# DEV: open and close DEV until /scratch/stop exists
	echo $BASHPID > /sys/fs/cgroup/x/cgroup.procs
	local n=0
	while [ ! -e /scratch/stop ]; do
		: < "$1"
		n=$((n + 1))
	done
	echo $n > "/scratch/opens-$(basename "$1")"
}
for dev in /dev/cgloop0 /dev/cgloop1; do
	rm -f /scratch/stop
	opener $dev &
	opener_pid=$!
	(
		echo $BASHPID > /sys/fs/cgroup/x/cgroup.procs
		fio_verify $dev 4M --direct=1 --numjobs=8 --offset_increment=4M \
			--thinktime=30000 --thinktime_blocks=16
	)
	touch /scratch/stop
	wait $opener_pid
	log "$dev: fio verified, $(cat "/scratch/opens-$(basename $dev)") opens from x meanwhile"
done
cat /sys/kernel/debug/cgblk/cgloop/cgloop0/workers
rmmod cgloop
cgblk_unload_all
brd_cleanup
rmdir /sys/fs/cgroup/x
