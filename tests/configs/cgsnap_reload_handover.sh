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
#     A COW device shrunk to exactly what is allocated is accepted; two
#     targets of one table on one COW device are refused.
#  3. Another device naming the COW device: its resume is refused while the
#     live one runs; once that one is suspended, it takes over (the old one,
#     resumed, fails I/O); a taker whose live table is removed first takes
#     over at that removal.
#  4. An origin written through cgsnap-origin, its reads 20 ms slow
#     (dm-delay) so that copies are in flight: a P and an N snapshot (the N
#     exceptions live only in memory) reloaded four times each, and the P
#     one taken over by another device, while fio writes the origin; the
#     kernel line of the handovers must show copies drained and origin
#     writes held (else nothing was in flight to get wrong); both still read
#     the origin as it was at their creation, the P store under the in-tree
#     `snapshot` too.
# timeout: 900
# tier: one 6.1 (long: the full tier runs it everywhere)
. "$CGBLK_TOP/tests/lib/guest-lib.sh"

brd_setup 64 4
fill_random /dev/ram0 64
blockdev --setro /dev/ram0
for d in 1 2 3; do dd if=/dev/zero of=/dev/ram$d bs=1M count=1 oflag=direct status=none; done
cgblk_load dm-cgsnap
modprobe dm-snapshot
sectors=$(blockdev --getsz /dev/ram0)
dmsetup create cow --table "0 49152 linear /dev/ram1 0"	# 24 MiB of 64
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
	dmesg_since "$mark" | grep -q 'cgsnap: .*took over' ||
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
# 40 MiB of fresh chunks (41 MiB of COW with the metadata) at 768 KiB/s:
# the 24 MiB COW fills after ~30 s unless it grows (the growth comes after
# one reload, ~5-15 s in)
fio "${job[@]}" --do_verify=0 --rate=768k --output="$CGBLK_OUT/fio-write.txt" &
fiopid=$!
running() { kill -0 $fiopid 2>/dev/null || fail "fio ended before $1: not under load"; }
past() { [ "$(field s1 alloc)" -ge "$1" ]; }
wait_for 120 past 2048; running "reload 1"
reload s1 "$(table)"
running "the growth"
old_total=$(field s1 total)
dmsetup suspend s1
dmsetup reload cow --table "0 131072 linear /dev/ram1 0"	# 64 MiB
dmsetup resume cow
reload s1 "$(table)"
[ "$(field s1 total)" = 131072 ] || fail "total $(field s1 total) after the COW grew to 131072 (was $old_total)"
log "grown at $(field s1 alloc) of the old $old_total"
wait_for 180 past $((old_total + 2048)); running "reload 3"
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
# exactly what is allocated: accepted (and grown back)
dmsetup suspend s1
dmsetup reload cow --table "0 $(field s1 alloc) linear /dev/ram1 0"
dmsetup resume cow
reload s1 "$(table PO)"
[ "$(field s1 total)" = "$(field s1 alloc)" ] || fail "status $(dm_info s1) on a COW of exactly the allocated size"
dmsetup suspend s1
dmsetup reload cow --table "0 131072 linear /dev/ram1 0"
dmsetup resume cow
reload s1 "$(table PO)"
# two targets of one table on one (fresh) COW device
dmsetup create cow2 --table "0 16384 linear /dev/ram3 0"
h=$((sectors / 2))
printf '0 %s cgsnap /dev/ram0 /dev/mapper/cow2 P 8\n%s %s cgsnap /dev/ram0 /dev/mapper/cow2 P 8\n' \
	$h $h $h > /scratch/two.table
expect_refused 'cgsnap: .*another target of this table' dmsetup create two /scratch/two.table
dmsetup remove two 2>/dev/null || true
dmsetup remove cow2

# --- 3: another device takes over ---------------------------------------------
# (dmsetup create would remove a device whose first resume failed)
dmsetup create s2 --notable
dmsetup load s2 --table "$(table)"
expect_refused 'cgsnap: .*until it is suspended' dmsetup resume s2
dmsetup suspend s1
dmsetup resume s2 || fail "s2 did not take over from the suspended s1"
[ "$(dm_info s1)" = Invalid ] || fail "s1 after the handover: $(dm_info s1) (an empty shell is Invalid)"
[ "$(dm_info s2)" = "$info" ] || fail "s2 status $(dm_info s2), s1 had $info"
dmsetup resume s1	# the empty shell: I/O fails
if dd if=/dev/mapper/s1 of=/dev/null bs=4k count=1 iflag=direct status=none 2>/dev/null; then
	fail "the table that handed over still reads"
