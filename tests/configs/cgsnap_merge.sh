#!/bin/bash
# Proves: cgsnap-merge rolls an origin back to its snapshot (issue 15,
# item 4), on an origin whose size is not a multiple of the chunk size:
#  1. The LVM flow (suspend the origin, remove the snapshot, load
#     cgsnap-merge into the origin's device, resume) from a cgroup with an
#     io.max read limit on the COW device: the device reads as the snapshot
#     did before, during (a whole read while the merge runs) and after the
#     merge; the origin under it too; the status falls to the metadata; the
#     cgroup's io.stat shows the merge's COW reads and origin writes, and
#     the limit held it back (it took at least half the time the limit
#     allows); the kernel says "merge complete".
#  2. Writes during a merge (32 writers, into a run of 8 MiB merged in
#     1 MiB steps held back by io.max; COW writes 500 ms; one writer on
#     the region's last block without a break): some come while a
#     step reads or writes back their chunk and leave it to a later step,
#     a step holds the hot block alone and waits for its write in flight,
#     some writes wait for a step (debugfs counters);
#     each block reads its last write during and after
#     the merge; a reload with cgsnap-origin mid-merge is refused; a
#     suspend mid-merge abandons a step; a failing COW device makes it
#     "Merge failed" with a kernel line, a resume retries it; the other
#     half reads as the snapshot did; the origin device goes back to
#     cgsnap-origin and takes a new snapshot.
#  3. A merge removed part-way (the device removed mid-merge) is finished
#     by the in-tree snapshot-merge, and one the in-tree snapshot-merge left
#     part-way is finished by cgsnap-merge: the same origin both ways.
#  4. Bad tables, refused with a kernel line: a read-only table, a
#     transient store, a blank COW
#     device, a store with no exceptions, an invalid store, a COW device a
#     live snapshot holds, an origin with another cgsnap snapshot or
#     written through a cgsnap-origin of another device, a second
#     merge of one COW device, a snapshot of an origin being merged, a
#     snapshot naming the merge device, the wrong argument count, an origin
#     with no device.
#  5. 4Kn (scsi_debug, 4096-byte blocks): origin and COW device on it,
#     chunk 8 sectors, and chunk 16 with a partial last chunk of one block.
# timeout: 900
# tier: one 6.12 (long: the full tier runs it everywhere)
. "$CGBLK_TOP/tests/lib/guest-lib.sh"

brd_setup 64 4
cgblk_load dm-cgsnap
modprobe dm-snapshot
modprobe dm-delay
sectors=$((65536 - 6))		# 32 MiB less 3 KiB: the last chunk is partial
sz4k=$((sectors / 8 * 4096))
fill_random /dev/ram0 32
for d in 1 2 3; do dd if=/dev/zero of=/dev/ram$d bs=1M count=8 oflag=direct status=none; done
dmsetup create real --table "0 $sectors linear /dev/ram0 0"
# the COW device, behind dm-delay: reload_cow READ_MS [WRITE_MS] slows it
cow_table() { echo "0 131072 delay /dev/ram1 0 ${1:-0} /dev/ram1 0 ${2:-0}"; }
dmsetup create cow --table "$(cow_table)"
reload_cow() { dmsetup reload cow --table "$(cow_table "$@")" && dmsetup resume cow; }
dmsetup create lv --table "0 $sectors cgsnap-origin /dev/mapper/real"
devno() { dmsetup info -c --noheadings -o major,minor --separator : "$1" | tr -d ' '; }
mstat() {	# FIELD: from lv's debugfs file
	awk -v f="$1" '$1 == f { print $2 }' "/sys/kernel/debug/cgblk/dm_cgsnap/dm-$(dmsetup info -c --noheadings -o minor lv | tr -d ' ')@0"
}
merge_table() { echo "0 $sectors ${2:-cgsnap-merge} /dev/mapper/real ${1:-/dev/mapper/cow} P 8"; }
origin_table() { echo "0 $sectors cgsnap-origin /dev/mapper/real"; }

alloc() { dm_info "$1" | awk '{ split($1, a, "/"); print a[1] }'; }
meta() { dm_info "$1" | awk '{ print $2 }'; }
merged() { [ "$(alloc "$1")" = "$(meta "$1")" ]; }
status_ok() {
	case $(dm_info "$1") in
	Invalid*|Merge*|Overflow*|Unknown*) fail "$1: $(dm_info "$1")" ;;
	esac
}
wait_merged() {	# NAME SECONDS
	local i=0
	until merged "$1"; do
		status_ok "$1"
		i=$((i + 1))
		[ $i -lt $(($2 * 5)) ] || fail "$1: merge not done after $2 s: $(dm_info "$1")"
		sleep 0.2
	done
}

