#!/bin/bash
# Proves (debug kernel): a kmemleak report in the kernel log fails a test
# whose script exits 0.
# kernels: debug
# expect: fail kernel log: .*unreferenced object
# tier: edges
# timeout: 60
. "$CGBLK_TOP/tests/lib/guest-lib.sh"
insmod "$(ko cgblk_test_warn)" bug=leak
rmmod cgblk_test_warn
exit 0
