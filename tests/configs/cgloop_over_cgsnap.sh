#!/bin/bash
# Proves: cgloop stacked on a cgsnap snapshot (cgloop's clones are remapped
# onto the dm device, cgsnap copies under them) keeps data and charges:
# cgroup a writes and verifies 16 MiB through cgloop (random sizes, direct)
# — the snapshot's copies are counted under /a and a's io.stat holds the
# origin reads of the partial ones — then reads it back after a cache drop; the origin never
# changes; the snapshot stays valid; everything comes apart in order.  The
# origin is 131071 sectors, not a multiple of the 8 KiB chunk, so the last
# partial chunk is copied too (the stacked configuration of issue 13's
# list: "cgloop over a cgsnap snapshot").
# tier: one 6.12 (stacked devices; the full tier runs it everywhere)
# timeout: 300
. "$CGBLK_TOP/tests/lib/guest-lib.sh"

brd_setup 64 2
fill_random /dev/ram0 64
dmsetup create o --table "0 131071 linear /dev/ram0 0"	# odd size
odev=$(cat /sys/block/ram0/dev)
sum0=$(md5sum < /dev/ram0)
dm_snap c cgsnap /dev/mapper/o /dev/ram1 P 16
cgblk_load cgloop backing=/dev/mapper/c
wait_for 10 test -b /dev/cgloop0
[ "$(blockdev --getsize64 /dev/cgloop0)" = $((131071 * 512)) ] ||
	fail "cgloop0 is $(blockdev --getsize64 /dev/cgloop0) bytes over a $((131071 * 512))-byte snapshot"

cg_setup a
rb0=$(io_stat_bytes a "$odev" rbytes)
( echo $BASHPID > /sys/fs/cgroup/a/cgroup.procs; fio_verify /dev/cgloop0 16M --direct=1 ) ||
	fail "fio through cgloop over the snapshot did not verify"
# cgloop0's last 4 KiB lie in the snapshot's last, partial chunk (15 sectors)
head -c 4096 /dev/urandom > /scratch/pat
last=$((131071 - 8))
cg_run a "dd if=/scratch/pat of=/dev/cgloop0 bs=512 seek=$last count=8 oflag=direct status=none" ||
	fail "a write to cgloop0's last 4 KiB failed"
cmp <(dd if=/dev/mapper/c bs=512 skip=$last count=8 iflag=direct status=none) /scratch/pat ||
	fail "the last block did not reach the snapshot"
rb=$(( $(io_stat_bytes a "$odev" rbytes) - rb0 ))
st=$(cat /sys/kernel/debug/cgblk/dm_cgsnap/dm-*@0)
echo "$st" > "$CGBLK_OUT/cgsnap-stats.txt"
all=$(echo "$st" | awk '$1 == "copies" { print $2 }')
in_a=$(echo "$st" | awk '$1 == "workers:" { exit } $1 == "/a" { print $2; exit }')
log "cgsnap under cgloop: $all copies, ${in_a:-0} under /a; a's io.stat: $rb B read from the origin"
[ "${all:-0}" -gt 100 ] || fail "only ${all:-0} copies for 16 MiB of random writes"
[ "${in_a:-0}" = "$all" ] || fail "${in_a:-0} of $all copies under /a"
# Whole-chunk writes copy nothing; each merged (partial) write read its
# chunk from the origin: 8 KiB, the last one 15 sectors.
merged=$(echo "$st" | awk '$1 == "merged_writes" { print $2 }')
want=$(( (merged - 1) * 8192 + 15 * 512 ))
[ "${merged:-0}" -ge 1 ] && [ "$rb" -ge "$want" ] ||
	fail "a's io.stat holds $rb B of origin reads; $merged merged copies read $want B"
case $(dm_info c) in
Invalid*|Overflow*) fail "snapshot is $(dm_info c)" ;;
esac
echo 3 > /proc/sys/vm/drop_caches
cmp <(dd if=/dev/cgloop0 bs=512 skip=$last count=8 status=none) /scratch/pat ||
	fail "the last block reads back other data through cgloop"
rmmod cgloop
dmsetup remove c
[ "$(md5sum < /dev/ram0)" = "$sum0" ] || fail "the origin changed under the snapshot"
dmsetup remove o
cgblk_unload_all
cg_cleanup a
brd_cleanup