# snapshot NAME COW: a cgsnap of real, written through the snapshot and
# through the origin (fresh chunks of both, the partial last chunk too)
snapshot() {
	dmsetup create "$1" --table "0 $sectors cgsnap /dev/mapper/real $2 P 8"
	fio --name=s --filename="/dev/mapper/$1" --rw=randwrite --bs=4k --size=$sz4k \
		--number_ios=1200 --direct=1 --ioengine=psync --randrepeat=0 \
		--output="$CGBLK_OUT/fio-$1.txt" || fail "fio through $1"
	fio --name=o --filename=/dev/mapper/lv --rw=randwrite --bs=4k --size=$sz4k \
		--number_ios=600 --direct=1 --ioengine=psync --randrepeat=0 \
		--output="$CGBLK_OUT/fio-origin-$1.txt" || fail "fio through the origin"
	dd if=/dev/urandom of="/dev/mapper/$1" bs=512 seek=$((sectors - 2)) count=2 \
		oflag=direct status=none
	dd if=/dev/urandom of=/dev/mapper/lv bs=512 seek=$((sectors - 5)) count=1 \
		oflag=direct status=none
	status_ok "$1"
}

# to_merge SNAP COW [CGROUP]: the LVM switch to a merge of SNAP into lv
to_merge() {
	dmsetup suspend lv
	dmsetup remove "$1"
	dmsetup reload lv --table "$(merge_table "$2")"
	if [ -n "${3:-}" ]; then cg_run "$3" dmsetup resume lv; else dmsetup resume lv; fi
}
to_origin() {
	dmsetup reload lv --table "$(origin_table)"
	dmsetup resume lv
}

# --- 1: the LVM flow, charged and limited -----------------------------------
snapshot snap /dev/mapper/cow
expected=$(md5 /dev/mapper/snap)
[ "$expected" != "$(md5 /dev/mapper/lv)" ] || fail "the snapshot reads as the origin: nothing to merge"
cg_setup m
cowdev=$(devno cow); realdev=$(devno real)
# held at 4 KiB/s while the whole device is read (a loaded debug kernel's
# read outlasted a merge at 512 KiB/s), then 512 KiB/s
echo "$cowdev rbps=4096" > /sys/fs/cgroup/m/io.max
alloc0=$(alloc snap)
mark=$(dmesg_mark)
to_merge snap /dev/mapper/cow m
log "merging: $(dm_info lv) (allocated $alloc0 sectors before)"
[ "$(md5 /dev/mapper/lv)" = "$expected" ] || fail "lv during the merge does not read as the snapshot did"
merged lv && fail "merge done before the check during it ran: io.max did not hold it back"
start=$(date +%s)
echo "$cowdev rbps=524288" > /sys/fs/cgroup/m/io.max
mid=$(alloc lv)
wait_merged lv 300
took=$(( $(date +%s) - start ))
log "merged: $(dm_info lv) in ${took}s (${mid} sectors allocated mid-way)"
[ "$(md5 /dev/mapper/lv)" = "$expected" ] || fail "lv after the merge does not read as the snapshot did"
[ "$(md5 /dev/mapper/real)" = "$expected" ] || fail "the origin after the merge is not the snapshot"
dmesg_since "$mark" | grep -q "cgsnap: $(devno lv): merge complete" || fail "no 'merge complete' in the kernel log"
rd=$(io_stat_bytes m "$cowdev" rbytes)
wr=$(io_stat_bytes m "$realdev" wbytes)
data=$(( (alloc0 - $(meta lv)) * 512 ))	# data chunks plus the metadata areas read
log "cgroup m: $rd bytes read from the COW, $wr written to the origin; $data of exceptions"
[ "$rd" -ge $((data * 9 / 10)) ] || fail "the merge's COW reads are not charged to the resumer's cgroup ($rd < $data)"
[ "$wr" -ge $((data * 9 / 10)) ] || fail "the merge's origin writes are not charged to the resumer's cgroup ($wr < $data)"
[ "$took" -ge $((rd / 524288 / 2)) ] || fail "io.max (512 KiB/s) did not limit the merge: $rd bytes in ${took}s"
echo "$cowdev rbps=max" > /sys/fs/cgroup/m/io.max

