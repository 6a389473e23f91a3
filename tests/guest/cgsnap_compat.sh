#!/bin/bash
# Proves: cgsnap is a drop-in for dm-snapshot over a read-only origin.
# fio verify through the snapshot leaves the origin unchanged; status and
# table lines have snapshot's format; a P and a PO store survive dmsetup
# remove/create; a COW store written by cgsnap opens under snapshot with
# identical contents and the other way round (whole-device checksums); N
# works too.  Writes of whole chunks and of parts of chunks are both made.
# tier: one 5.10 (long: the full tier runs it everywhere)
# timeout: 600
. "$CGBLK_TOP/tests/lib/guest-lib.sh"

brd_setup 64 3
fill_random /dev/ram0 64
blockdev --setro /dev/ram0
origin_md5=$(md5 /dev/ram0)

for type in P PO; do
	dd if=/dev/zero of=/dev/ram1 bs=1M count=1 oflag=direct status=none
	dm_snap s1 cgsnap /dev/ram0 /dev/ram1 $type 16
	[ "$(md5 /dev/mapper/s1)" = "$origin_md5" ] || fail "$type: a fresh snapshot differs from its origin"
	dmsetup table s1 | grep -Eq "^0 [0-9]+ cgsnap [0-9]+:[0-9]+ [0-9]+:[0-9]+ $type 16$" ||
		fail "$type: table line: $(dmsetup table s1)"
	fio_verify /dev/mapper/s1 8M
	# whole chunks (8 KiB) and a write across a chunk boundary
	dd if=/dev/urandom of=/dev/mapper/s1 bs=64k count=16 seek=500 oflag=direct status=none
	dd if=/dev/urandom of=/dev/mapper/s1 bs=1k count=3 seek=40959 oflag=direct status=none
	info=$(dm_info s1)
	echo "$info" | grep -Eq '^[0-9]+/[0-9]+ [0-9]+$' || fail "$type: INFO status: $info"
	log "$type: status after writes: $info"
	[ "$(md5 /dev/ram0)" = "$origin_md5" ] || fail "$type: the origin changed"
	snap_md5=$(md5 /dev/mapper/s1)
	[ "$snap_md5" != "$origin_md5" ] || fail "$type: the writes did not reach the snapshot"

	dmsetup remove s1
	dm_snap s1 cgsnap /dev/ram0 /dev/ram1 $type 16
	[ "$(md5 /dev/mapper/s1)" = "$snap_md5" ] || fail "$type: contents changed across remove/create"
	[ "$(dm_info s1)" = "$info" ] || fail "$type: status changed across remove/create: $(dm_info s1)"
	dmsetup remove s1

	# cgsnap's store under the in-tree target
	dm_snap s2 snapshot /dev/ram0 /dev/ram1 $type 16
	[ "$(md5 /dev/mapper/s2)" = "$snap_md5" ] || fail "$type: snapshot reads cgsnap's store differently"
	[ "$(dm_info s2)" = "$info" ] || fail "$type: snapshot's status $(dm_info s2) != cgsnap's $info"
	# ...which writes more to it, and cgsnap reads that back
	dd if=/dev/urandom of=/dev/mapper/s2 bs=4k count=256 seek=3000 oflag=direct status=none
	dd if=/dev/urandom of=/dev/mapper/s2 bs=512 count=5 seek=77 oflag=direct status=none
	snap_md5=$(md5 /dev/mapper/s2)
	info=$(dm_info s2)
	dmsetup remove s2
	dm_snap s1 cgsnap /dev/ram0 /dev/ram1 $type 0
	[ "$(md5 /dev/mapper/s1)" = "$snap_md5" ] || fail "$type: cgsnap reads snapshot's store differently"
	[ "$(dm_info s1)" = "$info" ] || fail "$type: cgsnap's status $(dm_info s1) != snapshot's $info"
	dmsetup table s1 | grep -q " $type 16$" || fail "$type: stored chunk size not taken: $(dmsetup table s1)"
	fio_verify /dev/mapper/s1 8M --offset=32M
	dmsetup remove s1
	log "$type: interop both ways ok ($info)"
done

# a fresh store made by the in-tree target, used by cgsnap first
dd if=/dev/zero of=/dev/ram2 bs=1M count=1 oflag=direct status=none
dm_snap s2 snapshot /dev/ram0 /dev/ram2 P 8
dd if=/dev/urandom of=/dev/mapper/s2 bs=4k count=100 seek=10 oflag=direct status=none
sum=$(md5 /dev/mapper/s2)
dmsetup remove s2
dm_snap s1 cgsnap /dev/ram0 /dev/ram2 P 8
[ "$(md5 /dev/mapper/s1)" = "$sum" ] || fail "cgsnap reads a snapshot-made store differently"
dmsetup remove s1

# transient
dm_snap s3 cgsnap /dev/ram0 /dev/ram2 N 32
fio_verify /dev/mapper/s3 8M
dmsetup table s3 | grep -q " N 32$" || fail "N: table line $(dmsetup table s3)"
log "N: status $(dm_info s3)"
cat /sys/kernel/debug/cgblk/dm_cgsnap/dm-*@0 > "$CGBLK_OUT/cgsnap-stats.txt"
grep -Eq '^copies [1-9]' "$CGBLK_OUT/cgsnap-stats.txt" || fail "no copies counted in debugfs"
dmsetup remove s3
[ "$(md5 /dev/ram0)" = "$origin_md5" ] || fail "the origin changed"
blockdev --setrw /dev/ram0
cgblk_unload_all
rmmod dm_snapshot
brd_cleanup
