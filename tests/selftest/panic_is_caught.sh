#!/bin/bash
# Proves: a kernel crash fails the test that caused it and the run, even
# though nothing after the crash reports anything.  Runs last (its "# order: last").
# expect: fail did not finish.*Kernel panic
# tier: edges
# order: last
# timeout: 30
. "$CGBLK_TOP/tests/lib/guest-lib.sh"
echo c > /proc/sysrq-trigger
