#!/bin/bash
# Proves: a merge throttled by its resumer's io.max neither holds up nor
# loses the writes of other cgroups to the chunks of its step (review
# helper-20 H1, helper-21 M2).  The COW device is a dm-delay over a ramdisk;
# the merge runs from cgroup m with an io.max read limit on it; its first
# step is one area (256 chunks of 4 KiB, 1 MiB).
#  1. Reads at 16 KiB/s (the step's read: 64 s): a 4 KiB direct write from
#     the root cgroup to a chunk of the step ends within 8 s, on the COW
#     device (dirtied_chunks); it waited for the whole step before.
#  2. Reads at 64 KiB/s (16 s), COW writes 20 s: the write, sent 1 s into
#     the step, reaches the COW device after the step has read and written
#     back its chunk; the step must leave that chunk to a later one, else
#     the origin keeps the old data once the step commits.
# After each merge the device and the origin read as the snapshot with the
# write.
# timeout: 600
# tier: one 6.12 (long: the full tier runs it everywhere)
. "$CGBLK_TOP/tests/lib/guest-lib.sh"

brd_setup 16 2
cgblk_load dm-cgsnap
modprobe dm-delay
sectors=16384
cow_table() { echo "0 32768 delay /dev/ram1 0 0 /dev/ram1 0 $1"; }
dmsetup create cow --table "$(cow_table 0)"
cowdev=$(dmsetup info -c --noheadings -o major,minor --separator : cow | tr -d ' ')
fill_random /dev/ram0 8
dmsetup create lv --table "0 $sectors cgsnap-origin /dev/ram0"
cg_setup m
mstat() {	# FIELD: from lv's debugfs file
	awk -v f="$1" '$1 == f { print $2 }' "/sys/kernel/debug/cgblk/dm_cgsnap/dm-$(dmsetup info -c --noheadings -o minor lv | tr -d ' ')@0"
}
dmd5() { dd if="$1" bs=1M count=8 iflag=direct status=none | md5sum | cut -d' ' -f1; }
stepped() { [ "$(mstat merge_steps)" -ge 1 ]; }	# a step has begun
merged() { dmsetup status lv | awk '{ split($4, a, "/"); exit !(a[1] == $5) }'; }

# run RBPS WRITE_MS: a merge of a fresh snapshot (1 MiB written), a write
# to chunk 128 of its first step 1 s in; sets took (ms)
run() {
	dd if=/dev/zero of=/dev/mapper/cow bs=1M count=2 oflag=direct status=none
	dmsetup suspend lv
	dmsetup create snap --table "0 $sectors cgsnap /dev/ram0 /dev/mapper/cow P 8"
	dmsetup resume lv
	dd if=/dev/urandom of=/dev/mapper/snap bs=1M count=1 oflag=direct status=none
	dmsetup suspend lv
	dmsetup remove snap
	dmsetup reload lv --table "0 $sectors cgsnap-merge /dev/ram0 /dev/mapper/cow P 8"
	dmsetup reload cow --table "$(cow_table "$2")"
	dmsetup resume cow
	echo "$cowdev rbps=$1" > /sys/fs/cgroup/m/io.max
	cg_run m dmsetup resume lv
	# its first I/O, the metadata area read, is throttled too
	wait_for 60 stepped
	sleep 1				# its reads are in flight, throttled
	dd if=/dev/urandom of=/scratch/block bs=4k count=1 status=none
	[ "$(mstat merged_chunks)" = 0 ] || fail "rbps $1: the first step was done before the write: nothing tested"
	local t0
	t0=$(date +%s%N)
	dd if=/scratch/block of=/dev/mapper/lv bs=4k seek=128 count=1 oflag=direct status=none
	took=$(( ($(date +%s%N) - t0) / 1000000 ))
	log "rbps $1, COW writes $2 ms: the write took $took ms; merged $(mstat merged_chunks), dirtied $(mstat dirtied_chunks), queued $(mstat queued_writes)"
	[ "$(mstat dirtied_chunks)" -ge 1 ] || fail "the write did not leave its chunk to a later step"
}
# done: after the merge, lv and the origin read as the snapshot with the write
done_ok() {
	local expected
	expected=$(dmd5 /dev/mapper/lv)
	echo "$cowdev rbps=max" > /sys/fs/cgroup/m/io.max
	dmsetup reload cow --table "$(cow_table 0)"
	dmsetup resume cow
	wait_for 240 merged
	cmp -n 4096 /scratch/block <(dd if=/dev/mapper/lv bs=4k skip=128 count=1 iflag=direct status=none) ||
		fail "$1: the write made during the merge is not what lv reads after it"
	[ "$(dmd5 /dev/mapper/lv)" = "$expected" ] || fail "$1: lv after the merge is not the snapshot with the write"
	[ "$(dmd5 /dev/ram0)" = "$expected" ] || fail "$1: the origin after the merge is not the snapshot with the write"
	dmsetup reload lv --table "0 $sectors cgsnap-origin /dev/ram0"
	dmsetup resume lv
}

run 16384 0
[ $took -lt 8000 ] || fail "the write waited $took ms for the merge's throttled step"
done_ok "not held"

run 65536 20000
[ $took -ge 18000 ] || fail "the write took $took ms: not the 20 s of the COW device, nothing tested"
done_ok "not lost"

dmsetup remove lv
dmsetup remove cow
cg_cleanup m
cgblk_unload_all
brd_cleanup
