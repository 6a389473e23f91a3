#!/bin/bash
# Proves: a test that runs past its timeout fails.
# expect: fail timed out
# tier: edges
# timeout: 5
. "$CGBLK_TOP/tests/lib/guest-lib.sh"
sleep 60
