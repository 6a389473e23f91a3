#!/bin/bash
# Proves: `cgsnap-origin` over an origin keeps every cgsnap snapshot of it
# at the origin as it was when the snapshot was made, while the origin is
# written (issue 15, item 2): writes of 512 bytes to 1 MiB, unaligned,
# across chunk boundaries and at the device's end; two snapshots with
# different chunk sizes and store types (P 8 KiB, N 64 KiB) made at
# different times; a snapshot's own writes reach neither the origin nor
# the other snapshot; the origin writer's cgroup is charged for the
# copies (its io.stat: reads of the origin and writes of both COW
# devices, at least a chunk per snapshot per fresh chunk); the store
# written that way opens under the in-tree `snapshot` target with the same
# contents; table and status as `snapshot-origin`'s; bad tables are
# refused with a kernel line.
# timeout: 600
# tier: edges
. "$CGBLK_TOP/tests/lib/guest-lib.sh"

brd_setup 64 3
osz=$(( 12 * 2048 + 5 ))	# 12 MiB + 5 sectors: not a multiple of a chunk
dmsetup create base --table "0 $osz linear /dev/ram0 0"
fill_random /dev/mapper/base 12
cgblk_load dm-cgsnap
modprobe dm-snapshot
img() { dd if="$1" bs=512 count=$osz iflag=direct status=none | md5sum | cut -d' ' -f1; }
dd if=/dev/mapper/base of=/scratch/o0.img bs=512 count=$osz status=none
dmsetup create orig --table "0 $osz cgsnap-origin /dev/mapper/base"
base_dev=$(dmsetup info -c --noheadings -o major,minor --separator : base | tr -d ' ')
[ "$(dmsetup table orig)" = "0 $osz cgsnap-origin $base_dev" ] || fail "table: $(dmsetup table orig)"
[ "$(dmsetup status orig)" = "0 $osz cgsnap-origin " ] || [ "$(dmsetup status orig)" = "0 $osz cgsnap-origin" ] ||
	fail "status: '$(dmsetup status orig)'"

# W OFFSET-BYTES LENGTH-BYTES FILE...: the same random data through the
# origin target and into each image file
W() {
	local off=$1 len=$2 f; shift 2
	head -c "$len" /dev/urandom > /scratch/w
	dd if=/scratch/w of=/dev/mapper/orig bs="$len" count=1 seek="$off" \
		oflag=direct,seek_bytes status=none || fail "origin write $off+$len failed"
	for f in "$@"; do
		dd if=/scratch/w of="$f" bs="$len" count=1 seek="$off" oflag=seek_bytes \
			conv=notrunc status=none
	done
}

dm_snap s1 cgsnap /dev/mapper/base /dev/ram1 P 16
[ "$(img /dev/mapper/s1)" = "$(md5sum < /scratch/o0.img | cut -d' ' -f1)" ] || fail "a new snapshot is not its origin"
cp /scratch/o0.img /scratch/o1.img
W 0 512 /scratch/o1.img
W $((8192 - 512)) 4096 /scratch/o1.img			# across a chunk boundary
W $((3 * 1048576 + 512)) 1048576 /scratch/o1.img	# 1 MiB, unaligned
W $(( (osz - 9) * 512 )) 4608 /scratch/o1.img		# the partial last chunk
W $((9 * 1048576)) 65536 /scratch/o1.img
sum0=$(md5sum < /scratch/o0.img | cut -d' ' -f1)
sum1=$(md5sum < /scratch/o1.img | cut -d' ' -f1)
[ "$(img /dev/mapper/orig)" = "$sum1" ] || fail "the origin does not read as written"
[ "$(img /dev/mapper/base)" = "$sum1" ] || fail "the origin device does not hold the writes"
[ "$(img /dev/mapper/s1)" = "$sum0" ] || fail "s1 changed with writes to its origin"
log "s1 kept the origin through 5 writes: $(dm_info s1)"