# --- 2: writes during a merge; back to cgsnap-origin ------------------------
# The last 8 MiB the snapshot writes are one run (merged first, in steps of
# 1 MiB at 512 KiB/s); COW writes take 500 ms while the writers below run.
to_origin
half=$((sectors / 2 / 8 * 8))
dmsetup create snap2 --table "0 $sectors cgsnap /dev/mapper/real /dev/mapper/cow P 8"
for dev in snap2 lv; do	# the second half: scattered writes of both
	fio --name=s --filename=/dev/mapper/$dev --rw=randwrite --bs=4k --offset=$((half * 512)) \
		--size=$(( (sectors - half) / 8 * 4096 )) --number_ios=600 --direct=1 \
		--ioengine=psync --randrepeat=0 --output="$CGBLK_OUT/fio-half-$dev.txt" ||
		fail "fio through $dev"
done
dd if=/dev/urandom of=/dev/mapper/snap2 bs=1M count=8 oflag=direct status=none
tailsum() { dd if="$1" bs=512 skip=$half status=none | md5sum | cut -d' ' -f1; }
expected_tail=$(tailsum /dev/mapper/snap2)
# held at 4 KiB/s until the writers below run
echo "$cowdev rbps=4096" > /sys/fs/cgroup/m/io.max
to_merge snap2 /dev/mapper/cow m
reload_cow 0 500
# 3-4 MiB, merged from about the 5th step on.  32 writers (each its own 8
# blocks, a counter in every block) keep 32 writes in flight there, each
# 500 ms on the COW device: a step on the region finds some of its chunks
# written while it reads and writes back (dirtied), and commits only the
# entries up to the first of those.  The region's last block (the first of
# it the merge meets) has a writer of its own, without a break: steps keep
# nothing until the fourth holds that block alone, waits for its write in
# flight (waited) and holds the next one (queued); then the steps go into
# the region.  They write until all that happened and 8 chunks were
# dirtied (debugfs counters); each block's last content is checked during
# and after the merge.
rm -f /scratch/race-stop /scratch/race-started
trap 'touch /scratch/race-stop' EXIT	# a failure below must stop the writers
python3 - /dev/mapper/lv $((3 << 20)) /scratch/race-stop /scratch/race-expected $(((4 << 20) - 4096)) <<'PY' &
import mmap, os, struct, sys, threading, random
dev, base, stop, out, hot = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])
blocks = 256
fd = os.open(dev, os.O_RDWR | os.O_DIRECT)
last = {}
def writer(t):
    buf = mmap.mmap(-1, 4096)
    rnd, seq = random.Random(t), 0
    mine = [b for b in range(blocks - 1) if b % 32 == t]	# the last: hot_writer's
    while not os.path.exists(stop):
        b = rnd.choice(mine)
        seq += 1
        data = struct.pack("<QQ", b, seq) * 256
        buf[:] = data
        os.pwritev(fd, [buf], base + b * 4096)
        last[b] = data
        if seq == 2 and t == 0:
            open(stop.replace("stop", "started"), "w").close()
hot_last = [None]
def hot_writer():
    buf, seq = mmap.mmap(-1, 4096), 0
    while not os.path.exists(stop):
        seq += 1
        data = struct.pack("<QQ", hot, seq) * 256
        buf[:] = data
        os.pwritev(fd, [buf], hot)
        hot_last[0] = data
threads = [threading.Thread(target=writer, args=(t,)) for t in range(32)]
threads.append(threading.Thread(target=hot_writer))
for th in threads: th.start()
for th in threads: th.join()
rd = mmap.mmap(-1, 4096)
img = bytearray()
for b in range(blocks):
    os.preadv(fd, [rd], base + b * 4096)
    img += last.get(b, bytes(rd))
    if b in last and bytes(rd) != last[b]:
        sys.exit("block %d: not the last write made during the merge" % b)
os.preadv(fd, [rd], hot)
if bytes(rd) != hot_last[0]:
    sys.exit("the region's last block: not the last write made during the merge")
