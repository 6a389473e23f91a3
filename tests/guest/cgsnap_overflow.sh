#!/bin/bash
# Proves: filling the COW device gives the same status as dm-snapshot:
# Invalid for P and N (all I/O fails, and a P store stays Invalid after
# remove/create), Overflow for PO (writes fail, reads still work).  And an
# exception is on disk before the write that needed it completes: after a
# simulated power cut (the COW device swapped for an error target with
# writes in flight), every write completed before a sync is there.
# tier: edges
# timeout: 600
. "$CGBLK_TOP/tests/lib/guest-lib.sh"

brd_setup 32 1
fill_random /dev/ram0 32
blockdev --setro /dev/ram0
origin_md5=$(md5 /dev/ram0)
is_loaded loop || modprobe loop
truncate -s 1M /scratch/cow.img

fill() {	# DEV: write until an error; the error is expected
	if dd if=/dev/urandom of="$1" bs=4k count=2048 oflag=direct status=none 2>/dev/null; then
		fail "$1: 8 MiB written to a 1 MiB COW device without an error"
	fi
}

for type in P N PO; do
	status=
	for target in snapshot cgsnap; do
		dd if=/dev/zero of=/scratch/cow.img bs=1M count=1 conv=notrunc status=none
		cow=$(losetup --find --show /scratch/cow.img)
		dm_snap o1 $target /dev/ram0 "$cow" $type 8
		fill /dev/mapper/o1
		st=$(dm_info o1)
		log "$type $target: after filling: $st"
		if [ $type = PO ]; then
			[ "$st" = Overflow ] || fail "$type $target: status '$st', not Overflow"
			dd if=/dev/mapper/o1 of=/dev/null bs=1M count=4 iflag=direct status=none ||
				fail "$type $target: reads fail after Overflow"
		else
			[ "$st" = Invalid ] || fail "$type $target: status '$st', not Invalid"
			expect_fail dd if=/dev/mapper/o1 of=/dev/null bs=4k count=1 iflag=direct status=none 2>/dev/null
		fi
		expect_fail dd if=/dev/zero of=/dev/mapper/o1 bs=4k count=1 seek=7000 oflag=direct status=none 2>/dev/null
		dmsetup remove o1
		if [ $type = P ]; then
			# the invalid mark is on disk, for either target
			dm_snap o1 $target /dev/ram0 "$cow" P 8
			[ "$(dm_info o1)" = Invalid ] || fail "P $target: valid again after remove/create: $(dm_info o1)"
			dmsetup remove o1
			other=cgsnap; [ $target = cgsnap ] && other=snapshot
			dm_snap o1 $other /dev/ram0 "$cow" P 8
			[ "$(dm_info o1)" = Invalid ] || fail "P: $other finds $target's invalid store valid: $(dm_info o1)"
			dmsetup remove o1
		fi
		losetup -d "$cow"
		[ -z "$status" ] || [ "$status" = "$st" ] || fail "$type: snapshot says $status, cgsnap $st"
		status=$st
	done
done

# Power cut: the COW device is a dm-linear that is swapped for "error".
dd if=/dev/zero of=/scratch/cow.img bs=1M count=1 conv=notrunc status=none
truncate -s 24M /scratch/cow.img
cow=$(losetup --find --show /scratch/cow.img)
dmsetup create cowlin --table "0 $(blockdev --getsz "$cow") linear $cow 0"
dm_snap p1 cgsnap /dev/ram0 /dev/mapper/cowlin P 8
dd if=/dev/urandom of=/scratch/synced bs=1M count=8 status=none
dd if=/scratch/synced of=/dev/mapper/p1 bs=4k seek=1000 status=none conv=fsync
# then more writes, unsynced, cut in the middle
dd if=/dev/urandom of=/dev/mapper/p1 bs=4k count=4096 seek=4000 oflag=direct status=none 2>/dev/null &
ddpid=$!
sleep 1
dmsetup load cowlin --table "0 $(blockdev --getsz "$cow") error"
dmsetup suspend --noflush --nolockfs cowlin
dmsetup resume cowlin
wait $ddpid || true
dmsetup remove p1 || fail "cannot remove the snapshot after the power cut"
dmsetup remove cowlin
losetup -d "$cow"
cow=$(losetup --find --show /scratch/cow.img)
dm_snap p1 cgsnap /dev/ram0 "$cow" P 8
log "after the power cut: $(dm_info p1)"
cmp -n $((8 << 20)) /scratch/synced <(dd if=/dev/mapper/p1 bs=4k skip=1000 count=2048 status=none) ||
	fail "synced writes lost in the power cut"
cmp -n $((1000 * 4096)) /dev/ram0 /dev/mapper/p1 || fail "unwritten chunks differ from the origin"
dmsetup remove p1
losetup -d "$cow"
[ "$(md5 /dev/ram0)" = "$origin_md5" ] || fail "the origin changed"
blockdev --setrw /dev/ram0
cgblk_unload_all
rmmod dm_snapshot
brd_cleanup
