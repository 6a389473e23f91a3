#!/bin/bash
# Proves: cgloop with complete_in_task=1 over a null_blk that completes in
# hard IRQ (irqmode=2) keeps what fio writes (crc32c verify, direct and
# buffered) while CPU 1 goes offline and online in a loop, its lower
# completions go through cgblk_offload (deferred = run), nothing is left
# pending; also with the kernel's native BIO_COMPLETE_IN_TASK where present.
# tier: one 6.12 (CPU hotplug loop)
# timeout: 900
. "$CGBLK_TOP/tests/lib/guest-lib.sh"

nullb_setup nullb0 160 2
cgblk_deps cgblk_offload
insmod "$(ko cgblk_offload)" native=0
insmod "$(ko cgloop)" backing=/dev/nullb0 complete_in_task=1
[ "$(cgloop_attr 0 complete_in_task)" = 1 ] || fail "cgloop0 does not say complete_in_task=1"
d0=$(offload_stat deferred)
none_pending() { [ "$(offload_stat pending)" -eq 0 ]; }
cpu_hotplug_start
fio_verify /dev/cgloop0 64M --direct=1 --ioengine=libaio --iodepth=16 --bsrange=4k-1M
fio_verify /dev/cgloop0 64M --direct=0 --offset=64M --bsrange=4k-1M
cpu_hotplug_stop
cycles=$HOTPLUG_CYCLES
[ "$cycles" -ge 5 ] || fail "only $cycles hotplug cycles ran"
d=$(( $(offload_stat deferred) - d0 ))
[ "$d" -gt 0 ] || fail "no completion of cgloop went through cgblk_offload"
wait_for 10 none_pending
[ "$(offload_stat deferred)" -eq "$(offload_stat run)" ] ||
	fail "deferred $(offload_stat deferred) but run $(offload_stat run)"
log "fio verify passed with $cycles CPU 1 offline/online cycles; $d lower completions deferred, $(offload_stat hotplug_drained) moved off a dead CPU"
rmmod cgloop
rmmod cgblk_offload

insmod "$(ko cgblk_offload)"
if grep -qx 'mode native' /sys/kernel/debug/cgblk/cgblk_offload/stats; then
	insmod "$(ko cgloop)" backing=/dev/nullb0 complete_in_task=1
	cpu_hotplug_start
	fio_verify /dev/cgloop0 32M --direct=1 --ioengine=libaio --iodepth=16 --bsrange=4k-1M
	cpu_hotplug_stop
	cycles=$HOTPLUG_CYCLES
	log "native BIO_COMPLETE_IN_TASK: fio verify passed with $cycles hotplug cycles"
	rmmod cgloop
fi
cgblk_unload_all
nullb_cleanup nullb0