# a second snapshot, other chunk size and store, made now
dm_snap s2 cgsnap /dev/mapper/base /dev/ram2 N 128
[ "$(img /dev/mapper/s2)" = "$sum1" ] || fail "a new snapshot s2 is not its origin"
cp /scratch/o1.img /scratch/o2.img
W 4096 8192 /scratch/o2.img			# chunks s1 already copied, and new
W $((3 * 1048576)) 131072 /scratch/o2.img
W $((7 * 1048576 + 1536)) 200704 /scratch/o2.img
sum2=$(md5sum < /scratch/o2.img | cut -d' ' -f1)
[ "$(img /dev/mapper/orig)" = "$sum2" ] || fail "the origin does not read as written (2)"
[ "$(img /dev/mapper/s1)" = "$sum0" ] || fail "s1 changed with the second writes"
[ "$(img /dev/mapper/s2)" = "$sum1" ] || fail "s2 changed with writes made after it"

# a snapshot's own write reaches neither the origin nor the other snapshot
dd if=/dev/urandom of=/dev/mapper/s2 bs=4096 count=4 seek=100 oflag=direct status=none
[ "$(img /dev/mapper/orig)" = "$sum2" ] || fail "a write to s2 changed the origin"
[ "$(img /dev/mapper/s1)" = "$sum0" ] || fail "a write to s2 changed s1"

# charging: a writer in cgroup A, 16 fresh 64 KiB chunks
cg_setup A
ram0=$(cat /sys/block/ram0/dev); ram1=$(cat /sys/block/ram1/dev); ram2=$(cat /sys/block/ram2/dev)
cg_run A "dd if=/dev/urandom of=/dev/mapper/orig bs=4096 count=16 seek=$((5 * 256)) oflag=direct status=none" ||
	fail "A's writes failed"
# 4 KiB every 4 KiB from 5 MiB: 8 chunks of s1 (8 KiB) and 1 of s2 (64 KiB);
# the first write's read of s2's chunk serves s1's first chunk too
# (cgsnap_origin_shared_read proves the count)
r0=$(io_stat_bytes A "$ram0" rbytes); w1=$(io_stat_bytes A "$ram1" wbytes); w2=$(io_stat_bytes A "$ram2" wbytes)
log "A's io.stat: origin read $r0, s1 COW written $w1, s2 COW written $w2"
[ "$r0" -ge $((7 * 8192 + 65536)) ] || fail "A was charged $r0 bytes of origin reads, not the copies' $((7 * 8192 + 65536))"
[ "$w1" -ge $((8 * 8192)) ] || fail "A was charged $w1 bytes of s1's COW writes"
[ "$w2" -ge 65536 ] || fail "A was charged $w2 bytes of s2's COW writes"
[ "$(img /dev/mapper/s1)" = "$sum0" ] || fail "s1 changed with A's writes"

# the store written through cgsnap-origin opens under the in-tree target
dmsetup remove s1
dm_snap t1 snapshot /dev/mapper/base /dev/ram1 P 16
[ "$(img /dev/mapper/t1)" = "$sum0" ] || fail "the in-tree snapshot target reads another snapshot from s1's store"
log "the in-tree target reads s1's store as s1 did"
dmsetup remove t1

# bad tables
expect_refused 'table: [0-9:]+: cgsnap-origin: incorrect number of arguments' dmsetup create bad --table "0 8 cgsnap-origin"
expect_refused 'table: [0-9:]+: cgsnap-origin: incorrect number of arguments' dmsetup create bad --table "0 8 cgsnap-origin /dev/ram0 x"
expect_refused 'cgsnap-origin: Cannot get target device' dmsetup create bad --table "0 8 cgsnap-origin /dev/nonexistent"
expect_refused 'cgsnap: Origin is a cgsnap-origin device' \
	dmsetup create bad --table "0 $osz cgsnap /dev/mapper/orig /dev/ram1 N 16"
dmsetup remove s2
dmsetup remove orig
dmsetup remove base
cg_cleanup A
cgblk_unload_all
rmmod dm_snapshot
brd_cleanup
