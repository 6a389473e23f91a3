# SPDX-License-Identifier: GPL-2.0
# judge.sh - verdicts; sourced by tests/run.
#
#   verdict PASS|FAIL|SKIP NAME [DETAIL]   print and record one verdict line
#   judge OUT SUITE TESTS                  read one boot's logs: sets RAW[test]
#                                          (PASS|FAIL), WHY[test], DUR[test] (s),
#                                          COMPLETE and BOOT_BAD
#   judge_selftests SUITE TESTS            the self-tests' verdicts, from RAW/WHY
#
# A test passes only if all of these hold:
#   - the guest reported it finished, with exit code 0 (second serial port,
#     which only the guest runner writes);
#   - no new kernel taint other than O/E (unsigned out-of-tree modules);
#   - its part of the kernel log (its BEGIN marker to the next) has no line
#     of BAD_LOG: oops, WARN, BUG, lockdep, KASAN, UBSAN, kmemleak, soft/hard
#     lockup, hung task, RCU stall, panic;
#   - it left none of our modules loaded.
# And a boot passes only if the guest went on to write its completion marker
# (only after the last test) and nothing before the first test is bad.

BAD_LOG='Oops|BUG:|WARNING:|kernel BUG at|Kernel panic|general protection fault|Unable to handle kernel|double fault|stack-protector|possible circular locking|possible recursive locking|inconsistent lock state|DEBUG_LOCKS_WARN_ON|KASAN:|UBSAN:|unreferenced object|soft lockup|hard LOCKUP|blocked for more than|self-detected stall|rcu: INFO|detected stall|sleeping function called from invalid context|scheduling while atomic|list_add corruption|list_del corruption|refcount_t:|ODEBUG:|cgblk-init:'

# Taint bits a test may add: O (out-of-tree module, 4096) and E (unsigned
# module, 8192).
TAINT_OK=$((4096 | 8192))

PASSED=0 FAILED=0 SKIPPED=0
verdict() {
	local line
	line=$(printf '%-4s %-34s %s' "$1" "$2" "${3:-}")
	echo "$line"
	echo "$line" >> "$RESULTS/verdicts.txt"
	case $1 in
	PASS) PASSED=$((PASSED + 1)) ;;
	FAIL) FAILED=$((FAILED + 1)) ;;
	SKIP) SKIPPED=$((SKIPPED + 1)) ;;
	esac
}

declare -A RAW WHY DUR
judge() {
	local out=$1 suite=$2 tests=$3 t klog=$1/$2-kernel.log marks=$1/$2-marks.txt
	local end rc t0 t1 left secs bad seg
	COMPLETE=0
	grep -qx "DONE $NONCE" "$marks" && COMPLETE=1
	# The kernel log of the boot, before the first test.
	BOOT_BAD=$(awk '/cgblk-harness: BEGIN /{exit} {print}' "$klog" | grep -Em1 "$BAD_LOG")
	for t in $tests; do
		RAW[$t]=FAIL
		DUR[$t]=
		if ! grep -qx "BEGIN $t" "$marks"; then
			WHY[$t]="not run: the guest stopped before it"
			continue
		fi
		# This test's part of the kernel log: from its BEGIN to the next BEGIN.
		seg=$(awk -v b="cgblk-harness: BEGIN $t\$" '
			$0 ~ b {on = 1; print; next}
			on && /cgblk-harness: BEGIN / {exit}
			on {print}' "$klog")
		bad=$(grep -Em1 "$BAD_LOG" <<< "$seg")
		end=$(grep -m1 "^END $t " "$marks")
		if [ -z "$end" ]; then
			WHY[$t]="did not finish: the guest died or hung${bad:+; kernel: $bad}"
			continue
		fi
		read -r _ _ rc t0 t1 left secs <<< "$end"
		DUR[$t]=$secs
		if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
			WHY[$t]="timed out${bad:+; kernel: $bad}"
		elif [ "$rc" != 0 ]; then
			WHY[$t]="exit code $rc: $(grep -m1 '^FAIL' "$out/$suite/$t/output.log" || tail -n 1 "$out/$suite/$t/output.log")"
		elif [ -n "$bad" ]; then
			WHY[$t]="kernel log: $bad"
		elif [ $(( (t1 & ~t0) & ~TAINT_OK )) -ne 0 ]; then
			WHY[$t]="kernel tainted: $t0 -> $t1"
		elif [ "$left" != "-" ]; then
			WHY[$t]="left modules loaded: $left"
		else
			RAW[$t]=PASS
			WHY[$t]=
		fi
	done
}

# judge_selftests SUITE TESTS: each self-test says how the judge must have
# judged it ("# expect: pass" or "# expect: fail <regex of WHY>").
judge_selftests() {
	local suite=$1 run=$2 t exp want why
	for t in $run; do
		exp=$(test_header "$TOP/tests/$suite/$t.sh" expect)
		want=${exp%% *}
		why=${exp#* }
		if [ "$want" = pass ] && [ "${RAW[$t]}" = PASS ]; then
			verdict PASS "$KSERIES/selftest/$t" "(passed, as it must)$(took "$t")"
		elif [ "$want" = fail ] && [ "${RAW[$t]}" = FAIL ] && [[ "${WHY[$t]}" =~ $why ]]; then
			verdict PASS "$KSERIES/selftest/$t" "(caught: ${WHY[$t]})$(took "$t")"
		else
			verdict FAIL "$KSERIES/selftest/$t" "harness judged ${RAW[$t]} '${WHY[$t]}', expected $exp"
		fi
	done
	# A run that crashed must not count as complete.
	if [[ " $run " == *" panic_is_caught "* ]]; then
		if [ $COMPLETE -eq 0 ]; then
			verdict PASS "$KSERIES/selftest/crashed-run-is-incomplete"
		else
			verdict FAIL "$KSERIES/selftest/crashed-run-is-incomplete" "completion marker seen after a crash"
		fi
	fi
}

# took TEST: " [Ns]", the test's duration in the guest, when known.
took() { [ -z "${DUR[$1]:-}" ] || printf ' [%ss]' "${DUR[$1]}"; }
