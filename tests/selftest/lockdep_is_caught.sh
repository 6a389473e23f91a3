#!/bin/bash
# Proves (debug kernel): a lockdep report in the kernel log fails a test
# whose script exits 0.
# kernels: debug
# expect: fail kernel log: .*possible circular locking
# timeout: 60
. "$CGBLK_TOP/tests/lib/guest-lib.sh"
insmod "$(ko cgblk_test_warn)" bug=lock_order
rmmod cgblk_test_warn
exit 0
