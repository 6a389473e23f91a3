#!/bin/bash
# Proves: cgsnap and cgsnap-origin over a 4Kn disk (scsi_debug
# sector_size=4096: origin and COW devices with 4096-byte logical blocks)
# keep each snapshot at the origin as it was at its creation while the
# origin is written (4 KiB-aligned writes across chunk boundaries, a 1 MiB
# write, the partial last chunk of an origin one block longer than a
# multiple of the chunk size), with P 8 (one block per chunk) and N 0
# (the default chunk, 16 KiB) snapshots; a chunk smaller than a block is
# refused with a kernel line; a reload of the P snapshot while the origin
# is written hands over (same contents after it); the store opens under
# the in-tree `snapshot` with the same contents.  The 512-byte-sector
# configurations of the other tests never meet a device that refuses
# 512-byte I/O, which a copy, a metadata write or a split of the origin
# would then issue.
# timeout: 600
# tier: one 7.3 (the full tier runs it everywhere)
. "$CGBLK_TOP/tests/lib/guest-lib.sh"

sdbg_setup 4096 80
osz=$(( 32 * 2048 + 8 ))	# 32 MiB + one 4 KiB block: a partial last chunk
dmsetup create base --table "0 $osz linear $SDBG 0"
dmsetup create cow1 --table "0 32768 linear $SDBG 67584"
dmsetup create cow2 --table "0 32768 linear $SDBG 100352"
for d in base cow1 cow2; do
	[ "$(blockdev --getss /dev/mapper/$d)" = 4096 ] || fail "$d has $(blockdev --getss /dev/mapper/$d)-byte blocks"
done
dd if=/dev/urandom of=/dev/mapper/base bs=1M count=32 oflag=direct status=none
dd if=/dev/urandom of=/dev/mapper/base bs=4096 count=1 seek=8192 oflag=direct status=none
dd if=/dev/zero of=/dev/mapper/cow1 bs=1M count=1 oflag=direct status=none
dd if=/dev/zero of=/dev/mapper/cow2 bs=1M count=1 oflag=direct status=none
cgblk_load dm-cgsnap
modprobe dm-snapshot
img() { dd if="$1" bs=1M iflag=direct status=none | md5sum | cut -d' ' -f1; }
dd if=/dev/mapper/base of=/scratch/o0.img bs=1M iflag=direct status=none
[ "$(stat -c %s /scratch/o0.img)" = $((osz * 512)) ] || fail "the origin image is $(stat -c %s /scratch/o0.img) bytes"
sum0=$(md5sum < /scratch/o0.img | cut -d' ' -f1)

expect_refused 'cgsnap: .*multiple of device blocksize' \
	dmsetup create bad --table "0 $osz cgsnap /dev/mapper/base /dev/mapper/cow1 P 4"
dmsetup remove bad 2>/dev/null || true

dmsetup create orig --table "0 $osz cgsnap-origin /dev/mapper/base"
[ "$(blockdev --getss /dev/mapper/orig)" = 4096 ] || fail "cgsnap-origin advertises $(blockdev --getss /dev/mapper/orig)-byte blocks"
p1="0 $osz cgsnap /dev/mapper/base /dev/mapper/cow1 P 8"
dmsetup create s1 --table "$p1"
dmsetup create s2 --table "0 $osz cgsnap /dev/mapper/base /dev/mapper/cow2 N 0"
[ "$(dmsetup table s2 | awk '{print $7}')" = 32 ] || fail "N 0 on 4Kn: chunk $(dmsetup table s2 | awk '{print $7}'), not the default 32"
for d in s1 s2; do
	[ "$(blockdev --getss /dev/mapper/$d)" = 4096 ] || fail "$d advertises $(blockdev --getss /dev/mapper/$d)-byte blocks"
done
[ "$(img /dev/mapper/s1)" = "$sum0" ] || fail "a new snapshot is not its origin"

# W OFFSET LENGTH (bytes, multiples of 4096): random data through the origin
# target, and into the expected image
cp /scratch/o0.img /scratch/o1.img
W() {
	head -c "$2" /dev/urandom > /scratch/w
	dd if=/scratch/w of=/dev/mapper/orig bs="$2" count=1 seek="$1" \
		oflag=direct,seek_bytes status=none || fail "origin write $1+$2 failed"
	dd if=/scratch/w of=/scratch/o1.img bs="$2" count=1 seek="$1" oflag=seek_bytes \
		conv=notrunc status=none
}
W 0 4096
W $((16384 - 4096)) 8192			# across a 16 KiB chunk boundary
W $((3 * 1048576 + 4096)) 1048576		# 1 MiB, not chunk-aligned
W $(( (osz - 8) * 512 )) 4096			# the partial last chunk
W $((9 * 1048576 + 8192)) 65536
sum1=$(md5sum < /scratch/o1.img | cut -d' ' -f1)
[ "$(img /dev/mapper/orig)" = "$sum1" ] || fail "the origin does not read as written"
[ "$(img /dev/mapper/s1)" = "$sum0" ] || fail "s1 (P 8) changed with writes to its origin"
[ "$(img /dev/mapper/s2)" = "$sum0" ] || fail "s2 (N 16 KiB) changed with writes to its origin"
log "after 5 origin writes: s1 $(dm_info s1), s2 $(dm_info s2)"

# a reload of s1 while the origin is written
fio --name=o --filename=/dev/mapper/orig --size=32M --bs=4k --rw=randwrite \
	--direct=1 --ioengine=libaio --iodepth=4 --rate=256k --time_based \
	--runtime=12 --output="$CGBLK_OUT/fio-origin.txt" &
fiopid=$!
sleep 4
mark=$(dmesg_mark)
dmsetup reload s1 --table "$p1" || fail "reload of s1 refused: $(dmesg_since "$mark" | tr '\n' '|')"
dmsetup resume s1
dmesg_since "$mark" | grep -q 'cgsnap: .*took over' || fail "the reload did not hand over"
wait $fiopid || fail "the origin writes failed"
[ "$(img /dev/mapper/s1)" = "$sum0" ] || fail "s1 changed across its reload under origin writes"
[ "$(img /dev/mapper/s2)" = "$sum0" ] || fail "s2 changed while s1 was reloaded"
log "after the reload under origin writes: s1 $(dm_info s1), s2 $(dm_info s2)"

# the in-tree target reads the same snapshot from s1's store
dmsetup remove s1
dmsetup create ref --table "0 $osz snapshot /dev/mapper/base /dev/mapper/cow1 P 8"
[ "$(img /dev/mapper/ref)" = "$sum0" ] || fail "the in-tree snapshot reads s1's store differently"
dmsetup remove ref s2 orig base cow1 cow2
cgblk_unload_all
sdbg_cleanup
