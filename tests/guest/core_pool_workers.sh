#!/bin/bash
# Proves: the cgblk_core pool runs each cgroup's items on that cgroup's own
# worker with its memcg active and NOIO set; a blocked cgroup does not stall
# another; idle workers are reaped; past max_workers items still run, under
# their own charge, on the fallback worker; destroying a pool with live
# workers frees them.
# tier: edges
# timeout: 180
. "$CGBLK_TOP/tests/lib/guest-lib.sh"

d=$TP
done_is() { tp_stat_is done "$1"; }

cg_setup t_a t_b t_c
insmod "$(ko cgblk_core)"

# 1. One worker per cgroup; root-cgroup items run on the fallback.  A
#    blocked cgroup blocks only its own worker.  (Workers live 10 minutes.)
insmod "$(ko cgblk_test_pool)" idle_ms=600000
for c in t_a t_b t_c; do cg_run $c "echo 10 > $d/queue"; done
echo 4 > $d/queue
wait_for 30 done_is 34
cat $d/workers | tee "$CGBLK_OUT/workers-3.txt"
[ "$(tp_stat workers)" -eq 3 ] || fail "$(tp_stat workers) workers for 3 cgroups"
[ "$(tp_stat wrong)" -eq 0 ] || fail "$(tp_stat wrong) items ran without their charge"
for c in t_a t_b t_c; do
	grep -q "^/$c queued 0 done 10 bytes 40960 " "$CGBLK_OUT/workers-3.txt" ||
		fail "no worker line for /$c"
done
grep -q '^(fallback) queued 0 done 4 ' "$CGBLK_OUT/workers-3.txt" ||
	fail "root items did not run on the fallback"

cg_run t_a "echo '1 block' > $d/queue"
wait_for 30 tp_stat_is blocked 1
cg_run t_b "echo 20 > $d/queue"
wait_for 30 done_is 54
[ "$(tp_stat blocked)" -eq 1 ] || fail "t_a's item stopped blocking"
log "t_b ran 20 items while t_a's worker was blocked"
echo 1 > $d/release
wait_for 30 done_is 55
rmmod cgblk_test_pool		# frees three live workers

# 2. Idle workers are reaped (idle_ms=300).  The reaper timer is
#    deferrable: an idle CPU does not run it, so keep the CPUs busy.
insmod "$(ko cgblk_test_pool)" idle_ms=300
for c in t_a t_b t_c; do cg_run $c "echo 10 > $d/queue"; done
wait_for 30 done_is 30
reaped() { busy_cpus 1; [ "$(tp_stat workers)" -eq 0 ]; }
wait_for 60 reaped
log "all workers reaped"
cg_run t_c "echo 10 > $d/queue"
wait_for 30 done_is 40
[ "$(tp_stat wrong)" -eq 0 ] || fail "$(tp_stat wrong) items ran without their charge"
rmmod cgblk_test_pool

# 3. max_workers=1: the second and third cgroup overflow to the fallback,
#    still charged to their own memcg.
insmod "$(ko cgblk_test_pool)" max_workers=1 idle_ms=600000
for c in t_a t_b t_c; do cg_run $c "echo 5 > $d/queue"; done
wait_for 30 done_is 15
cat $d/workers | tee "$CGBLK_OUT/workers-max1.txt"
[ "$(tp_stat workers)" -eq 1 ] || fail "$(tp_stat workers) workers with max_workers=1"
[ "$(tp_stat wrong)" -eq 0 ] || fail "$(tp_stat wrong) fallback items ran without their charge"
grep -q '^overflow 10$' "$CGBLK_OUT/workers-max1.txt" ||
	fail "expected 10 items to overflow to the fallback"
rmmod cgblk_test_pool
cgblk_unload_all
cg_cleanup t_a t_b t_c
