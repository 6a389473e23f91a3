#!/bin/bash
# Proves (debug kernel): a lockdep report in the kernel log fails a test
# whose script exits 0.  Runs first in the self-test boot ("# order: first"): any
# taint before it (the atomic-sleep BUG, a KASAN report) turns lock
# debugging off for the rest of the boot.
# kernels: debug
# expect: fail kernel log: .*possible circular locking
# tier: edges
# order: first
# timeout: 60
. "$CGBLK_TOP/tests/lib/guest-lib.sh"
insmod "$(ko cgblk_test_warn)" bug=lock_order
rmmod cgblk_test_warn
exit 0
