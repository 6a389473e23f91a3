#!/bin/bash
# Proves (debug kernel): with the backing device failing requests
# (fail_make_request) cgloop returns I/O errors to its users, over a block
# device with and without complete_in_task, without hanging, leaking or
# crashing, and works again once the faults stop; with the slab cache of
# cgblk_offload's pooled contexts failing (failslab, sleeping allocations
# too) every bio still completes, from the mempool's reserve; with every
# per-cgroup worker allocation failing, cgloop's I/O runs on the fallback
# worker, still charged to its cgroup, and keeps its data.
# kernels: debug
# tier: edges
# timeout: 900
. "$CGBLK_TOP/tests/lib/guest-lib.sh"

F=/sys/kernel/debug
[ -d $F/fail_make_request ] || fail "no fail_make_request in this kernel"
[ -d $F/failslab ] || fail "no failslab in this kernel"

nullb_setup nullb0 64
cgblk_deps cgblk_offload
insmod "$(ko cgblk_offload)" native=0

# dd_errors DEV N: N direct writes of 256 KiB; prints how many failed.
dd_errors() {
	local i bad=0
	for i in $(seq "$2"); do
		timeout 120 dd if=/dev/zero of="$1" bs=256k count=1 seek=$((i % 64)) \
			oflag=direct status=none 2>/dev/null || {
			[ $? -ne 124 ] || fail "a write to $1 hung under fault injection"
			bad=$((bad + 1))
		}
	done
	echo $bad
}

for cit in 0 1; do
	insmod "$(ko cgloop)" backing=/dev/nullb0 complete_in_task=$cit
	echo 1 > /sys/block/nullb0/make-it-fail
	echo 30 > $F/fail_make_request/probability
	echo 1 > $F/fail_make_request/interval
	echo -1 > $F/fail_make_request/times
	echo 0 > $F/fail_make_request/verbose
	bad=$(dd_errors /dev/cgloop0 100)
	echo 0 > $F/fail_make_request/probability
	echo 0 > /sys/block/nullb0/make-it-fail
	[ "$bad" -gt 0 ] || fail "complete_in_task=$cit: no write failed with 30% of requests failing"
	[ "$bad" -lt 100 ] || fail "complete_in_task=$cit: every write failed"
	head -c 4M /dev/urandom > /scratch/data
	dd if=/scratch/data of=/dev/cgloop0 bs=1M oflag=direct status=none ||
		fail "complete_in_task=$cit: writes fail after the faults stopped"
	cmp -n $((4 << 20)) /scratch/data /dev/cgloop0 || fail "complete_in_task=$cit: data wrong after the faults"
	rmmod cgloop
	log "fail_make_request, complete_in_task=$cit: $bad of 100 writes failed, then the device works"
done

# failslab on the pooled-context cache: flagged at boot (slub_debug=A, see
# tests/run); slab_nomerge keeps it a cache of its own.
c=/sys/kernel/slab/cgblk_offload_ctx
[ "$(cat $c/failslab 2>/dev/null)" = 1 ] || fail "$c is not flagged for failslab"
[ ! -L $c ] || fail "$c is merged with another cache"
echo Y > $F/failslab/cache-filter
echo N > $F/failslab/ignore-gfp-wait
echo 50 > $F/failslab/probability
echo 1 > $F/failslab/interval
echo -1 > $F/failslab/times
echo 0 > $F/failslab/verbose
nullb_cleanup nullb0
nullb_setup nullb0 64 2
mark=$(dmesg_mark)
insmod "$(ko cgblk_test_offload)" dev=/dev/nullb0 nr=8000 depth=256 mode=pool ||
	fail "pooled contexts under failslab: $(dmesg_since "$mark" | grep RESULT)"
rmmod cgblk_test_offload
echo 0 > $F/failslab/probability
dmesg_since "$mark" | grep -q 'RESULT ok mode=pool .* completed=8000 ' ||
	fail "pooled contexts under failslab: no ok RESULT"
log "failslab on cgblk_offload_ctx (50%): 8000 pooled bios all completed"

# failslab on the per-cgroup workers: everything goes to the fallback.
c=/sys/kernel/slab/cgblk_worker
[ "$(cat $c/failslab 2>/dev/null)" = 1 ] && [ ! -L $c ] || fail "no unmerged $c flagged for failslab"
echo 100 > $F/failslab/probability
insmod "$(ko cgloop)" backing=/dev/nullb0
cg_setup fa
cg_run fa "dd if=/dev/urandom of=/scratch/data2 bs=1M count=8 status=none &&
	dd if=/scratch/data2 of=/dev/cgloop0 bs=1M oflag=direct status=none" ||
	fail "writes through cgloop failed with worker allocations failing"
echo 0 > $F/failslab/probability
w=/sys/kernel/debug/cgblk/cgloop/cgloop0/workers
grep -q '^overflow [1-9]' $w || fail "no item went to the fallback worker: $(cat $w)"
[ "$(cgloop_attr 0 nr_workers)" = 0 ] || fail "a worker was made while allocations failed"
dev=$(cat /sys/block/nullb0/dev)
[ "$(io_stat_bytes fa "$dev" wbytes)" -ge $((8 << 20)) ] ||
	fail "the fallback worker did not charge cgroup fa for its writes"
cmp -n $((8 << 20)) /scratch/data2 /dev/cgloop0 || fail "data wrong through the fallback worker"
rmmod cgloop
cg_cleanup fa
log "failslab on cgblk_worker (100%): 8 MiB through the fallback worker, charged to its cgroup, data intact"
cgblk_unload_all
nullb_cleanup nullb0
