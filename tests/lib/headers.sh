# SPDX-License-Identifier: GPL-2.0
# headers.sh - read a test's header lines; sourced on the host (tests/run)
# and in the guest (guest-run.sh), so both read them the same way.
#
# A test's header is its leading "# KEY: value" lines:
#   # Proves: <what it proves>        required by review, read by people
#   # tier: core | edges | one <series>   which kernels CI runs it on (below)
#   # timeout: <seconds>              default 120 (tripled on the debug kernel)
#   # kernels: <series...>            the kernels it applies to (default: all)
#   # order: first | last             where it runs in its boot (default: by name)
#   # expect: pass | fail <regex>     self-tests only: the verdict the judge must give
#
# Tiers.  `make check` (the full tier) runs every test on every kernel asked
# for.  The CI tier (`make check-ci`, what .ci/run runs) runs
#   core          on every kernel: the load / charge / verify core;
#   edges         on the oldest and the newest kernel the test applies to;
#   one <series>  on that kernel only: long measurements (isolation
#                 medians, stress, hotplug, power cut); a reason in
#                 parentheses may follow, e.g. "# tier: one 6.1 (stress)".

# test_header FILE KEY: the value of FILE's first "# KEY:" line (empty if none).
test_header() { sed -n "s/^# $2: *//p" "$1" | head -n 1; }

# test_timeout FILE: its timeout in seconds.
test_timeout() {
	local t
	t=$(test_header "$1" timeout)
	t=${t%%[!0-9]*}
	echo "${t:-120}"
}
