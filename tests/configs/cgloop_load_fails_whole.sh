#!/bin/bash
# Proves: a backing= load whose last entry is bad (one that fails late:
# it opens, then is refused as empty) adds no disk before it fails — no
# "add" uevent of any cgloop device, no enable line in the kernel log — and
# leaves nothing: no /dev/cgloop*, no configfs group, module not loaded, the
# good block device released; the same good entries then load (issue 13.8).
# timeout: 300
# tier: edges
. "$CGBLK_TOP/tests/lib/guest-lib.sh"

cgblk_deps cgloop
brd_setup 16 2
truncate -s 16M /scratch/good
: > /scratch/empty

# Kernel uevents of block devices, in order, as the netlink socket gets
# them (a uevent is queued on the socket before the write that sent it
# returns: once the monitor shows one, it has every one sent before).
ev=$CGBLK_OUT/uevents
stdbuf -oL udevadm monitor --kernel --subsystem-match=block > "$ev" 2>&1 &
monpid=$!
# seen DEV: the monitor printed a "change" of DEV.
seen() { grep -q "change .*/$1 " "$ev"; }
# poke DEV: send a "change" of DEV and see it arrive (retried until the
# monitor listens); a monitor that exited fails at once.  (In one
# full-tier run on 5.10, with a kernel build beside the guest, no change
# of ram1 was seen in 30 s: the monitor's output is kept in the results.)
poke() {
	kill -0 $monpid 2>/dev/null || fail "the uevent monitor exited: $(head -c 300 "$ev" | tr '\n' ' ')"
	echo change > "/sys/block/$1/uevent"; sleep 0.2; seen "$1"
}
wait_for 60 poke ram1

mark=$(dmesg_mark)
expect_fail insmod "$(ko cgloop)" backing=/dev/ram0,/scratch/good,/scratch/empty
echo change > /sys/block/ram0/uevent
wait_for 20 seen ram0
kill $monpid
wait $monpid || true

dmesg_since "$mark" | grep -E 'cgloop: backing /scratch/empty: offset 0 is not below its size 0' ||
	fail "no kernel line for the bad entry"
if grep -E 'cgloop' "$ev"; then
	fail "a cgloop disk was added (and removed) during the failed load"
fi
if dmesg_since "$mark" | grep -E 'cgloop[0-9]+: '; then
	fail "a cgloop device was enabled during the failed load"
fi
is_loaded cgloop && fail "cgloop is loaded after the failed load"
ls /dev/cgloop* 2>/dev/null && fail "the failed load left a /dev/cgloop node"
ls -d /sys/block/cgloop* 2>/dev/null && fail "the failed load left a cgloop disk"
[ ! -e /sys/kernel/config/cgloop ] || fail "the failed load left its configfs subsystem"
# /dev/ram0 is no longer claimed: an exclusive open works.
/usr/bin/python3 -c 'import os; os.close(os.open("/dev/ram0", os.O_RDONLY | os.O_EXCL))' ||
	fail "/dev/ram0 is still claimed after the failed load"

# The good entries alone load, and each device is there.
insmod "$(ko cgloop)" backing=/dev/ram0,/scratch/good
[ -b /dev/cgloop0 ] && [ -b /dev/cgloop1 ] || fail "backing=/dev/ram0,/scratch/good: no cgloop0 and cgloop1"
[ "$(cgloop_attr 0 backing_file)" = /dev/ram0 ] || fail "cgloop0 is not over /dev/ram0"
[ "$(cgloop_attr 1 backing_file)" = /scratch/good ] || fail "cgloop1 is not over /scratch/good"
rmmod cgloop
cgblk_unload_all
brd_cleanup
