#!/bin/bash
# Proves (issue 13, smaller list: the runner test before the atomic test):
# a completion that cgblk_offload's own work item runs may end another bio
# in atomic context — a stacked driver ending its parent with a spinlock
# held — and that parent's bi_end_io, asking for task context, is deferred
# again instead of running there because the runner is current.  The probe
# (tests/modules cgblk_test_offload, mode=nested) submits 4000 children to
# a null_blk completing in hard IRQ, each ending its parent under
# spin_lock_irq(), then under spin_lock_bh() (which 5.10, without preempt
# counting, can still see); every parent must reach its bi_end_io in task
# context, once.  Before the fix: not_task_context=4000 (irq, 6.1).  Also in the native mode
# on kernels with BIO_COMPLETE_IN_TASK.
# tier: edges
# timeout: 240
. "$CGBLK_TOP/tests/lib/guest-lib.sh"

NR=4000
nullb_setup nullb0 64 2
cgblk_deps cgblk_offload
nested() {	# WHAT LOCK
	local mark line
	mark=$(dmesg_mark)
	insmod "$(ko cgblk_test_offload)" dev=/dev/nullb0 nr=$NR depth=64 mode=nested nested_lock=$2 ||
		fail "$1: $(dmesg_since "$mark" | grep RESULT)"
	rmmod cgblk_test_offload
	line=$(dmesg_since "$mark" | grep -o 'RESULT.*')
	log "$1, $2: $line"
	echo "$line" | grep -q "RESULT ok mode=nested .* submitted=$NR completed=$NR .* not_task_context=0 " ||
		fail "$1: no ok RESULT line"
}
insmod "$(ko cgblk_offload)" native=0
nested "cgblk_offload's batches" irq
nested "cgblk_offload's batches" bh
rmmod cgblk_offload
insmod "$(ko cgblk_offload)"
if grep -qx 'mode native' /sys/kernel/debug/cgblk/cgblk_offload/stats; then
	nested "native BIO_COMPLETE_IN_TASK" irq
	nested "native BIO_COMPLETE_IN_TASK" bh
fi
rmmod cgblk_offload
cgblk_unload_all
nullb_cleanup nullb0
