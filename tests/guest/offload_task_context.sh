#!/bin/bash
# Proves: bios completed by null_blk from a timer (irqmode=2, hard IRQ) reach
# their bi_end_io in task context exactly once through cgblk_offload, in
# each of its three ways (dynamic, submitter context, pooled context); the
# counters match the bios submitted; max_per_run bounds a run (it queues
# itself again); bad parameters are refused with a message; and on kernels
# with BIO_COMPLETE_IN_TASK the native mode passes the same checks.
# tier: edges
# timeout: 400
. "$CGBLK_TOP/tests/lib/guest-lib.sh"

NR=8000
nullb_setup nullb0 64 2

# run_mode MODE: one pass of the test module; checks its RESULT line.
run_mode() {
	local mark
	mark=$(dmesg_mark)
	insmod "$(ko cgblk_test_offload)" dev=/dev/nullb0 nr=$NR depth=128 mode="$1" ||
		fail "mode $1: $(dmesg_since "$mark" | grep RESULT)"
	rmmod cgblk_test_offload
	dmesg_since "$mark" | grep -q "RESULT ok mode=$1 .* submitted=$NR completed=$NR " ||
		fail "mode $1: no ok RESULT line"
	log "$(dmesg_since "$mark" | grep -o 'RESULT.*')"
}

# Bad parameters: refused at load and at run time, with one line each.
cgblk_deps cgblk_offload
for arg in max_per_run=0 max_per_run=70000 delay_jiffies=100000 max_per_run=x; do
	expect_refused "cgblk_offload: ${arg%%=*}=.*: expected a number" \
		insmod "$(ko cgblk_offload)" "$arg"
	! is_loaded cgblk_offload || fail "cgblk_offload loaded with $arg"
done
insmod "$(ko cgblk_offload)" native=0
p=/sys/module/cgblk_offload/parameters
expect_fail bash -c "echo 0 > $p/max_per_run"
[ "$(cat $p/max_per_run)" = 256 ] || fail "a refused max_per_run changed the value"
log "bad parameters refused"

grep -qx 'mode cgblk' /sys/kernel/debug/cgblk/cgblk_offload/stats ||
	fail "native=0 did not select cgblk's own batches"
for mode in dynamic ctx pool; do
	d0=$(offload_stat deferred) r0=$(offload_stat run)
	run_mode $mode
	d=$(( $(offload_stat deferred) - d0 )) r=$(( $(offload_stat run) - r0 ))
	[ "$d" -eq $NR ] || fail "mode $mode: $d completions deferred, $NR submitted (all complete in hard IRQ)"
	[ "$r" -eq $NR ] || fail "mode $mode: $r deferred completions run, $NR deferred"
	[ "$(offload_stat pending)" -eq 0 ] || fail "mode $mode: completions left pending"
done
hist=$(awk '$1 == "latency_us" { for (i = 2; i <= NF; i++) { split($i, a, ":"); s += a[2] } print s }' \
	/sys/kernel/debug/cgblk/cgblk_offload/stats)
[ "$hist" -gt 0 ] || fail "the latency histogram is empty"
log "$(cat /sys/kernel/debug/cgblk/cgblk_offload/stats | tr '\n' ' ')"

# A run makes at most max_per_run completions, then queues itself again.
echo 1 > $p/max_per_run
echo 2 > $p/delay_jiffies
q0=$(offload_stat requeued)
run_mode dynamic
[ "$(offload_stat requeued)" -gt "$q0" ] || fail "max_per_run=1 never made a run queue itself again"
log "max_per_run=1, delay_jiffies=2: $(( $(offload_stat requeued) - q0 )) requeued runs, largest batch $(offload_stat max_batch)"
rmmod cgblk_offload

# The kernel's own BIO_COMPLETE_IN_TASK where it exists.
insmod "$(ko cgblk_offload)"
if grep -qx 'mode native' /sys/kernel/debug/cgblk/cgblk_offload/stats; then
	for mode in dynamic ctx pool; do
		n0=$(offload_stat native)
		run_mode $mode
		n=$(( $(offload_stat native) - n0 ))
		if [ $mode = dynamic ]; then
			[ "$n" -eq $NR ] || fail "native dynamic: $n handed to the kernel, $NR submitted"
		fi
	done
	log "native BIO_COMPLETE_IN_TASK: all three ways pass"
else
	log "this kernel has no BIO_COMPLETE_IN_TASK: native mode not available"
fi
rmmod cgblk_offload
cgblk_unload_all
nullb_cleanup nullb0
