#!/bin/bash
# Proves: a test script that exits non-zero fails.
# expect: fail exit code 3
# tier: edges
# timeout: 30
. "$CGBLK_TOP/tests/lib/guest-lib.sh"
exit 3
