#!/bin/bash
# Proves: a second table on a COW device that a live cgsnap uses is refused
# (issue 13.3: a reloaded table read the store while the old one still
# allocated and committed; both handed out the same chunks): with fio
# writing (4 KiB direct, crc32c), four `dmsetup reload` of the same table
# fail with the reason in the kernel log, nothing is left in the inactive
# slot, the live table keeps working and fio's data verifies; another dm
# device naming the same COW device is refused too, one on another COW
# device is not; once the old table is gone (`dmsetup remove`, or a reload
# to another target and resume) a cgsnap table on that COW device is
# accepted again and reads the same data.
# timeout: 600
# tier: edges
. "$CGBLK_TOP/tests/lib/guest-lib.sh"

brd_setup 64 3
fill_random /dev/ram0 64
blockdev --setro /dev/ram0
dd if=/dev/zero of=/dev/ram1 bs=1M count=1 oflag=direct status=none
dd if=/dev/zero of=/dev/ram2 bs=1M count=1 oflag=direct status=none
sectors=$(blockdev --getsz /dev/ram0)
table="0 $sectors cgsnap /dev/ram0 /dev/ram1 P 8"
dm_snap s1 cgsnap /dev/ram0 /dev/ram1 P 8
[ -b /dev/mapper/s1 ] || fail "no /dev/mapper/s1"

job=(--name=w --filename=/dev/mapper/s1 --size=48M --bs=4k --rw=randwrite
	--direct=1 --ioengine=libaio --iodepth=8 --verify=crc32c
	--verify_state_save=0 --randrepeat=1 --norandommap=0)
# at 1 MiB/s fio writes for 48 s at least: the reloads (a few seconds each
# in the guest) come while it runs
fio "${job[@]}" --do_verify=0 --rate=1m --output="$CGBLK_OUT/fio-write.txt" &
fiopid=$!

# progress: sectors allocated in the store (brd counts no I/O on 5.10)
cow_written() { dm_info s1 | cut -d/ -f1; }
grown() { [ "$(cow_written)" -ge $(( $1 + 512 )) ] || ! kill -0 $fiopid 2>/dev/null; }
for i in 1 2 3 4; do
	w=$(cow_written)
	wait_for 120 grown "$w"		# the live table is writing
	kill -0 $fiopid 2>/dev/null || fail "fio ended before reload $i: not a reload under load"
	mark=$(dmesg_mark)
	if dmsetup reload s1 --table "$table" 2>"$CGBLK_OUT/reload-$i.err"; then
		dmsetup resume s1
		fail "reload $i of a live cgsnap on the same COW device was accepted"
	fi
	dmesg_since "$mark" | grep -q 'cgsnap: .*in use by' ||
		fail "reload $i: no reason in the kernel log: $(dmesg_since "$mark" | tr '\n' '|')"
	[ -z "$(dmsetup table --inactive s1)" ] || fail "reload $i left an inactive table"
	dmsetup resume s1
	log "reload $i refused: $(dmesg_since "$mark" | grep cgsnap | tr '\n' '|')"
done

# another device on the same COW device: refused; on another one: accepted
expect_fail dmsetup create s2 --table "$table"
[ ! -e /dev/mapper/s2 ] || fail "a refused table left /dev/mapper/s2"
dmsetup remove s2 2>/dev/null || true
dm_snap s3 cgsnap /dev/ram0 /dev/ram2 P 8
dmsetup remove s3

wait $fiopid || fail "fio's writes failed while reloads were refused"
info=$(dm_info s1)
[ "$info" != Invalid ] || fail "the live table went Invalid"
echo 3 > /proc/sys/vm/drop_caches
fio "${job[@]}" --verify_only --output="$CGBLK_OUT/fio-verify.txt" ||
	fail "the data written while reloads were refused does not verify"
log "after the reloads: $info"

# what to do instead: suspend, remove, create
dmsetup suspend s1
dmsetup remove s1
dm_snap s1 cgsnap /dev/ram0 /dev/ram1 P 8
[ "$(dm_info s1)" = "$info" ] || fail "status after remove/create: $(dm_info s1), was $info"
fio "${job[@]}" --verify_only --output="$CGBLK_OUT/fio-verify2.txt" ||
	fail "the data does not verify after remove and create"

# a reload to another target frees the COW device at resume
dmsetup reload s1 --table "0 $sectors error"
dmsetup resume s1
dmsetup reload s1 --table "$table" || fail "reload refused although the old cgsnap table is gone"
dmsetup resume s1
fio "${job[@]}" --verify_only --output="$CGBLK_OUT/fio-verify3.txt" ||
	fail "the data does not verify after error and cgsnap reloads"
dmsetup remove s1
# and a new device takes it once the first is removed
dm_snap s2 cgsnap /dev/ram0 /dev/ram1 P 8
[ "$(dm_info s2)" = "$info" ] || fail "s2 status $(dm_info s2), was $info"
dmsetup remove s2
blockdev --setrw /dev/ram0
cgblk_unload_all
brd_cleanup
