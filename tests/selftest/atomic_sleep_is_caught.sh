#!/bin/bash
# Proves (debug kernel): a atomic sleep report in the kernel log fails a test
# whose script exits 0.
# kernels: debug
# expect: fail kernel log: .*sleeping function called from invalid context
# tier: edges
# timeout: 60
. "$CGBLK_TOP/tests/lib/guest-lib.sh"
insmod "$(ko cgblk_test_warn)" bug=atomic_sleep
rmmod cgblk_test_warn
exit 0
