#!/bin/bash
# Proves: a pool's per-cgroup workers are never held back by how many of
# the others are blocked (issue 13.12): with WQ_DFL_ACTIVE + 44 cgroups
# (300 where the kernel's default max_active is 256) each blocking its own
# worker in ->run (tests/modules/cgblk_test_pool.c; as a worker blocked in
# submission by iocost or memory.max), every one of those items starts, and
# one more cgroup's items complete within 30 s.  Up to
# WQ_UNBOUND_MAX_ACTIVE - 1 per-cgroup workers a pool runs them all at
# once; past that, cgroups share the fallback worker (README, cgblk_core).
# timeout: 400
# tier: edges
. "$CGBLK_TOP/tests/lib/guest-lib.sh"

d=/sys/kernel/debug/cgblk/cgblk_test_pool
stat() {	# stat FIELD
	awk -v f="$1" '{for (i = 1; i < NF; i++) if ($i == f) print $(i + 1)}' $d/stats
}
stat_is() { [ "$(stat "$1")" -eq "$2" ]; }
# within SECONDS CMD...: whether CMD succeeds within SECONDS (polled).
within() {
	local i
	for i in $(seq $(($1 * 5))); do
		"${@:2}" && return 0
		sleep 0.2
	done
	return 1
}

echo "+io" > /sys/fs/cgroup/cgroup.subtree_control
insmod "$(ko cgblk_core)"
insmod "$(ko cgblk_test_pool)" idle_ms=600000
dfl=$(stat dfl_active)
umax=$(stat unbound_max_active)
n=$((dfl + 44))
log "WQ_DFL_ACTIVE $dfl, WQ_UNBOUND_MAX_ACTIVE $umax: $n blocked cgroups and one more"
[ $((n + 1)) -le $((umax - 1)) ] || fail "cannot test: $n + 1 workers exceed the documented limit $((umax - 1))"
for i in $(seq $n); do mkdir /sys/fs/cgroup/b$i; done
mkdir /sys/fs/cgroup/free
(
	for i in $(seq $n); do
		echo $BASHPID > /sys/fs/cgroup/b$i/cgroup.procs
		echo "1 block" > $d/queue
	done
)
started() { [ "$(stat blocked)" -eq $n ]; }
if ! within 120 started; then
	fail "only $(stat blocked) of $n blocked cgroups' items started: the pool's workqueue runs at most that many at once"
fi
log "all $n blocked items started; $(stat workers) workers"
cg_run free "echo 10 > $d/queue"
if ! within 30 stat_is done 10; then
	fail "the free cgroup's 10 items did not complete in 30 s behind $n blocked cgroups (done $(stat done))"
fi
log "the free cgroup's items completed with $n cgroups blocked"
echo 1 > $d/release
wait_for 120 stat_is done $((n + 10))
[ "$(stat wrong)" -eq 0 ] || fail "$(stat wrong) items ran without their charge"
[ "$(stat workers)" -eq $((n + 1)) ] || fail "$(stat workers) workers, expected $((n + 1))"
rmmod cgblk_test_pool
cgblk_unload_all
for i in $(seq $n); do rmdir /sys/fs/cgroup/b$i; done
rmdir /sys/fs/cgroup/free
