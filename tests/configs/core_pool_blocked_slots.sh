#!/bin/bash
# Proves: cgroups whose workers are blocked in submission (iocost,
# blk-throttle, memory.max reclaim) do not stall another cgroup's worker,
# however many of them there are up to the pool's cap (issue 13.12; before
# the fix the pool's workqueue had the default max_active, 256: the 257th
# cgroup's item waited for one of the 256 to return).  300 cgroups each
# block one item of cgblk_test_pool, queued one at a time: each must start
# while the others are blocked, and then a 301st cgroup's items must run.
# tier: edges
# timeout: 300
. "$CGBLK_TOP/tests/lib/guest-lib.sh"

d=/sys/kernel/debug/cgblk/cgblk_test_pool
stat() {	# stat FIELD
	awk -v f="$1" '{for (i = 1; i < NF; i++) if ($i == f) print $(i + 1)}' $d/stats
}
stat_is() { [ "$(stat "$1")" -eq "$2" ]; }
N=300

cg_setup y
for i in $(seq $N); do mkdir /sys/fs/cgroup/c$i; done
insmod "$(ko cgblk_core)"
insmod "$(ko cgblk_test_pool)" idle_ms=600000
# One at a time, each started before the next is queued: a kworker that
# takes over 10 ms to create (TCG) makes the workqueue send its rescuer,
# which takes every item then pending in one batch and runs them one after
# another, behind the first that blocks (see README, "cgblk_core").
# blocked_reaches N: poll (no fork but sleep) until N items are blocked.
blocked_reaches() {
	local end=$((SECONDS + 30)) _ q dn w b
	while [ $SECONDS -lt $end ]; do
		read -r _ q _ dn _ w _ b _ < $d/stats
		[ "$b" -lt "$1" ] || return 0
		sleep 0.02
	done
	return 1
}
(
	for i in $(seq $N); do
		echo $BASHPID > /sys/fs/cgroup/c$i/cgroup.procs
		echo "1 block 2" > $d/queue
		blocked_reaches $i || { echo "$i" > /scratch/stalled; exit 1; }
		[ $((i % 50)) -ne 0 ] || log "$i cgroups blocked"
	done
) || {
	i=$(cat /scratch/stalled)
	echo 1 > $d/release
	fail "cgroup c$i's item did not start in 30 s while $((i - 1)) cgroups were blocked"
}
log "$N cgroups blocked, $(ps -e -o comm= | grep -c '^kworker/u') unbound kworkers"
cg_run y "echo 10 > $d/queue"
ok=0
for i in $(seq 150); do
	stat_is done 10 && { ok=1; break; }
	sleep 0.2
done
echo 1 > $d/release
[ $ok = 1 ] || fail "y's 10 items did not run while $N cgroups were blocked: done $(stat done)"
wait_for 120 stat_is done $((N + 10))
stat_is wrong 0 || fail "$(stat wrong) items ran without their charge"
rmmod cgblk_test_pool
cgblk_unload_all
for i in $(seq $N); do rmdir /sys/fs/cgroup/c$i; done
cg_cleanup y
