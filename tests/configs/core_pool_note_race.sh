#!/bin/bash
# Proves: cgblk_pool_note_current() never puts a worker on the idle list
# while its work item is pending or running (issue 13.7): a deterministic
# interleaving through tests/modules/cgblk_test_pool.c (the pool's
# workqueue saturated by WQ_DFL_ACTIVE blocked cgroups, so that a worker's
# work stays pending after its items ran, and the worker's cgroup then
# opens the pool), and fio with numjobs=8 in one cgroup through cgloop (over
# a brd ramdisk and over a tmpfs file, idle_timeout_ms=20 so that the
# reaper runs throughout) while the same cgroup opens the device in a loop:
# no kernel report, data verified.  On 5.10 note_current() lends the
# cgroup's mm to its worker; elsewhere it does nothing and this is a
# plain stress of the pool.
# timeout: 600
# tier: edges
. "$CGBLK_TOP/tests/lib/guest-lib.sh"

d=/sys/kernel/debug/cgblk/cgblk_test_pool
stat() {	# stat FIELD
	awk -v f="$1" '{for (i = 1; i < NF; i++) if ($i == f) print $(i + 1)}' $d/stats
}
stat_is() { [ "$(stat "$1")" -eq "$2" ]; }
worker_line() { grep -q "^/$1 queued $2 done $3 " $d/workers; }

# 1. The interleaving, step by step.  x's first item holds its worker
#    (gate 1); WQ_DFL_ACTIVE - 1 cgroups block one worker each (gate 0):
#    with a workqueue of the default max_active every slot is taken.  A
#    root-cgroup item (the fallback worker, gate 2) and a second item of x
#    are queued behind them.
echo "+io +memory" > /sys/fs/cgroup/cgroup.subtree_control
insmod "$(ko cgblk_core)"
insmod "$(ko cgblk_test_pool)" idle_ms=600000
dfl=$(stat dfl_active)
nb=$((dfl - 1))
log "WQ_DFL_ACTIVE $dfl: $nb blocking cgroups"
mkdir /sys/fs/cgroup/x
for i in $(seq $nb); do mkdir /sys/fs/cgroup/b$i; done
cg_run x "echo '1 block 1' > $d/queue"
wait_for 30 stat_is blocked 1
(
	for i in $(seq $nb); do
		echo $BASHPID > /sys/fs/cgroup/b$i/cgroup.procs
		echo "1 block 0" > $d/queue
	done
)
wait_for 120 stat_is blocked $dfl
echo "1 block 2" > $d/queue			# root: the fallback worker
cg_run x "echo 1 > $d/queue"			# x's second item
log "before x runs on: blocked $(stat blocked) (the fallback's item waits for a slot where max_active is $dfl)"

# x's worker runs both its items; its work may have been queued again
# meanwhile (the second item), and then waits behind the fallback's.
echo 1 > $d/open
wait_for 30 worker_line x 0 2
wait_for 30 stat_is blocked $dfl		# gate 0 and the fallback's
grep '^/x ' $d/workers
# x's cgroup comes by (cgloop calls this from ->open).
cg_run x "echo 1 > $d/note"
# Let the fallback finish: the slot goes to what waited behind it.
echo 2 > $d/open
wait_for 30 stat_is done 3
echo 1 > $d/release
wait_for 120 stat_is done $((nb + 3))
cat $d/workers > "$CGBLK_OUT/workers.txt"
[ "$(stat wrong)" -eq 0 ] || fail "$(stat wrong) items ran without their charge"
[ "$(stat workers)" -eq $((nb + 1)) ] || fail "$(stat workers) workers, expected $((nb + 1))"
rmmod cgblk_test_pool
for i in $(seq $nb); do rmdir /sys/fs/cgroup/b$i; done
log "deterministic interleaving: no report"

# 2. fio, 8 jobs in one cgroup, each opening the device, workers reaped
#    after 20 ms idle, and the cgroup opening the device in a loop.
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