fi
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
dmesg_since "$mark" | grep -q 'cgsnap: .*took over' || fail "the removal of s2 handed nothing over"
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

# --- 4: origin written through cgsnap-origin, copies in flight ---------------
blockdev --setrw /dev/ram0
modprobe dm-delay
osz=$(( 24 * 2048 ))
dmsetup create base --table "0 $osz delay /dev/ram0 0 20 /dev/ram0 0 0"
dmsetup create orig --table "0 $osz cgsnap-origin /dev/mapper/base"
dd if=/dev/mapper/base of=/scratch/o0.img bs=1M iflag=direct status=none
sum0=$(md5sum < /scratch/o0.img | cut -d' ' -f1)
img() { dd if="$1" bs=1M iflag=direct status=none | md5sum | cut -d' ' -f1; }
dd if=/dev/zero of=/dev/ram1 bs=1M count=1 oflag=direct status=none
dmsetup reload cow --table "0 65536 linear /dev/ram1 0"
dmsetup resume cow
ptable="0 $osz cgsnap /dev/mapper/base /dev/mapper/cow P 8"
ntable="0 $osz cgsnap /dev/mapper/base /dev/ram2 N 16"
dmsetup create sp --table "$ptable"
dmsetup create sn --table "$ntable"
fio --name=o --filename=/dev/mapper/orig --size=24M --bs=4k --rw=randwrite \
	--direct=1 --ioengine=libaio --iodepth=8 --rate=512k --time_based \
	--runtime=600 --output="$CGBLK_OUT/fio-origin.txt" &
fiopid=$!
mark=$(dmesg_mark)
# 128 writes/s over 3072 chunks, reads of 20 ms: copies at every reload
for i in 1 2 3 4; do
	sleep 2
	running "origin reload $i"
	reload sp "$ptable"
	reload sn "$ntable"
done
running "the takeover of sp"
dmsetup create sx --notable
dmsetup load sx --table "$ptable"
dmsetup suspend sp
dmsetup resume sx || fail "sx did not take over sp under origin writes"
dmsetup remove sp
# stopped here (the debug kernel's reloads take longer than any fixed run)
kill -INT $fiopid
wait $fiopid || true	# fio stopped by the signal
grep -q 'err= 0' "$CGBLK_OUT/fio-origin.txt" ||
	fail "the origin writes failed across the handovers: $(grep -m1 'err=' "$CGBLK_OUT/fio-origin.txt")"
lines=$(dmesg_since "$mark" | grep 'cgsnap: .*took over')
log "$lines"
drained=$(echo "$lines" | sed -n 's/.* \([0-9]*\) copies drained.*/\1/p' | awk '{ n += $1 } END { print n + 0 }')
held=$(echo "$lines" | sed -n 's/.* \([0-9]*\) writes held.*/\1/p' | awk '{ n += $1 } END { print n + 0 }')
[ "$(echo "$lines" | wc -l)" -eq 9 ] || fail "$(echo "$lines" | wc -l) handovers in the log, not 9"
[ "$drained" -gt 0 ] || fail "no handover drained a copy: nothing was in flight"
[ "$held" -gt 0 ] || fail "no handover held an origin write"
[ "$(img /dev/mapper/sn)" = "$sum0" ] ||
	fail "the N snapshot no longer reads the origin as at its creation after 4 reloads"
[ "$(img /dev/mapper/sx)" = "$sum0" ] ||
	fail "the P snapshot no longer reads the origin as at its creation after 4 reloads and a takeover"
log "under origin writes: $drained copies drained, $held writes held; sn $(dm_info sn), sx $(dm_info sx)"
dmsetup remove sx
dmsetup create ref --table "$(echo "$ptable" | sed 's/ cgsnap / snapshot /')"
[ "$(img /dev/mapper/ref)" = "$sum0" ] || fail "the in-tree snapshot reads the P store differently"
dmsetup remove ref sn orig base cow
cgblk_unload_all
brd_cleanup
