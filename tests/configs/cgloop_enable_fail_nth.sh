#!/bin/bash
# Proves (debug kernel): an enable over a block device that fails at any of
# its slab allocations (failslab through /proc/self/fail-nth: the Nth
# allocation of the enabling task fails, for N = 1, 2, ... until one
# enable makes fewer) leaves nothing behind — not enabled, no disk, no
# leak (kmemleak after the test) — and the next enable, over a file, works
# on the file: its data lands in the file, the block device is untouched
# (issue 13.9: a failed bioset_init() or any later failure of enable left
# cl->bdev set, and the next enable over a file remapped to the stale
# device).  Every failure point of enable is tried up to FULL; past it
# every STRIDE-th (add_disk's hundreds of allocations); only slab
# allocations (failslab), not pages, percpu or vmalloc.  The points include
# the debug kernel's own allocations (kmemleak's, debugobjects'), which cope
# ("coped with"); the sweep runs in one process whose files are open
# before each window (tests/lib/fail_nth_enable.py).
# kernels: debug
# tier: edges
# timeout: 900
. "$CGBLK_TOP/tests/lib/guest-lib.sh"

F=/sys/kernel/debug/failslab
[ -e /proc/self/fail-nth ] || fail "no /proc/self/fail-nth in this kernel"
trap 'echo Y > $F/ignore-gfp-wait' EXIT	# for the tests after this one
echo N > $F/ignore-gfp-wait	# GFP_KERNEL allocations may fail too
echo N > $F/cache-filter	# any cache
echo 0 > $F/verbose
FULL=200 STRIDE=7

brd_setup 8 2
truncate -s 8M /scratch/file.img
cgblk_load cgloop
# A second device, over ram1, holds cgloop's bio slab for the sweep: its
# enable's bioset_init() then finds the slab instead of creating it, so the
# sweep stays out of kmem_cache_create()'s own error paths (6.1's
# sysfs_slab_add() leaks the cache's name when kobject_init_and_add()
# fails: kmemleak "bio-144", 32 times in the first run — not cgloop's).
mkdir /sys/kernel/config/cgloop/hold
echo /dev/ram1 > /sys/kernel/config/cgloop/hold/backing
echo 1 > /sys/kernel/config/cgloop/hold/enable
mkdir /sys/kernel/config/cgloop/k
d=/sys/kernel/config/cgloop/k

python3 "$CGBLK_TOP/tests/lib/fail_nth_enable.py" $d /dev/ram0 /scratch/file.img $FULL $STRIDE |
	tee "$CGBLK_OUT/sweep.txt"
! grep -q '^FAIL' "$CGBLK_OUT/sweep.txt" || fail "$(grep -m1 '^FAIL' "$CGBLK_OUT/sweep.txt")"
read -r _ n _ failed _ coped < <(grep '^points ' "$CGBLK_OUT/sweep.txt") ||
	fail "the sweep did not finish"
log "enable over a block device: $n fault points; $failed failed it cleanly, $coped were coped with"
# The sweep ends at the first enable that makes fewer than N allocations:
# one that ended early (a count that varies between enables) would leave
# add_disk()'s part untried.  The first runs saw 564-641 points, 73-84 of
# them failing enable.
[ "$n" -ge $((FULL + 100)) ] || fail "the sweep ended at point $n: add_disk() was not reached"
[ "$failed" -ge 40 ] || fail "only $failed injected failures failed enable"
rmdir $d
echo 0 > /sys/kernel/config/cgloop/hold/enable
rmdir /sys/kernel/config/cgloop/hold
rmmod cgloop
cgblk_unload_all
brd_cleanup
