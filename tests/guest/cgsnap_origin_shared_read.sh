#!/bin/bash
# Proves: one origin read serves every snapshot that needs the chunk
# (issue 15, item 2).  An origin writer in cgroup A writes fresh chunks
# through `cgsnap-origin` with two snapshots of one chunk size: A's
# io.stat shows one origin read per chunk (not one per snapshot) and a COW
# write per snapshot; in-tree `snapshot-origin` with two `snapshot`s,
# measured the same way in the same boot, reads each chunk twice (printed
# side by side).  With four snapshots of three chunk sizes (8, 32, 64 KiB)
# the snapshot with the largest chunk reads it once for all four, and
# every snapshot still reads exactly the origin as it was at its creation
# — for writes at chunk starts, mid-chunk, across chunk boundaries, into
# the partial last chunk, and with the snapshots' own writes to the same
# chunks racing the copies; the stores written from the shared reads open
# under the in-tree `snapshot` target with the same contents.
# timeout: 600
# tier: one 7.3 (the full tier runs it everywhere)
. "$CGBLK_TOP/tests/lib/guest-lib.sh"

brd_setup 32 5
osz=$(( 8 * 2048 + 3 ))		# 8 MiB + 3 sectors: a partial last chunk
dmsetup create base --table "0 $osz linear /dev/ram0 0"
fill_random /dev/mapper/base 8
cgblk_load dm-cgsnap
modprobe dm-snapshot
ram0=$(cat /sys/block/ram0/dev)
img() { dd if="$1" bs=512 count=$osz iflag=direct status=none | md5sum | cut -d' ' -f1; }
# same DEV FILE WHAT: DEV reads as FILE, else fail naming the first 8 KiB
# chunks that differ
same() {
	[ "$(img "$1")" = "$(md5sum < "$2" | cut -d' ' -f1)" ] && return 0
	dd if="$1" of=/scratch/got bs=512 count=$osz iflag=direct status=none
	fail "$3; 8 KiB chunks that differ: $(cmp -l /scratch/got "$2" | awk '{ c = int(($1 - 1) / 8192); if (c != l) printf "%d ", c; l = c }' | head -c 300)"
}
# the origin device's (dm counts I/O, brd does not everywhere)
sectors_read() { awk '{print $3}' "/sys/block/dm-$(dmsetup info -c --noheadings -o minor base | tr -d ' ')/stat"; }
wipe() { local d; for d in "$@"; do dd if=/dev/zero of="$d" bs=64k count=1 oflag=direct status=none; done; }
cg_setup A
# AW OFFSET LEN FILE...: A writes LEN random bytes at OFFSET of the origin
# target $ORIG, and the same into each image file.
AW() {
	local off=$1 len=$2 f; shift 2
	head -c "$len" /dev/urandom > /scratch/w
	cg_run A "dd if=/scratch/w of=$ORIG bs=$len count=1 seek=$off oflag=direct,seek_bytes status=none" ||
		fail "A's origin write $off+$len failed"
	for f in "$@"; do
		dd if=/scratch/w of="$f" bs="$len" count=1 seek="$off" oflag=seek_bytes \
			conv=notrunc status=none
	done
}

# 1. two snapshots, 8 KiB chunks: 32 fresh chunks, 4 KiB into each
ORIG=/dev/mapper/orig
dmsetup create orig --table "0 $osz cgsnap-origin /dev/mapper/base"
dm_snap s1 cgsnap /dev/mapper/base /dev/ram1 P 16
dm_snap s2 cgsnap /dev/mapper/base /dev/ram2 N 16
r_before=$(io_stat_bytes A "$ram0" rbytes); d_before=$(sectors_read)
for i in $(seq 0 31); do AW $(( (64 + i) * 8192 + 1024 )) 4096; done
r=$(( $(io_stat_bytes A "$ram0" rbytes) - r_before )); d=$(( $(sectors_read) - d_before ))
w1=$(io_stat_bytes A "$(cat /sys/block/ram1/dev)" wbytes)
w2=$(io_stat_bytes A "$(cat /sys/block/ram2/dev)" wbytes)
log "cgsnap-origin, 2 snapshots, 32 fresh 8 KiB chunks: A's origin reads $r B, device reads $(( d * 512 )) B; COW writes $w1 / $w2 B"
[ "$r" -ge $((32 * 8192)) ] || fail "A was charged $r B of origin reads, less than one read per chunk ($((32 * 8192)))"
[ "$r" -lt $((48 * 8192)) ] || fail "A was charged $r B of origin reads for 32 chunks: one read per snapshot, not one per chunk"
[ "$w1" -ge $((32 * 8192)) ] && [ "$w2" -ge $((32 * 8192)) ] ||
	fail "A was not charged a COW write per snapshot per chunk ($w1, $w2 B)"
cg_reads=$d
dmsetup remove s1; dmsetup remove s2; dmsetup remove orig

# ... and in-tree snapshot-origin with two snapshots, the same way
wipe /dev/ram1 /dev/ram2
dmsetup create torig --table "0 $osz snapshot-origin /dev/mapper/base"
dm_snap t1 snapshot /dev/mapper/base /dev/ram1 P 16
dm_snap t2 snapshot /dev/mapper/base /dev/ram2 N 16
ORIG=/dev/mapper/torig
r_before=$(io_stat_bytes A "$ram0" rbytes); d_before=$(sectors_read)
for i in $(seq 0 31); do AW $(( (128 + i) * 8192 + 1024 )) 4096; done
r=$(( $(io_stat_bytes A "$ram0" rbytes) - r_before )); d=$(( $(sectors_read) - d_before ))
log "snapshot-origin, 2 snapshots, 32 fresh 8 KiB chunks: A's origin reads $r B, device reads $(( d * 512 )) B"
log "origin reads per fresh chunk (device): cgsnap-origin $(awk -v a="$cg_reads" 'BEGIN { printf "%.2f", a / 16 / 32 }'), snapshot-origin $(awk -v a="$d" 'BEGIN { printf "%.2f", a / 16 / 32 }')"
[ "$d" -ge $((2 * 32 * 16)) ] || fail "snapshot-origin read $d sectors for 2 x 32 chunks: the measurement is off"
[ "$cg_reads" -lt $(( d * 3 / 4 )) ] || fail "cgsnap-origin read the origin $cg_reads sectors, snapshot-origin $d"
dmsetup remove t1; dmsetup remove t2; dmsetup remove torig

