#!/bin/bash
# Proves: a merge throttled by its resumer's io.max does not hold up the
# writes of other cgroups to the chunks of its step for the step's reads
# (review helper-20 H1): a merge from cgroup m, COW reads limited to
# 16 KiB/s, reads its first step (1 MiB: 64 s at the limit); a 4 KiB direct
# write from the root cgroup to a chunk of that step ends within 8 s (it
# goes on to the COW device and leaves its chunk to a later step:
# dirtied_chunks), and after the merge the origin reads as the snapshot
# with that write.  (It waited for the whole step before.)
# timeout: 300
# tier: edges
. "$CGBLK_TOP/tests/lib/guest-lib.sh"

brd_setup 16 2
cgblk_load dm-cgsnap
sectors=16384
fill_random /dev/ram0 8
dd if=/dev/zero of=/dev/ram1 bs=1M count=1 oflag=direct status=none
dmsetup create lv --table "0 $sectors cgsnap-origin /dev/ram0"
dmsetup suspend lv
dmsetup create snap --table "0 $sectors cgsnap /dev/ram0 /dev/ram1 P 8"
dmsetup resume lv
# 256 chunks of 4 KiB: one area of the store, the merge's first step
dd if=/dev/urandom of=/dev/mapper/snap bs=1M count=1 oflag=direct status=none
dmsetup suspend lv
dmsetup remove snap
dmsetup reload lv --table "0 $sectors cgsnap-merge /dev/ram0 /dev/ram1 P 8"
cg_setup m
echo "$(cat /sys/block/ram1/dev) rbps=16384" > /sys/fs/cgroup/m/io.max
cg_run m dmsetup resume lv
mstat() {	# FIELD: from lv's debugfs file
	awk -v f="$1" '$1 == f { print $2 }' "/sys/kernel/debug/cgblk/dm_cgsnap/dm-$(dmsetup info -c --noheadings -o minor lv | tr -d ' ')@0"
}
wait_for 10 test "$(mstat merge_steps)" -ge 1
sleep 1					# its reads are in flight, throttled
dd if=/dev/urandom of=/scratch/block bs=4k count=1 status=none
t0=$(date +%s%N)
dd if=/scratch/block of=/dev/mapper/lv bs=4k seek=128 count=1 oflag=direct status=none
took=$(( ($(date +%s%N) - t0) / 1000000 ))
log "a write to a chunk of the step under way took $took ms; merged $(mstat merged_chunks), dirtied $(mstat dirtied_chunks), queued $(mstat queued_writes)"
[ $took -lt 8000 ] || fail "the write waited $took ms for the merge's throttled step"
[ "$(mstat merged_chunks)" = 0 ] || fail "the first step was done before the write: nothing tested"
[ "$(mstat dirtied_chunks)" -ge 1 ] || fail "the write did not leave its chunk to a later step"
dmd5() { dd if="$1" bs=1M count=8 iflag=direct status=none | md5sum | cut -d' ' -f1; }
expected=$(dmd5 /dev/mapper/lv)		# the snapshot with the write
echo "$(cat /sys/block/ram1/dev) rbps=max" > /sys/fs/cgroup/m/io.max
wait_for 60 sh -c "dmsetup status lv | awk '{ split(\$4, a, \"/\"); exit !(a[1] == \$5) }'"
cmp -n 4096 /scratch/block <(dd if=/dev/mapper/lv bs=4k skip=128 count=1 iflag=direct status=none) ||
	fail "the write made during the merge is not what lv reads after it"
[ "$(dmd5 /dev/mapper/lv)" = "$expected" ] || fail "lv after the merge is not the snapshot with the write"
[ "$(dmd5 /dev/ram0)" = "$expected" ] ||
	fail "the origin after the merge is not the snapshot with the write"
dmsetup remove lv
cg_cleanup m
cgblk_unload_all
brd_cleanup
