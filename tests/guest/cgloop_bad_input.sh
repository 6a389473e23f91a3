#!/bin/bash
# Proves: a bad backing= entry or parameter fails the load with one kernel
# line naming it and leaves nothing behind; rmmod is refused while a
# device is open.
# tier: edges
# timeout: 180
. "$CGBLK_TOP/tests/lib/guest-lib.sh"

cgblk_deps cgloop
mkdir /scratch/dir
: > /scratch/empty
truncate -s 16M /scratch/good
# expect_load_error ARGS... -- PATTERN: insmod cgloop ARGS fails, the kernel
# says PATTERN, and no cgloop device or module is left.
expect_load_error() {
	local pattern=${*: -1}
	set -- "${@:1:$(($# - 1))}"
	expect_refused "cgloop: .*$pattern" insmod "$(ko cgloop)" "$@"
	! is_loaded cgloop || fail "cgloop loaded with $*"
	! ls /dev/cgloop* 2>/dev/null || fail "insmod cgloop $* left a device"
}
expect_load_error backing=/scratch/missing 'backing /scratch/missing: cannot find it'
expect_load_error backing=/scratch/dir 'backing /scratch/dir: not a regular file or block device'
expect_load_error backing=/scratch/empty 'backing /scratch/empty: offset 0 is not below its size 0'
expect_load_error backing=/scratch/good,/scratch/missing 'backing /scratch/missing: cannot find it'
expect_load_error backing=/scratch/good, 'empty entry'
expect_load_error queue_depth=0 'queue_depth=0: expected a number from 1 to 4096'
expect_load_error idle_timeout_ms=0 'idle_timeout_ms=0: expected a number from 1'
expect_load_error max_workers=lots 'max_workers=lots: expected a number'

# rmmod is refused while a device is open, and works after.
insmod "$(ko cgloop)" backing=/scratch/good
exec 3</dev/cgloop0
expect_fail rmmod cgloop
is_loaded cgloop || fail "cgloop unloaded while /dev/cgloop0 was open"
exec 3<&-
rmmod cgloop
[ ! -e /sys/block/cgloop0 ] || fail "cgloop0 left behind"
cgblk_unload_all
