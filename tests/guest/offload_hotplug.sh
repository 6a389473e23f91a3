#!/bin/bash
# Proves: with CPU 1 going offline and online in a loop, no deferred
# completion is lost or run twice and every one runs in task context
# (dynamic, submitter and pooled ways); a departing CPU's batch is drained;
# and rmmod with completions in flight is refused for cgblk_offload and
# drains for its user, with every completion accounted for.
# tier: one 6.1 (CPU hotplug loop)
# timeout: 900
. "$CGBLK_TOP/tests/lib/guest-lib.sh"

[ "$(nproc --all)" -ge 2 ] || fail "needs two CPUs"
nullb_setup nullb0 64 2
cgblk_deps cgblk_offload
# A small max_per_run keeps completions waiting on batches while CPUs go.
insmod "$(ko cgblk_offload)" native=0 max_per_run=4

# Each half runs this long: ~20 CPU 1 offline/online cycles on the stock
# kernels, ~17 in 40 s on the (slower) debug kernel.
secs=20
[ ! -e /sys/kernel/debug/kmemleak ] || secs=40

# rounds SECONDS: the test module in its three ways, again and again.
rounds() {
	local end=$((SECONDS + $1)) mode mark
	ROUNDS=0
	while [ $SECONDS -lt $end ]; do
		for mode in dynamic ctx pool; do
			mark=$(dmesg_mark)
			insmod "$(ko cgblk_test_offload)" dev=/dev/nullb0 nr=5000 depth=256 mode=$mode ||
				fail "round $ROUNDS, mode $mode: $(dmesg_since "$mark" | grep RESULT)"
			rmmod cgblk_test_offload
			dmesg_since "$mark" | grep -q "RESULT ok mode=$mode .* completed=5000 " ||
				fail "round $ROUNDS, mode $mode: no ok RESULT line"
		done
		ROUNDS=$((ROUNDS + 1))
	done
}

cpu_hotplug_start
rounds $secs
cpu_hotplug_stop
[ "$HOTPLUG_CYCLES" -ge 10 ] || fail "only $HOTPLUG_CYCLES hotplug cycles ran"
log "delay 0: $ROUNDS rounds x 3 ways x 5000 bios with $HOTPLUG_CYCLES CPU 1 offline/online cycles; $(offload_stat hotplug_drained) completions moved off a dead CPU"

# With batches held back 100 ms, CPU 1 goes down with completions on its
# batch: they must be moved off it and run, none lost.
echo 25 > /sys/module/cgblk_offload/parameters/delay_jiffies
h0=$(offload_stat hotplug_drained)
cpu_hotplug_start
rounds $secs
cpu_hotplug_stop
h=$(( $(offload_stat hotplug_drained) - h0 ))
[ "$h" -gt 0 ] || fail "$HOTPLUG_CYCLES hotplug cycles with 100 ms batches never drained a batch"
log "delay 25 jiffies: $ROUNDS rounds with $HOTPLUG_CYCLES cycles; $h completions moved off a dead CPU"
echo 0 > /sys/module/cgblk_offload/parameters/delay_jiffies
[ "$(offload_stat pending)" -eq 0 ] || fail "completions left pending"
[ "$(offload_stat deferred)" -eq "$(offload_stat run)" ] ||
	fail "deferred $(offload_stat deferred) but run $(offload_stat run)"

# rmmod while completions are in flight.
mark=$(dmesg_mark)
insmod "$(ko cgblk_test_offload)" dev=/dev/nullb0 nr=50000 depth=256 mode=ctx wait=0
expect_fail rmmod cgblk_offload
is_loaded cgblk_offload || fail "cgblk_offload unloaded under its user"
rmmod cgblk_test_offload
dmesg_since "$mark" | grep -q 'RESULT ok mode=ctx .* completed=50000 ' ||
	fail "rmmod of the user with bios in flight: no ok RESULT line"
rmmod cgblk_offload
log "rmmod with completions in flight: cgblk_offload refused, its user drained all 50000"
cgblk_unload_all
nullb_cleanup nullb0
