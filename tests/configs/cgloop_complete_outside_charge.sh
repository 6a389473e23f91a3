#!/bin/bash
# Proves (issue 13.14): a request the cgloop worker ends itself is ended
# outside the issuer's charge, so the upper layer's bi_end_io never runs
# with the issuer's memcg active, its blkcg associated and PF_MEMALLOC_NOIO
# set.  The case: complete_in_task=1 over brd, whose clones complete inside
# their submission (on 6.1+, where cgblk_offload runs a task-context
# completion inline), so the worker holds the last reference.  The probe
# (tests/modules cgblk_test_offload, mode=none, charge_check=1) submits
# from a child cgroup with io and memory and counts the completions that
# ran inside a charge (in_charge=), and cgblk_offload's counters show
# that every clone completion ran inline, during its submission (the case
# under test).  Before the fix every one did (6.1: in_charge=2000).  Not on
# 5.10: without preempt counting every clone completion is deferred, so
# the case does not arise.  Requests over files are ended by the same
# ->finish, but with 2 CPUs on one hardware queue blk-mq ends them in
# softirq anyway: nothing to observe there.
# kernels: 6.1 6.12 7.3 debug
# tier: edges
# timeout: 240
. "$CGBLK_TOP/tests/lib/guest-lib.sh"

NR=2000
brd_setup 64 1
cgblk_deps cgblk_offload
insmod "$(ko cgblk_offload)" native=0	# its counters: cgblk's own batches
insmod "$(ko cgloop)" backing=/dev/ram0 complete_in_task=1
[ "$(cgloop_attr 0 complete_in_task)" = 1 ] || fail "cgloop0 does not say complete_in_task=1"
cg_setup t
probe() {	# DEV WHAT: the probe from cgroup t; fail unless no completion was charged
	local mark line
	mark=$(dmesg_mark)
	cg_run t insmod "$(ko cgblk_test_offload)" dev="$1" nr=$NR depth=16 mode=none charge_check=1 ||
		fail "$2: $(dmesg_since "$mark" | grep RESULT)"
	rmmod cgblk_test_offload
	line=$(dmesg_since "$mark" | grep RESULT)
	log "$2: $line"
	echo "$line" | grep -q "RESULT ok mode=none .* completed=$NR .* in_charge=0 " ||
		fail "$2: no ok RESULT with in_charge=0"
}
i0=$(offload_stat inline) d0=$(offload_stat deferred)
probe /dev/cgloop0 "cgloop(complete_in_task=1) over brd"
i=$(( $(offload_stat inline) - i0 )) d=$(( $(offload_stat deferred) - d0 ))
log "clone completions: $i inline, $d deferred"
[ "$i" -ge $NR ] && [ "$d" -eq 0 ] ||
	fail "the clones did not all complete inline ($i inline, $d deferred): the case was not tested"
rmmod cgloop cgblk_offload
cgblk_unload_all
cg_cleanup t
brd_cleanup
