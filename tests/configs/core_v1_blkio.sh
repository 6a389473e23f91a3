#!/bin/bash
# Proves: with the io controller on a cgroup v1 hierarchy (blkio) and
# memory on v2, I/O through cgloop over a brd ramdisk and over a tmpfs file
# and through a cgsnap snapshot, from a v1 blkio cgroup and from a task of
# a v1 blkio cgroup and a v2 memory cgroup, runs without a kernel report
# and keeps its data (fio verify); each blkio cgroup gets its own worker;
# and the backing I/O of a blkio cgroup is charged to it on the backing
# device: limited by its blkio.throttle.write_bps_device (3 MiB at 1 MiB/s
# take 2 s or more) and counted in its blkio.throttle.io_service_bytes
# (issue 13.6: a bio's blkcg is then a v1 cgroup, whose hierarchy has no
# memory controller; on 5.10 the first such I/O oopsed in
# cgblk_charge_from_bio).  Afterwards io goes back to v2.
# timeout: 500
# tier: one 5.10 (long; cgroup v1 is the old kernels' users': the full tier runs it everywhere)
# order: first
# (first in its boot: a controller moves to a v1 hierarchy only while no
# dying memcg of it is left on v2, and after other tests' memcgs 5.10
# also warned in page_counter_uncharge once memory was moved)
. "$CGBLK_TOP/tests/lib/guest-lib.sh"

v1=/scratch/v1-blkio
mkdir -p $v1
# On any exit: a v1 hierarchy with cgroups outlives its mount and keeps
# the controller from v2 for the tests after this one.
v1_cleanup() {
	rmdir $v1/b1 $v1/b2 2> /dev/null || true
	umount $v1 2> /dev/null || true
	return 0
}
trap v1_cleanup EXIT
# The v1 mount takes blkio (io) only while no v2 cgroup has it enabled.
if grep -qw io /sys/fs/cgroup/cgroup.subtree_control; then
	echo -io > /sys/fs/cgroup/cgroup.subtree_control
fi
grep -qw memory /sys/fs/cgroup/cgroup.controllers || fail "memory is not on v2: $(grep -w memory /proc/cgroups)"
echo +memory > /sys/fs/cgroup/cgroup.subtree_control
# Dying blkcgs of earlier tests keep io busy on v2 until they are freed.
deadline=$((SECONDS + 60))
until mount -t cgroup -o blkio none $v1 2> /scratch/mount.err; do
	[ $SECONDS -lt $deadline ] ||
		fail "blkio cannot move to v1: $(cat /scratch/mount.err); v2 root: $(tr '\n' ' ' < /sys/fs/cgroup/cgroup.stat)"
	sleep 1
done
! grep -qw io /sys/fs/cgroup/cgroup.controllers || fail "io is still on v2 after the v1 mount"
mkdir $v1/b1 $v1/b2 /sys/fs/cgroup/mem1
log "blkio on v1 ($v1), memory on v2"

# as WHO CMD...: CMD as a task of the blkio cgroup b1 (b1), or of the
# blkio cgroup b2 and the v2 memory cgroup mem1 (b2mem).
as() {
	(
		case $1 in
		b1) echo $BASHPID > $v1/b1/cgroup.procs ;;
		b2mem) echo $BASHPID > $v1/b2/cgroup.procs
		       echo $BASHPID > /sys/fs/cgroup/mem1/cgroup.procs ;;
		esac
		shift
		"$@"
	)
}

stack_devices

for who in b1 b2mem; do
	for dev in /dev/cgloop0 /dev/cgloop1 /dev/mapper/s1; do
		as $who fio_verify $dev 2M --direct=1
		log "$who: $dev verified (direct)"
	done
done
as b2mem fio_verify /dev/cgloop1 2M
log "b2mem: /dev/cgloop1 verified (buffered)"

cat /sys/kernel/debug/cgblk/cgloop/cgloop0/workers | tee "$CGBLK_OUT/workers-cgloop0.txt"
for c in b1 b2; do
	grep -q "^/$c " "$CGBLK_OUT/workers-cgloop0.txt" || fail "the blkio cgroup $c had no worker of its own on cgloop0"
done
cat /sys/kernel/debug/cgblk/dm_cgsnap/* > "$CGBLK_OUT/cgsnap.txt"
grep -q '/b1' "$CGBLK_OUT/cgsnap.txt" || fail "the blkio cgroup b1 made no copy on its own cgsnap worker"

# b1's backing writes are b1's on ram0: limited and counted.
ram0=$(cat /sys/block/ram0/dev)
written() {
	awk -v d="$ram0" '$1 == d && $2 == "Write" { print $3; f = 1 } END { if (!f) print 0 }' \
		$v1/b1/blkio.throttle.io_service_bytes
}
echo "$ram0 1048576" > $v1/b1/blkio.throttle.write_bps_device
w0=$(written)
t0=$(date +%s%N)
as b1 dd if=/dev/urandom of=/dev/cgloop0 bs=256k count=12 oflag=direct status=none
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
w1=$(written)
echo "$ram0 0" > $v1/b1/blkio.throttle.write_bps_device
log "b1: 3 MiB through cgloop0 in $ms ms at 1 MiB/s on ram0; blkio.throttle.io_service_bytes Write on ram0 +$((w1 - w0))"
[ $ms -ge 2000 ] || fail "3 MiB at 1 MiB/s took $ms ms: b1's limit on ram0 did not apply to its writes through cgloop0"
[ $((w1 - w0)) -ge $((3 << 20)) ] || fail "b1's io_service_bytes on ram0 grew by $((w1 - w0)), expected 3 MiB"

stack_devices_remove
rmdir $v1/b1 $v1/b2 /sys/fs/cgroup/mem1
# The unmount frees the hierarchy only if its root has no child then, dying
# ones included: wait until b1 and b2 are gone.
deadline=$((SECONDS + 60))
until [ "$(awk '$1 == "blkio" { print $3 }' /proc/cgroups)" = 1 ]; do
	[ $SECONDS -lt $deadline ] ||
		fail "the v1 blkio cgroups were not freed in 60 s: $(grep -w blkio /proc/cgroups)"
	sleep 1
done
umount $v1
deadline=$((SECONDS + 60))
until grep -qw io /sys/fs/cgroup/cgroup.controllers; do
	[ $SECONDS -lt $deadline ] ||
		fail "io did not go back to v2 in 60 s: $(grep -w blkio /proc/cgroups)"
	sleep 1
done
log "io back on v2"
