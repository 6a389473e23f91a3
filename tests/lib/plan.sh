# SPDX-License-Identifier: GPL-2.0
# plan.sh - which tests run on which kernel; sourced by tests/run.
#
#   tests_of SUITE        the tests of tests/SUITE asked for (--tests), in the
#                         order they run: "# order: first" ones, then by
#                         name, then "# order: last" ones
#   plan_suite SUITE      sets PLAN_RUN to the tests of SUITE that run on
#                         $KSERIES in tier $TIER and prints a verdict for
#                         each that does not (SKIP), or whose header is bad
#                         (FAIL), or that waits on a condition that cannot
#                         change (FAIL, below)
#
# Tiers are read from each test's "# tier:" header (tests/lib/headers.sh):
# the full tier runs every test on every kernel; the CI tier runs "core"
# tests on every kernel, "edges" tests on the oldest and the newest kernel
# they apply to, "one <series>" tests on that kernel.  Only the stock
# kernels have tiers: the debug kernel runs every test it is given; so do
# the bench and demo suites (make bench, make demo), which have none.

STOCK_SERIES="5.10 6.1 6.12 7.3"

tests_of() {
	local f n first= middle= last=
	for f in "$TOP/tests/$1"/*.sh; do
		[ -e "$f" ] || continue
		n=$(basename "$f" .sh)
		if [ -n "$TESTS" ] && ! [[ " $TESTS " == *" $n "* ]]; then
			continue
		fi
		case $(test_header "$f" order) in
		first) first="$first $n" ;;
		last) last="$last $n" ;;
		*) middle="$middle $n" ;;
		esac
	done
	echo $first $middle $last
}

# tier_runs_here FILE: whether the test runs on $KSERIES in $TIER; TIER_WHY
# says why not, TIER_BAD is set for a missing or malformed header.
tier_runs_here() {
	local tier kernels here edges
	TIER_WHY= TIER_BAD=
	tier=$(test_header "$1" tier)
	tier=${tier%% (*}	# "one 6.1 (why)": the reason is for people
	case $tier in
	core|edges) ;;
	"one "*) [[ " $STOCK_SERIES " == *" ${tier#one } "* ]] || TIER_BAD=1 ;;
	*) TIER_BAD=1 ;;
	esac
	if [ -n "$TIER_BAD" ]; then
		TIER_WHY="no valid '# tier:' header ('${tier}'; want core, edges or one <series>)"
		return 1
	fi
	[ "$TIER" = ci ] && [ "$KSERIES" != debug ] || return 0
	case $tier in
	core) return 0 ;;
	"one "*)
		[ "${tier#one }" = "$KSERIES" ] && return 0
		TIER_WHY="(CI tier: runs on ${tier#one } only)"
		return 1 ;;
	esac
	# edges: the oldest and the newest of the kernels of this run that the
	# test applies to.
	kernels=$(test_header "$1" kernels)
	here=
	for k in $KERNELS; do
		[[ " ${kernels:-$STOCK_SERIES} " == *" $k "* ]] &&
			[[ " $STOCK_SERIES " == *" $k "* ]] && here="$here $k"
	done
	edges=$(printf '%s\n' $here | sort -V | sed -n '1p;$p' | sort -u -V | tr '\n' ' ')
	[[ " $edges " == *" $KSERIES "* ]] && return 0
	TIER_WHY="(CI tier: runs on ${edges% })"
	return 1
}

# frozen_wait FILE: the first line of FILE whose wait_for condition holds a
# command substitution, e.g. `wait_for 60 test "$(stat x)" -ge 1`: the shell
# expands it once, before wait_for starts, so the wait polls a constant and
# can only pass at once or time out (three tests did; one timed out in CI
# whenever its merge had not begun when it was called).  The condition is
# the text after `wait_for N` up to the first ; | or &; single-quoted text
# (an `sh -c '...'` run at every poll) and escaped \$( are left alone, and so
# is arithmetic, $((...)).  Backticks count.  Not seen: a condition
# continued on the next line with a backslash.
frozen_wait() {
	sed "s/'[^']*'/''/g" "$1" |
		grep -nP '(^|[;&|!(]|\b(if|then|do|while|until)\b)\s*wait_for\s+\S+\s[^;|&]*?((?<!\\)\$\((?!\()|`)' |
		head -n 1
}

plan_suite() {
	local suite=$1 t f k frozen skipped=
	PLAN_RUN=
	for t in $(tests_of "$suite"); do
		f=$TOP/tests/$suite/$t.sh
		k=$(test_header "$f" kernels)
		if [ -n "$k" ] && ! [[ " $k " == *" $KSERIES "* ]]; then
			verdict SKIP "$KSERIES/$t" "(applies to $k only)"
		elif [ "$suite" = bench ] || [ "$suite" = demo ] || tier_runs_here "$f"; then
			frozen=$(frozen_wait "$f")
			if [ -n "$frozen" ]; then
				verdict FAIL "$KSERIES/$t" "line ${frozen%%:*}: wait_for's condition has a \$(...) the shell expands once, before the wait: use a function"
			else
				PLAN_RUN="$PLAN_RUN $t"
			fi
		elif [ -n "$TIER_BAD" ]; then
			verdict FAIL "$KSERIES/$t" "$TIER_WHY"
		else
			skipped="$skipped $t"
			SKIPPED=$((SKIPPED + 1))
			echo "SKIP $KSERIES/$t $TIER_WHY" >> "$RESULTS/verdicts.txt"
		fi
	done
	PLAN_RUN=${PLAN_RUN# }
	# Tier skips in one line, not one each: they are the plan, not news.
	[ -z "$skipped" ] ||
		printf 'SKIP %-34s %s\n' "$KSERIES/$suite" "CI tier leaves out:$skipped (make check runs them)"
}