open(out, "wb").write(img)
open(out + "-hot", "wb").write(hot_last[0])
print("writes during the merge: %d blocks and the region's last, read back right" % len(last))
PY
racer=$!
wait_for 60 test -e /scratch/race-started
echo "$cowdev rbps=524288" > /sys/fs/cgroup/m/io.max
raced() {
	kill -0 $racer 2>/dev/null || fail "the writer during the merge ended early"
	merged lv && fail "the merge ended before the writes raced it: $(dm_info lv); steps $(mstat merge_steps), dirtied chunks $(mstat dirtied_chunks), queued writes $(mstat queued_writes), steps that waited $(mstat waited_steps)"
	[ "$(mstat dirtied_chunks)" -ge 8 ] && [ "$(mstat waited_steps)" -gt 0 ] &&
		[ "$(mstat queued_writes)" -gt 0 ]
}
wait_for 180 raced
touch /scratch/race-stop
wait $racer || fail "the writes made during the merge did not read back"
trap - EXIT
# held at 4 KiB/s while the second half is read through it (a debug
# kernel's read outlasted the rest of the merge)
echo "$cowdev rbps=4096" > /sys/fs/cgroup/m/io.max
merged lv && fail "merge done before the writes during it ended: nothing tested"
log "writes done during the merge: $(dm_info lv); steps $(mstat merge_steps) for $(mstat merged_chunks) chunks, dirtied chunks $(mstat dirtied_chunks), queued writes $(mstat queued_writes), steps that waited $(mstat waited_steps)"
[ "$(tailsum /dev/mapper/lv)" = "$expected_tail" ] || fail "lv's second half during the merge is not the snapshot's"
expect_refused 'merge into this origin is not done' dmsetup reload lv --table "$(origin_table)"
# COW reads 3 s from here, 512 KiB/s again: the rest of the merge (several
# MiB) lasts through the suspends and the failure below
reload_cow 3000 50
echo "$cowdev rbps=524288" > /sys/fs/cgroup/m/io.max
merged lv && fail "merge done before the suspends: nothing tested"
# suspends mid-merge abandon the step they find reading (it is done again)
i=0
until [ "$(mstat abandoned_steps)" -gt 0 ]; do
	i=$((i + 1))
	[ $i -le 10 ] || fail "10 suspends mid-merge abandoned no step"
	dmsetup suspend lv
	cg_run m dmsetup resume lv
	sleep 1
done
log "after $i suspends: $(dm_info lv); steps abandoned $(mstat abandoned_steps)"
# an I/O error stops the merge ("Merge failed"); a resume retries it
merged lv && fail "merge done before its COW device failed: nothing tested"
mark=$(dmesg_mark)
dmsetup reload cow --table "0 131072 error"
dmsetup resume cow
wait_for 60 sh -c 'dmsetup status lv | grep -q "Merge failed"'
dmesg_since "$mark" | grep -q "cgsnap: $(devno lv): merge failed" || fail "no 'merge failed' line in the kernel log"
log "COW device failing: $(dm_info lv)"
reload_cow 0 0
dmsetup suspend lv
cg_run m dmsetup resume lv
echo "$cowdev rbps=max" > /sys/fs/cgroup/m/io.max
wait_merged lv 300
cmp -n $((1 << 20)) /scratch/race-expected <(dd if=/dev/mapper/lv bs=1M skip=3 count=1 iflag=direct status=none) ||
	fail "the writes made during the merge changed once it went on"
cmp -n $((1 << 20)) /scratch/race-expected <(dd if=/dev/mapper/real bs=1M skip=3 count=1 iflag=direct status=none) ||
	fail "the writes made during the merge are not in the origin"
cmp -n 4096 /scratch/race-expected-hot <(dd if=/dev/mapper/real bs=4k skip=$(((4 << 8) - 1)) count=1 iflag=direct status=none) ||
	fail "the last write to the hot block is not in the origin"
[ "$(tailsum /dev/mapper/lv)" = "$expected_tail" ] || fail "lv's second half after the merge is not the snapshot's"
to_origin
dmsetup create snap3 --table "0 $sectors cgsnap /dev/mapper/real /dev/mapper/cow P 8" ||
	fail "no new snapshot after the merge"
status_ok snap3
dmsetup remove snap3

