#!/bin/bash
# Proves: 300 cgroups whose workers are blocked in submission (iocost,
# blk-throttle, memory.max reclaim) do not stall another cgroup's worker
# (issue 13.12; before the fix the pool's workqueue had the default
# max_active, 256: the 257th cgroup's item waited for one of the 256 to
# return).  The pool's cap (511, 2047 on 7.3) is not tried.  300 cgroups each
# block one item of cgblk_test_pool, queued one at a time: each must start
# while the others are blocked, and then a 301st cgroup's items must run.
# tier: one 6.12 (300 cgroups; the full tier runs it everywhere)
# timeout: 300
. "$CGBLK_TOP/tests/lib/guest-lib.sh"

d=$TP
N=300

cg_setup y $(seq -f c%g $N)
insmod "$(ko cgblk_core)"
insmod "$(ko cgblk_test_pool)" idle_ms=600000
# One at a time, each started before the next is queued: a kworker that
# takes over MAYDAY_INITIAL_TIMEOUT (10 ms) to create, as seen under TCG,
# makes the workqueue send its rescuer, which takes every started-ready
# item then waiting in one batch and runs them one after another, behind
# the first that blocks (see README, "cgblk_core").
(
	for i in $(seq $N); do
		echo $BASHPID > /sys/fs/cgroup/c$i/cgroup.procs
		echo "1 block 2" > $d/queue
		tp_blocked_reaches $i || { echo "$i" > /scratch/stalled; exit 1; }
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
	tp_stat_is done 10 && { ok=1; break; }
	sleep 0.2
done
echo 1 > $d/release
[ $ok = 1 ] || fail "y's 10 items did not run while $N cgroups were blocked: done $(tp_stat done)"
wait_for 120 tp_stat_is done $((N + 10))
tp_stat_is wrong 0 || fail "$(tp_stat wrong) items ran without their charge"
rmmod cgblk_test_pool
cgblk_unload_all
cg_cleanup y $(seq -f c%g $N)
