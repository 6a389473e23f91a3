#!/bin/bash
# Proves: with the memory controller on a cgroup v1 hierarchy and io on v2
# (a hybrid system: Debian 11 booted with systemd.unified_cgroup_hierarchy=0,
# a v1 docker host), I/O through cgloop over a brd ramdisk and over a tmpfs
# file and through a cgsnap snapshot, from a v2 io cgroup, from a v1 memory
# cgroup and from a task in both, runs without a kernel report and keeps
# its data (fio verify, dd and read back), and the v2 cgroup gets a worker
# of its own
# (issue 13.6: on 5.10 the first such I/O oopsed in cgblk_charge_from_bio,
# css_get(NULL)).  Its memcg is then the root memcg, as upstream's
# cgroup_get_e_css() gives.  Afterwards memory goes back to v2 (no css
# reference left behind on the v1 hierarchy).
# Debian's 6.12 and 7.3 are built without CONFIG_MEMCG_V1: memory cannot
# be mounted on v1 there.
# kernels: 5.10 6.1
# timeout: 500
# tier: one 5.10 (its bug was 5.10's: the full tier runs it everywhere)
# order: first
# (first in its boot: a controller moves to a v1 hierarchy only while no
# dying memcg of it is left on v2, and after other tests' memcgs 5.10
# also warned in page_counter_uncharge once memory was moved)
. "$CGBLK_TOP/tests/lib/guest-lib.sh"

v1=/scratch/v1-memory
mkdir -p $v1
# On any exit: a v1 hierarchy with cgroups outlives its mount and keeps
# the controller from v2 for the tests after this one.
v1_cleanup() {
	rmdir $v1/m1 2> /dev/null || true
	umount $v1 2> /dev/null || true
	return 0
}
trap v1_cleanup EXIT
# The v1 mount takes memory only while no v2 cgroup has it enabled.
if grep -qw memory /sys/fs/cgroup/cgroup.subtree_control; then
	echo -memory > /sys/fs/cgroup/cgroup.subtree_control
fi
grep -qw io /sys/fs/cgroup/cgroup.controllers || fail "io is not on v2: $(grep -w blkio /proc/cgroups)"
echo +io > /sys/fs/cgroup/cgroup.subtree_control
# Dying memcgs of earlier tests (pinned by page cache) keep memory busy on
# v2 until they are freed: drop caches and retry for up to 60 s.
log "v2 root: $(tr '\n' ' ' < /sys/fs/cgroup/cgroup.stat)"
deadline=$((SECONDS + 60))
until mount -t cgroup -o memory none $v1 2> /scratch/mount.err; do
	[ $SECONDS -lt $deadline ] ||
		fail "memory cannot move to v1: $(cat /scratch/mount.err); v2 root: $(tr '\n' ' ' < /sys/fs/cgroup/cgroup.stat)"
	echo 3 > /proc/sys/vm/drop_caches
	sleep 1
done
! grep -qw memory /sys/fs/cgroup/cgroup.controllers || fail "memory is still on v2 after the v1 mount"
mkdir $v1/m1 /sys/fs/cgroup/io1
log "memory on v1 ($v1), io on v2"

# as WHO CMD...: CMD as a task of the v2 cgroup io1 (v2), of the v1 memcg
# m1 (v1) or of both.
as() {
	(
		case $1 in v2|both) echo $BASHPID > /sys/fs/cgroup/io1/cgroup.procs ;; esac
		case $1 in v1|both) echo $BASHPID > $v1/m1/cgroup.procs ;; esac
		shift
		"$@"
	)
}

stack_devices

# The v2 cgroup runs fio; tasks of m1 write with dd, which charges m1
# nothing that outlives it (fio's memory there kept m1 from being freed
# for minutes, and with it the v1 hierarchy: the tests after this one need
# memory back on v2).
dd if=/dev/urandom of=/scratch/pattern bs=64k count=32 status=none
dd_verify() {	# DEV: 2 MiB of /scratch/pattern written to DEV and read back
	dd if=/scratch/pattern of="$1" bs=64k oflag=direct status=none
	cmp /scratch/pattern <(dd if="$1" bs=64k count=32 iflag=direct status=none) ||
		fail "$1: read back differs from what was written"
}
for dev in /dev/cgloop0 /dev/cgloop1 /dev/mapper/s1; do
	as v2 fio_verify $dev 2M --direct=1
	log "v2: $dev verified (fio, direct)"
	for who in v1 both; do
		as $who dd_verify $dev
		log "$who: $dev verified (dd, direct)"
	done
done
as v2 fio_verify /dev/cgloop1 2M
log "v2: /dev/cgloop1 verified (fio, buffered)"
log "v1 memcg m1: memory.usage_in_bytes $(cat $v1/m1/memory.usage_in_bytes)"

cat /sys/kernel/debug/cgblk/cgloop/cgloop0/workers | tee "$CGBLK_OUT/workers-cgloop0.txt"
grep -q '^/io1 ' "$CGBLK_OUT/workers-cgloop0.txt" || fail "the v2 cgroup io1 had no worker of its own on cgloop0"
cat /sys/kernel/debug/cgblk/dm_cgsnap/* > "$CGBLK_OUT/cgsnap.txt"
grep -q '/io1' "$CGBLK_OUT/cgsnap.txt" || fail "the v2 cgroup io1 made no copy on its own cgsnap worker"

stack_devices_remove
rmdir $v1/m1 /sys/fs/cgroup/io1
# The unmount frees the hierarchy only if its root has no child then, dying
# ones included: wait until m1 (pinned by its page cache) is gone.
deadline=$((SECONDS + 60))
until [ "$(awk '$1 == "memory" { print $3 }' /proc/cgroups)" = 1 ]; do
	[ $SECONDS -lt $deadline ] ||
		fail "the v1 memcg m1 was not freed in 60 s: $(grep -w memory /proc/cgroups)"
	echo 3 > /proc/sys/vm/drop_caches
	sleep 1
done
umount $v1
deadline=$((SECONDS + 60))
until grep -qw memory /sys/fs/cgroup/cgroup.controllers; do
	[ $SECONDS -lt $deadline ] ||
		fail "memory did not go back to v2 in 60 s: $(grep -w memory /proc/cgroups)"
	echo 3 > /proc/sys/vm/drop_caches
	sleep 1
done
log "memory back on v2"
