#!/bin/bash
# Proves: a table loaded on the COW device of a live cgsnap takes its
# exceptions and store over at its resume (issue 15, item 5; before, the
# reload was refused, and before that it read the store while the live
# table still wrote it, issue 13.3):
#  1. P store, fio writing through the snapshot (4 KiB direct, crc32c):
#     reloads of the same table, each resumed, keep every exception
#     (allocated never falls, the kernel says "took over"); the COW device
#     (a dm-linear) grown under the live snapshot gives it the room at the
#     next reload + resume (status total grows; fio writes past the old end,
#     no invalidation); the data verifies through cgsnap and through the
#     in-tree `snapshot` opening the same store afterwards.
#  2. Refused with a kernel line, nothing left in the inactive slot where
#     the load failed: another store type, another origin, a COW device now
#     smaller than what is allocated, a second table while one waits
#     (`dmsetup clear` lets the next one in).
#  3. Another device naming the COW device: its resume is refused while the
#     live one runs; once that one is suspended, it takes over; a taker whose
#     live table is removed first takes over at that removal.
#  4. N store (the exceptions live only in memory) of an origin written
#     through cgsnap-origin: four reloads while fio writes the origin; the
#     snapshot still reads the origin as it was at its creation.
# timeout: 900
# tier: edges
. "$CGBLK_TOP/tests/lib/guest-lib.sh"

brd_setup 64 4
fill_random /dev/ram0 64
blockdev --setro /dev/ram0
for d in 1 2 3; do dd if=/dev/zero of=/dev/ram$d bs=1M count=1 oflag=direct status=none; done
cgblk_load dm-cgsnap
modprobe dm-snapshot
sectors=$(blockdev --getsz /dev/ram0)
dmsetup create cow --table "0 32768 linear /dev/ram1 0"	# 16 MiB of 64
table() { echo "0 $sectors ${3:-cgsnap} ${2:-/dev/ram0} /dev/mapper/cow ${1:-P} 8"; }
dmsetup create s1 --table "$(table)"
s1dev=$(dmsetup info -c --noheadings -o major,minor --separator : s1 | tr -d ' ')

field() { dm_info "$1" | awk -v f="$2" '{ split($1, a, "/"); print f == "alloc" ? a[1] : a[2] }'; }

# reload NAME TABLE: reload + resume, the kernel says it took over, and
# the allocation carried over (never less than before)
reload() {
	local before mark
	before=$(field "$1" alloc)
	mark=$(dmesg_mark)
	dmsetup reload "$1" --table "$2" || fail "reload of $1 refused: $(dmesg_since "$mark" | tr '\n' '|')"
	dmsetup resume "$1" || fail "resume of $1 after its reload failed: $(dmesg_since "$mark" | tr '\n' '|')"
	dmesg_since "$mark" | grep -q 'cgsnap: .*took over the exceptions' ||
		fail "reload of $1: no handover in the kernel log: $(dmesg_since "$mark" | tr '\n' '|')"
	[ "$(dm_info "$1")" != Invalid ] || fail "$1 is Invalid after its reload"
	[ "$(field "$1" alloc)" -ge "$before" ] ||
		fail "$1 allocated $(field "$1" alloc) after the reload, $before before: exceptions lost"
	log "reloaded $1: $(dm_info "$1")"
}

# --- 1: same-table reloads and growth under load ---------------------------
job=(--name=w --filename=/dev/mapper/s1 --size=40M --bs=4k --rw=randwrite
	--direct=1 --ioengine=libaio --iodepth=8 --verify=crc32c
	--verify_state_save=0 --randrepeat=1 --norandommap=0)
# 40 MiB of fresh chunks (41 MiB of COW with the metadata) at 1 MiB/s: the
# 16 MiB COW fills after ~15 s unless it grows
fio "${job[@]}" --do_verify=0 --rate=1m --output="$CGBLK_OUT/fio-write.txt" &
fiopid=$!
running() { kill -0 $fiopid 2>/dev/null || fail "fio ended before $1: not under load"; }
past() { [ "$(field s1 alloc)" -ge "$1" ]; }
wait_for 120 past 2048; running "reload 1"
reload s1 "$(table)"
wait_for 120 past 4096; running "reload 2"
reload s1 "$(table)"
wait_for 120 past 8192; running "the growth"
old_total=$(field s1 total)
dmsetup suspend s1
dmsetup reload cow --table "0 131072 linear /dev/ram1 0"	# 64 MiB
dmsetup resume cow
reload s1 "$(table)"
[ "$(field s1 total)" = 131072 ] || fail "total $(field s1 total) after the COW grew to 131072 (was $old_total)"
running "reload 4"
reload s1 "$(table)"
wait $fiopid || fail "fio's writes failed across the reloads"
alloc=$(field s1 alloc)
[ "$alloc" -gt "$old_total" ] || fail "allocated $alloc: the writes never went past the old end $old_total"
[ "$(dm_info s1)" != Invalid ] || fail "s1 went Invalid"
log "after the growth: $(dm_info s1) (old total $old_total)"
fio "${job[@]}" --verify_only --output="$CGBLK_OUT/fio-verify.txt" ||
	fail "the data written across the reloads does not verify"
