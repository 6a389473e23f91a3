#!/bin/bash
# Proves: a test that leaves one of our modules loaded fails.
# expect: fail left modules loaded: cgblk_core
# tier: edges
# timeout: 30
. "$CGBLK_TOP/tests/lib/guest-lib.sh"
cgblk_load cgblk_core
exit 0
