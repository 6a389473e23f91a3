#!/bin/bash
# Proves: cgblk_pool_note_current() never puts a worker on the idle list
# while its work item is still queued (issue 13.7; before the fix: "list_add
# double add" from cgblk_worker_idle(), or the reaper freeing a queued
# worker).  Deterministic: cgblk_test_pool's gates fill every slot of the
# pool's workqueue as it was (max_active 256) with blocked items — the
# fallback worker's first, the rest from 255 cgroups — so that the old code
# left x's worker queued again but inactive after a run that emptied its
# list; x's ->open (note) then found "nothing queued", and once the
# fallback's item ended x's queued run added it to the idle list a second
# time, while it was the only idle worker: Debian's 5.10 (DEBUG_LIST and
# BUG_ON_DATA_CORRUPTION) stops there with a BUG; a kernel without
# DEBUG_LIST would corrupt the list silently.  Only 5.10 lends mm to
# workers (note_current() does nothing later).
# kernels: 5.10
# tier: edges
# timeout: 300
. "$CGBLK_TOP/tests/lib/guest-lib.sh"

d=$TP
N=255

cg_setup x $(seq -f c%g $N)
insmod "$(ko cgblk_core)"
insmod "$(ko cgblk_test_pool)" idle_ms=600000	# no reaping meanwhile

echo "1 block 3" > $d/queue		# root: the fallback worker, gate 3
cg_run x "echo '1 block 1' > $d/queue"	# x's worker, gate 1
wait_for 30 tp_stat_is blocked 2
# 255 cgroups on gate 2, one at a time (each started before the next, so
# that no kworker is short and the workqueue's rescuer takes none in a
# batch): with max_active 256 the last one cannot start, it waits inactive.
(
	for i in $(seq $N); do
		echo $BASHPID > /sys/fs/cgroup/c$i/cgroup.procs
		echo "1 block 2" > $d/queue
		[ $i -eq $N ] || tp_blocked_reaches $((i + 2)) || exit 1
	done
) || { echo 1 > $d/release; fail "a cgroup's item did not start: $(cat $d/stats)"; }
tp_blocked_reaches 256 || { echo 1 > $d/release; fail "not 256 items blocked: $(cat $d/stats)"; }
cg_run x "echo 1 > $d/queue"	# joins x's running run (was: queued again)
echo 1 > $d/open		# x's run ends with both of x's items done
wait_for 30 tp_stat_is done 2
cg_run x "echo 1 > $d/note"	# x's ->open: x's worker is idle, not queued
echo 3 > $d/open		# the fallback's slot frees (was: x's queued run)
wait_for 30 tp_stat_is done 3
sleep 2				# (was: x's queued run adds it to the idle list again)
log "blocked $(tp_stat blocked) of $N on gate 2 after the fallback's item"
echo 1 > $d/release
wait_for 120 tp_stat_is done $((N + 3))
cat $d/workers > "$CGBLK_OUT/workers.txt"
tp_stat_is wrong 0 || fail "$(tp_stat wrong) items ran without their charge"
tp_stat_is workers $((N + 1)) || fail "$(tp_stat workers) workers for $((N + 1)) cgroups"
grep -q "^/x queued 0 done 2 " "$CGBLK_OUT/workers.txt" || fail "no worker line for /x"
[ "$(grep -c '^/c' "$CGBLK_OUT/workers.txt")" -eq $N ] || fail "not $N worker lines for /c*"
rmmod cgblk_test_pool
cgblk_unload_all
cg_cleanup x $(seq -f c%g $N)