info=$(dm_info s1)

# --- 2: refusals --------------------------------------------------------------
expect_refused 'cgsnap: .*store type differs' dmsetup reload s1 --table "$(table N)"
expect_refused 'cgsnap: .*another origin' dmsetup reload s1 --table "$(table P /dev/ram3)"
[ -z "$(dmsetup table --inactive s1)" ] || fail "a refused reload left an inactive table"
dmsetup suspend s1
dmsetup reload cow --table "0 16384 linear /dev/ram1 0"	# 8 MiB < allocated
dmsetup resume cow
expect_refused 'cgsnap: .*smaller than the chunks' dmsetup reload s1 --table "$(table)"
[ -z "$(dmsetup table --inactive s1)" ] || fail "a refused reload left an inactive table"
dmsetup reload cow --table "0 131072 linear /dev/ram1 0"
dmsetup resume cow
dmsetup resume s1
dmsetup reload s1 --table "$(table)" || fail "reload refused"
expect_refused 'cgsnap: .*already waiting to take over' dmsetup reload s1 --table "$(table PO)"
[ "$(dmsetup table --inactive s1 | awk '{print $6}')" = P ] || fail "the waiting table was replaced"
dmsetup clear s1
reload s1 "$(table PO)"
[ "$(dmsetup table s1 | awk '{print $6}')" = PO ] || fail "table after the PO reload: $(dmsetup table s1)"
[ "$(dm_info s1)" = "$info" ] || fail "status $(dm_info s1) after the refusals, was $info"

# --- 3: another device takes over ---------------------------------------------
# (dmsetup create would remove a device whose first resume failed)
dmsetup create s2 --notable
dmsetup load s2 --table "$(table)"
expect_refused 'cgsnap: .*until it is suspended' dmsetup resume s2
dmsetup suspend s1
dmsetup resume s2 || fail "s2 did not take over from the suspended s1"
[ "$(dm_info s1)" = Invalid ] || fail "s1 after the handover: $(dm_info s1) (an empty shell is Invalid)"
[ "$(dm_info s2)" = "$info" ] || fail "s2 status $(dm_info s2), s1 had $info"
dmsetup remove s1
job[1]=--filename=/dev/mapper/s2
fio "${job[@]}" --verify_only --output="$CGBLK_OUT/fio-verify-s2.txt" ||
	fail "the data does not verify through the device that took over"
# a taker whose source is removed first takes over at that removal
dmsetup create s3 --notable
dmsetup load s3 --table "$(table)"
expect_refused 'cgsnap: .*until it is suspended' dmsetup resume s3
mark=$(dmesg_mark)
dmsetup remove s2
dmesg_since "$mark" | grep -q 'took over the exceptions' || fail "the removal of s2 handed nothing over"
dmsetup resume s3
[ "$(dm_info s3)" = "$info" ] || fail "s3 status $(dm_info s3), s2 had $info"
job[1]=--filename=/dev/mapper/s3
fio "${job[@]}" --verify_only --output="$CGBLK_OUT/fio-verify-s3.txt" ||
	fail "the data does not verify after a handover at the source's removal"
dmsetup remove s3
# the store written across all that opens under the in-tree target
dm_snap ref snapshot /dev/ram0 /dev/mapper/cow P 8
job[1]=--filename=/dev/mapper/ref
fio "${job[@]}" --verify_only --output="$CGBLK_OUT/fio-verify-ref.txt" ||
	fail "the in-tree snapshot reads other data from the store"
log "in-tree snapshot over the store: $(dm_info ref)"
dmsetup remove ref

# --- 4: N store, origin written through cgsnap-origin ---------------------------
blockdev --setrw /dev/ram0
osz=$(( 24 * 2048 ))
dmsetup create base --table "0 $osz linear /dev/ram0 0"
dmsetup create orig --table "0 $osz cgsnap-origin /dev/mapper/base"
dd if=/dev/mapper/base of=/scratch/o0.img bs=1M iflag=direct status=none
ntable="0 $osz cgsnap /dev/mapper/base /dev/ram2 N 16"
dmsetup create sn --table "$ntable"
fio --name=o --filename=/dev/mapper/orig --size=24M --bs=4k --rw=randwrite \
	--direct=1 --ioengine=libaio --iodepth=8 --rate=512k --time_based \
	--runtime=24 --output="$CGBLK_OUT/fio-origin.txt" &
fiopid=$!
# 128 writes/s over 3072 chunks: copies in flight at every reload
for i in 1 2 3 4; do
	sleep 3
	running "origin reload $i"
	reload sn "$ntable"
done
wait $fiopid || fail "the origin writes failed across the reloads"
[ "$(dd if=/dev/mapper/sn bs=1M iflag=direct status=none | md5sum | cut -d' ' -f1)" = \
  "$(md5sum < /scratch/o0.img | cut -d' ' -f1)" ] ||
	fail "the N snapshot no longer reads the origin as at its creation after 4 reloads"
log "N snapshot kept across 4 reloads under origin writes: $(dm_info sn)"
dmsetup remove sn orig base cow
cgblk_unload_all
brd_cleanup