# 2. four snapshots of three chunk sizes, made at different times
wipe /dev/ram1 /dev/ram2 /dev/ram3 /dev/ram4
dmsetup create orig --table "0 $osz cgsnap-origin /dev/mapper/base"
ORIG=/dev/mapper/orig
dd if=/dev/mapper/base of=/scratch/i1 bs=512 count=$osz iflag=direct status=none
dm_snap s1 cgsnap /dev/mapper/base /dev/ram1 P 16
dm_snap s3 cgsnap /dev/mapper/base /dev/ram3 P 128
cp /scratch/i1 /scratch/o
AW $(( 2 * 1048576 )) 4096 /scratch/o			# s3 reads 64 KiB for both
dd if=/dev/mapper/base of=/scratch/i2 bs=512 count=$osz iflag=direct status=none
dm_snap s2 cgsnap /dev/mapper/base /dev/ram2 N 16
dm_snap s4 cgsnap /dev/mapper/base /dev/ram4 P 64
cp /scratch/i1 /scratch/i3; cp /scratch/i2 /scratch/i4
r_before=$(io_stat_bytes A "$ram0" rbytes)
for i in $(seq 0 15); do					# 16 fresh 64 KiB chunks
	AW $(( 3 * 1048576 + i * 65536 + (i % 8) * 8192 + 512 )) 1024 /scratch/o
done
r=$(( $(io_stat_bytes A "$ram0" rbytes) - r_before ))
log "4 snapshots (8, 8, 32, 64 KiB chunks), 16 fresh 64 KiB chunks: A's origin reads $r B (one per chunk: $((16 * 65536)); one per snapshot: $((16 * (65536 + 32768 + 2 * 8192))))"
[ "$r" -ge $((16 * 65536)) ] && [ "$r" -lt $((16 * (65536 + 16384))) ] ||
	fail "A was charged $r B of origin reads for 16 chunks read once each ($((16 * 65536)))"
AW $(( 4 * 1048576 + 6144 )) 20480 /scratch/o		# across 8 KiB chunks
AW $(( 5 * 1048576 - 512 )) 1024 /scratch/o		# across 64 KiB chunks
AW $(( osz * 512 - 1536 )) 1536 /scratch/o		# the partial last chunk
# the snapshots' own writes racing the copies of the same chunks
cp /scratch/i4 /scratch/s4; cp /scratch/i3 /scratch/s3
for i in $(seq 0 7); do
	off=$(( 6 * 1048576 + i * 65536 ))
	AW $(( off + 8192 )) 4096 /scratch/o &
	head -c 4096 /dev/urandom > /scratch/x4; head -c 4096 /dev/urandom > /scratch/x3
	dd if=/scratch/x4 of=/dev/mapper/s4 bs=4096 seek=$(( off + 8192 )) oflag=direct,seek_bytes status=none ||
		fail "a write to s4 failed"
	dd if=/scratch/x3 of=/dev/mapper/s3 bs=4096 seek=$(( off + 16384 )) oflag=direct,seek_bytes status=none ||
		fail "a write to s3 failed"
	wait $! || fail "an origin write failed"
	dd if=/scratch/x4 of=/scratch/s4 bs=4096 seek=$(( off + 8192 )) oflag=seek_bytes conv=notrunc status=none
	dd if=/scratch/x3 of=/scratch/s3 bs=4096 seek=$(( off + 16384 )) oflag=seek_bytes conv=notrunc status=none
done
same /dev/mapper/s1 /scratch/i1 "s1 does not read as the origin at its creation"
same /dev/mapper/s2 /scratch/i2 "s2 does not read as the origin at its creation"
same /dev/mapper/s3 /scratch/s3 "s3 does not read as the origin at its creation with its own writes"
same /dev/mapper/s4 /scratch/s4 "s4 does not read as the origin at its creation with its own writes"
same /dev/mapper/orig /scratch/o "the origin does not read as written"
for n in 1 2 3 4; do
	m=$(dmsetup info -c --noheadings -o minor "s$n" | tr -d ' ')
	log "s$n: $(dm_info "s$n"); shared_reads $(sed -n 's/^shared_reads //p' "/sys/kernel/debug/cgblk/dm_cgsnap/dm-$m@0" 2>/dev/null || echo ?)"
done

# the stores written from shared reads open under the in-tree target
dmsetup remove s1; dmsetup remove s4
dm_snap t1 snapshot /dev/mapper/base /dev/ram1 P 16
dm_snap t4 snapshot /dev/mapper/base /dev/ram4 P 64
same /dev/mapper/t1 /scratch/i1 "in-tree snapshot reads another s1"
same /dev/mapper/t4 /scratch/s4 "in-tree snapshot reads another s4"
log "the in-tree target reads s1's and s4's stores as they did"
dmsetup remove t1; dmsetup remove t4
dmsetup remove s2; dmsetup remove s3
dmsetup remove orig
dmsetup remove base
cg_cleanup A
cgblk_unload_all
rmmod dm_snapshot
brd_cleanup
