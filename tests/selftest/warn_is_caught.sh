#!/bin/bash
# Proves: a WARN in the kernel log fails a test whose script exits 0.
# expect: fail kernel log: .*WARNING
# tier: edges
# timeout: 30
. "$CGBLK_TOP/tests/lib/guest-lib.sh"
insmod "$(ko cgblk_test_warn)"
rmmod cgblk_test_warn
exit 0