# --- 3: part-way, each way ---------------------------------------------------
zero_cow() { dd if=/dev/zero of=/dev/mapper/cow bs=1M count=8 oflag=direct status=none; }
partway() {	# NAME: the merge into lv has started and is not done
	local a0=$1
	wait_for 60 sh -c "[ \$(dmsetup status lv | awk '{ split(\$4, a, \"/\"); print a[1] }') -lt $a0 ]"
	merged lv && fail "merge done before it could be stopped part-way"
	log "part-way: $(dm_info lv)"
}
# 3a: cgsnap-merge removed part-way, snapshot-merge finishes
zero_cow
snapshot snap4 /dev/mapper/cow
expected=$(md5 /dev/mapper/snap4)
a0=$(alloc snap4)
echo "$cowdev rbps=262144" > /sys/fs/cgroup/m/io.max
to_merge snap4 /dev/mapper/cow m
partway "$a0"
dmsetup remove lv
echo "$cowdev rbps=max" > /sys/fs/cgroup/m/io.max
dmsetup create lv --table "$(merge_table /dev/mapper/cow snapshot-merge)"
wait_merged lv 300
[ "$(md5 /dev/mapper/real)" = "$expected" ] || fail "cgsnap-merge part-way, then snapshot-merge: not the snapshot"
dmsetup remove lv
cg_cleanup m
# 3b: snapshot-merge part-way, cgsnap-merge finishes
zero_cow
dmsetup create lv --table "0 $sectors snapshot-origin /dev/mapper/real"
dmsetup create snap5 --table "0 $sectors snapshot /dev/mapper/real /dev/mapper/cow P 8"
snapshot_in_tree_writes() {
	fio --name=s --filename=/dev/mapper/snap5 --rw=randwrite --bs=4k --size=$sz4k \
		--number_ios=1200 --direct=1 --ioengine=psync --randrepeat=0 \
		--output="$CGBLK_OUT/fio-snap5.txt" || fail "fio through snap5"
	dd if=/dev/urandom of=/dev/mapper/snap5 bs=512 seek=$((sectors - 2)) count=2 \
		oflag=direct status=none
}
snapshot_in_tree_writes
expected=$(md5 /dev/mapper/snap5)
a0=$(alloc snap5)
reload_cow 20
dmsetup suspend lv
dmsetup remove snap5
dmsetup reload lv --table "$(merge_table /dev/mapper/cow snapshot-merge)"
dmsetup resume lv
partway "$a0"
dmsetup remove lv
reload_cow 0
dmsetup create lv --table "$(merge_table)"
wait_merged lv 300
[ "$(md5 /dev/mapper/lv)" = "$expected" ] || fail "snapshot-merge part-way, then cgsnap-merge: lv is not the snapshot"
[ "$(md5 /dev/mapper/real)" = "$expected" ] || fail "snapshot-merge part-way, then cgsnap-merge: not the snapshot"
to_origin

# --- 4: bad tables ------------------------------------------------------------
refuse() {	# PATTERN TABLE: a new device with TABLE is refused, nothing left
	expect_refused "$1" dmsetup create bad --table "$2"
	! dmsetup info bad >/dev/null 2>&1 || fail "a refused table left device 'bad' behind"
}
dd if=/dev/zero of=/dev/ram2 bs=1M count=8 oflag=direct status=none
refuse 'requires 4 arguments' "0 $sectors cgsnap-merge /dev/mapper/real /dev/ram2 P"
refuse 'Cannot get origin device' "0 $sectors cgsnap-merge /dev/nonexistent /dev/ram2 P 8"
refuse 'Merge requires a persistent' "0 $sectors cgsnap-merge /dev/mapper/real /dev/ram2 N 8"
refuse 'no snapshot store to merge' "$(merge_table /dev/ram2)"
cmp -s -n 4096 /dev/ram2 /dev/zero || fail "a refused merge wrote to a blank COW device"
# a store with no exceptions
dmsetup create snap6 --table "0 $sectors cgsnap /dev/mapper/real /dev/ram2 P 8"
refuse 'COW device in use by a cgsnap table' "$(merge_table /dev/ram2)"
dmsetup create snap7 --table "0 $sectors cgsnap /dev/mapper/real /dev/ram3 P 8"
dmsetup remove snap6
refuse 'no exceptions to merge' "$(merge_table /dev/ram2)"
dd if=/dev/urandom of=/dev/mapper/snap7 bs=4k count=4 oflag=direct status=none
expect_refused 'the table cannot be read-only' dmsetup create --readonly bad --table "$(merge_table /dev/ram3)"
! dmsetup info bad >/dev/null 2>&1 || fail "a refused table left device 'bad' behind"
dmsetup suspend lv
dmsetup remove snap7
# another snapshot of the origin
dmsetup create snap8 --table "0 $sectors cgsnap /dev/mapper/real /dev/ram2 P 8"
expect_refused 'Origin has cgsnap snapshots' dmsetup reload lv --table "$(merge_table /dev/ram3)"
dmsetup remove snap8
dmsetup create lv2 --table "$(origin_table)"
expect_refused 'written through another cgsnap-origin' dmsetup reload lv --table "$(merge_table /dev/ram3)"
dmsetup remove lv2
dmsetup reload lv --table "$(merge_table /dev/ram3)"
dmsetup resume lv
wait_merged lv 60
# while lv holds the merge of ram3's store
refuse 'COW device is being merged' "$(merge_table /dev/ram3)"
refuse 'COW device is being merged|Origin is being merged' "0 $sectors cgsnap /dev/mapper/real /dev/ram3 P 8"
dd if=/dev/zero of=/dev/ram2 bs=1M count=8 oflag=direct status=none
refuse 'Origin is being merged into' "0 $sectors cgsnap /dev/mapper/real /dev/ram2 P 8"
cmp -s -n 4096 /dev/ram2 /dev/zero || fail "a refused snapshot wrote to a blank COW device"
refuse 'cgsnap-merge device' "0 $sectors cgsnap /dev/mapper/lv /dev/ram2 P 8"
refuse 'merged into by another device' "0 $sectors cgsnap-origin /dev/mapper/real"
# an invalid store
to_origin
dmsetup create snap9 --table "0 $sectors cgsnap /dev/mapper/real /dev/ram2 P 8"
dd if=/dev/urandom of=/dev/mapper/snap9 bs=4k count=4 oflag=direct status=none
dmsetup remove snap9
printf '\0\0\0\0' | dd of=/dev/ram2 bs=1 seek=4 conv=notrunc status=none
blockdev --flushbufs /dev/ram2
dmsetup suspend lv
expect_refused 'Snapshot is invalid' dmsetup reload lv --table "$(merge_table /dev/ram2)"
dmsetup resume lv
[ "$(dmsetup table lv | awk '{ print $3 }')" = cgsnap-origin ] || fail "lv lost its cgsnap-origin table"
dmsetup remove lv
dmsetup remove real
dmsetup remove cow

