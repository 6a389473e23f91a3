#!/bin/bash
# Proves: a user module cannot load without cgblk_core: insmod fails with a
# clear "Unknown symbol" line and leaves nothing loaded.
# tier: edges
# timeout: 60
. "$CGBLK_TOP/tests/lib/guest-lib.sh"

is_loaded cgblk_core && fail "cgblk_core loaded before the test"
for m in $CGBLK_USERS; do
	expect_refused "$(kname "$m"): Unknown symbol cgblk_" insmod "$(ko "$m")"
	! is_loaded "$m" || fail "$m loaded without cgblk_core"
done
