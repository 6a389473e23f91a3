#!/bin/bash
# Proves: a user module cannot load without cgblk_core: insmod fails with a
# clear "Unknown symbol" line and leaves nothing loaded.
# timeout: 60
. "$CGBLK_TOP/tests/lib/guest-lib.sh"

is_loaded cgblk_core && fail "cgblk_core loaded before the test"
for m in $CGBLK_USERS; do
	mark=$(dmesg_mark)
	expect_fail insmod "$(ko "$m")"
	is_loaded "$m" && fail "$m loaded without cgblk_core"
	dmesg_since "$mark" | grep -q "$(kname "$m"): Unknown symbol cgblk_" ||
		fail "no 'Unknown symbol cgblk_...' message for $m"
	log "$m refused without cgblk_core: $(dmesg_since "$mark" | grep -m1 'Unknown symbol')"
done