# --- 5: 4Kn ------------------------------------------------------------------
# Origin and COW device on a 4Kn disk (scsi_debug, 4096-byte blocks): chunk
# 8 sectors over 16 MiB, and chunk 16 over 16 MiB + 4 KiB (a partial last
# chunk of one block).  (A 512-byte origin whose size is not 4 KiB-aligned
# cannot have a 4Kn COW device: dm refuses the table's length.)
if ! modinfo scsi_debug > /dev/null 2>&1; then
	log "part 5 not run: $(uname -r) has no scsi_debug"
	cgblk_unload_all
	log "PASS"
	exit 0
fi
sdbg_setup 4096 40
dmsetup create c4k --table "0 40960 linear $SDBG 40960"
merge_4kn() {	# ORIGIN_SECTORS CHUNK
	local osz=$1 chunk=$2
	dmsetup create real --table "0 $osz linear $SDBG 0"
	dd if=/dev/zero of=/dev/mapper/c4k bs=1M count=1 oflag=direct status=none
	dmsetup create lv --table "0 $osz cgsnap-origin /dev/mapper/real"
	dmsetup create snap --table "0 $osz cgsnap /dev/mapper/real /dev/mapper/c4k P $chunk"
	fio --name=s --filename=/dev/mapper/snap --rw=randwrite --bs=4k --size=$((osz * 512)) \
		--number_ios=500 --direct=1 --ioengine=psync --randrepeat=0 \
		--output="$CGBLK_OUT/fio-4kn-$chunk.txt" || fail "fio through the 4Kn snapshot"
	dd if=/dev/urandom of=/dev/mapper/snap bs=4k seek=$((osz / 8 - 1)) count=1 \
		oflag=direct status=none
	expected=$(md5 /dev/mapper/snap)
	dmsetup suspend lv
	dmsetup remove snap
	dmsetup reload lv --table "0 $osz cgsnap-merge /dev/mapper/real /dev/mapper/c4k P $chunk"
	dmsetup resume lv
	wait_merged lv 300
	[ "$(md5 /dev/mapper/real)" = "$expected" ] ||
		fail "4Kn, $osz sectors, chunk $chunk: the origin after the merge is not the snapshot"
	log "4Kn, $osz sectors, chunk $chunk: merged, $(dm_info lv)"
	dmsetup remove lv
	dmsetup remove real
}
fill_random "$SDBG" 20
merge_4kn 32768 8
merge_4kn 32776 16
dmsetup remove c4k
sdbg_cleanup
cgblk_unload_all
log "PASS"
