# SPDX-License-Identifier: GPL-2.0
# guest-lib.sh - helpers for the guest tests; each test sources it first.
#
# A test is a bash script under tests/guest/ (or tests/selftest/) that runs
# as root inside the qemu guest, under `set -euo pipefail`.  It proves one
# thing, says so in a "# Proves:" line, may set "# timeout: <seconds>" and
# "# kernels: <series> ..." in its header, and exits non-zero on failure.
# Environment: CGBLK_TOP (the source tree), CGBLK_KO (the modules built for
# this kernel), CGBLK_OUT (a folder kept with the results), CGBLK_KSERIES;
# the working directory and TMPDIR are a fresh tmpfs, /scratch.
set -euo pipefail

CGBLK_MODULES="cgblk_core cgblk_offload cgloop dm-cgsnap"
# Users of cgblk_core, in load order.
CGBLK_USERS="cgblk_offload cgloop dm-cgsnap"

log() { printf '%s\n' "$*"; }
fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }

# ko NAME: the module file built for the running kernel.
ko() {
	local f=$CGBLK_KO/$1.ko
	[ -f "$f" ] || f=$CGBLK_KO/tests/modules/$1.ko
	[ -f "$f" ] || fail "no module file for $1 in $CGBLK_KO"
	echo "$f"
}

# Name of a module as the kernel shows it (dashes become underscores).
kname() { echo "${1//-/_}"; }

is_loaded() { [ -d "/sys/module/$(kname "$1")" ] && grep -q "^$(kname "$1") " /proc/modules; }

cgblk_load() {	# [module args...]: core, then the named module
	local m=$1; shift
	is_loaded cgblk_core || insmod "$(ko cgblk_core)"
	[ "$m" = cgblk_core ] || insmod "$(ko "$m")" "$@"
}

cgblk_unload_all() {
	local m
	for m in dm-cgsnap cgloop cgblk_offload cgblk_core; do
		if is_loaded "$m"; then rmmod "$(kname "$m")"; fi
	done
}

# expect_fail CMD...: CMD must exit non-zero.
expect_fail() {
	if "$@"; then fail "expected to fail: $*"; fi
	return 0
}

# Kernel log lines since the given mark (a line count of dmesg).
dmesg_mark() { dmesg | wc -l; }
dmesg_since() { dmesg | tail -n +"$(( $1 + 1 ))"; }

# wait_for SECONDS CMD...: poll CMD every 0.2 s until it succeeds; fail after
# SECONDS.
wait_for() {
	local limit=$1 i=0; shift
	while ! "$@"; do
		i=$((i + 1))
		[ $i -lt $((limit * 5)) ] || fail "timed out after ${limit}s waiting for: $*"
		sleep 0.2
	done
}

# cg_run CGROUP CMD: run the shell command CMD as a process of CGROUP (a
# path under /sys/fs/cgroup).
cg_run() {
	local cg=$1; shift
	sh -c "echo \$\$ > /sys/fs/cgroup/$cg/cgroup.procs && $*"
}

# cg_setup NAME...: enable io and memory for children of the root and make
# the named cgroups.  cg_cleanup removes them.
cg_setup() {
	echo "+io +memory" > /sys/fs/cgroup/cgroup.subtree_control
	local c
	for c in "$@"; do mkdir -p "/sys/fs/cgroup/$c"; done
}
cg_cleanup() {
	local c
	for c in "$@"; do rmdir "/sys/fs/cgroup/$c"; done
}

# busy_cpus SECONDS: keep every CPU busy, so that deferrable timers (which
# an idle CPU does not run) fire.
busy_cpus() {
	local i
	for i in $(seq "$(nproc)"); do
		timeout "$1" sh -c 'while :; do :; done' &
	done
	wait
}
