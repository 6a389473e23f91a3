#!/bin/bash
# Proves: the harness can pass a test (it does not fail everything).
# expect: pass
# tier: edges
# order: first
# timeout: 30
. "$CGBLK_TOP/tests/lib/guest-lib.sh"
cgblk_load cgblk_core
cgblk_unload_all
