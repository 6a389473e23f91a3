#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# guest-run.sh - PID 1 of the test guest, after the switch to the 9p root.
#
# Runs each test of the suite under a timeout and reports on the second
# serial port (/dev/ttyS1), which only this script writes:
#   BEGIN <test>
#   END <test> <exit code> <taint before> <taint after> <modules left> <seconds>
#   DONE <nonce>                     only after the very last test
# It also writes "cgblk-harness: BEGIN/END <test>" into the kernel log so
# that the host can tell which test every kernel message belongs to.  The
# host (tests/run) decides pass or fail; nothing here can report a pass.
set -u
. /etc/cgblk-guest.conf
. "$CGBLK_TOP/tests/lib/headers.sh"
. "$CGBLK_TOP/tests/lib/modules.sh"
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
export CGBLK_TOP CGBLK_KO CGBLK_KSERIES CGBLK_PHASE CGBLK_TIER
export HOME=/root TERM=dumb LANG=C

# A setup step that fails is reported in the kernel log, which fails the
# boot verdict on the host.
setup() { "$@" || echo "cgblk-init: guest setup failed: $*" > /dev/kmsg; }

setup mount -t proc proc /proc
setup mount -t sysfs sysfs /sys
# devtmpfs has no /dev/fd: bash's process substitution needs it.
ln -sf /proc/self/fd /dev/fd
ln -sf /proc/self/fd/0 /dev/stdin
ln -sf /proc/self/fd/1 /dev/stdout
ln -sf /proc/self/fd/2 /dev/stderr
if [ -n "$CGBLK_GUEST_MODDIR" ]; then
	# A chroot kernel: its modules are not at /lib/modules on the host.
	mkdir -p "/lib/modules/$(uname -r)"
	setup mount --bind "$CGBLK_GUEST_MODDIR" "/lib/modules/$(uname -r)"
fi
# /tmp stays the overlay's (the tree under test may live in the host's /tmp);
# each test gets a fresh tmpfs at /scratch as its working and TMPDIR.
mkdir -p /scratch
setup mount -t tmpfs -o mode=0755 tmpfs /run
setup mount -t cgroup2 cgroup2 /sys/fs/cgroup
setup mount -t debugfs debugfs /sys/kernel/debug
setup modprobe configfs		# a module on Debian's kernels
setup mount -t configfs configfs /sys/kernel/config
echo "$CGBLK_HUNG_TASK_SECS" > /proc/sys/kernel/hung_task_timeout_secs
echo 1 > /proc/sys/kernel/sysrq

exec 7>/dev/ttyS1
stty -F /dev/ttyS1 raw -echo 2>/dev/null
mark() { echo "$*" >&7; }

# Modules the suite may leave behind, in unload order.
leftovers() {
	local m left=
	for m in $(awk '{print $1}' /proc/modules); do
		case " ${CGBLK_MODULES//-/_} " in
		*" $m "*) left="$left,$m" ;;
		*) [[ $m != cgblk_test_* ]] || left="$left,$m" ;;
		esac
	done
	echo "${left#,}"
}

# Debug kernels: a kmemleak scan after every test, once its modules are
# unloaded.  Objects younger than 5 s are not reported yet: wait that long.
# A scan also skips every object whose contents changed since the scan
# before (its checksum), and a new object has no checksum yet: so a leak
# is only reported by the second scan after it was allocated.  Scan twice.
# What leaked before the first test (the boot) is not ours: forgotten.
KMEMLEAK=/sys/kernel/debug/kmemleak
kmemleak_check() {	# OUT: reports go to OUT/kmemleak.txt and the kernel log
	[ -w $KMEMLEAK ] || return 0
	sleep 5
	echo scan > $KMEMLEAK
	echo scan > $KMEMLEAK
	cat $KMEMLEAK > "$1/kmemleak.txt"
	echo clear > $KMEMLEAK
	if [ -s "$1/kmemleak.txt" ]; then
		head -n 40 "$1/kmemleak.txt" | while IFS= read -r l; do
			echo "cgblk-harness: kmemleak: $l" > /dev/kmsg
		done
	else
		rm -f "$1/kmemleak.txt"
	fi
}
if [ -w $KMEMLEAK ]; then
	echo scan > $KMEMLEAK
	echo scan > $KMEMLEAK
	echo clear > $KMEMLEAK
fi

for t in $CGBLK_TESTS; do
	f=$CGBLK_TOP/tests/$CGBLK_SUITE/$t.sh
	tmo=$(test_timeout "$f")
	out=$CGBLK_GUEST_RESULTS/$t
	mkdir -p "$out"
	taint0=$(cat /proc/sys/kernel/tainted)
	echo "cgblk-harness: BEGIN $t" > /dev/kmsg
	mark "BEGIN $t"
	t_start=$SECONDS
	mount -t tmpfs -o mode=1777 tmpfs /scratch
	(cd /scratch && CGBLK_TEST=$t CGBLK_OUT=$out TMPDIR=/scratch \
		exec timeout -k 10 "$(( tmo * ${CGBLK_TIMEOUT_SCALE:-1} ))" /bin/bash "$f") \
		> "$out/output.log" 2>&1 < /dev/null
	rc=$?
	t_secs=$((SECONDS - t_start))
	# Device-mapper devices and loop devices a failed test left behind
	# hold the drivers below them.
	if [ -d /sys/module/dm_mod ]; then
		DM_DISABLE_UDEV=1 dmsetup remove_all --force > /dev/null 2>&1
	fi
	if [ -d /sys/module/loop ]; then losetup -D 2>/dev/null; fi
	left=$(leftovers)
	if [ -n "$left" ]; then
		# Clean up for the next test; the host fails this one.  Items in
		# configfs hold their module: disable and remove them first.
		for d in /sys/kernel/config/cgloop/*/ /sys/kernel/config/nullb/*/; do
			[ -d "$d" ] || continue
			echo 0 > "$d/enable" 2>/dev/null
			echo 0 > "$d/power" 2>/dev/null
			rmdir "$d" 2>/dev/null
		done
		for m in $(awk '/^cgblk_test_/ {print $1}' /proc/modules) \
			 ${CGBLK_UNLOAD//-/_}; do
			rmmod "$m" 2>/dev/null
		done
	fi
	# Scratch drivers, offline CPUs and cgroups a failed test left behind.
	for c in /sys/devices/system/cpu/cpu*/online; do
		[ "$(cat "$c")" = 1 ] || echo 1 > "$c"
	done 2>/dev/null
	umount -R -l /scratch 2>/dev/null
	for m in null_blk brd; do
		grep -q "^$m " /proc/modules && rmmod $m 2>/dev/null
	done
	find /sys/fs/cgroup -mindepth 1 -depth -type d -exec rmdir {} + 2>/dev/null
	kmemleak_check "$out"
	taint1=$(cat /proc/sys/kernel/tainted)
	echo "cgblk-harness: END $t rc=$rc" > /dev/kmsg
	mark "END $t $rc $taint0 $taint1 ${left:--} $t_secs"
done

sync
mark "DONE $CGBLK_NONCE"
sleep 1
echo b > /proc/sysrq-trigger
sleep 10
