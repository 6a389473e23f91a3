#!/bin/bash
# Proves: when a snapshot becomes Invalid the kernel says why in one line
# naming the device, and debugfs keeps the reason (issue 15, item 6): a
# full COW device (cow_full), an origin read that fails under a copy
# (origin_read_error, with the error and the origin chunk), a COW write
# that fails (cow_write_error), a metadata write that fails while the data
# writes work (metadata_write_error: only the COW's metadata area 0 is an
# `error` table), and a store loaded with an invalid header
# (marked_invalid_on_disk).  A valid snapshot shows "state valid" and no
# reason.  Chunks of 8 KiB; devices are brd, with dm-linear tables swapped
# for `error` ones underneath the live snapshot.
# timeout: 300
# tier: edges
. "$CGBLK_TOP/tests/lib/guest-lib.sh"

brd_setup 64 2
fill_random /dev/ram0 32
cgblk_load dm-cgsnap
osz=$(blockdev --getsz /dev/ram0)
csz=$(blockdev --getsz /dev/ram1)

dbg() {	# NAME: the snapshot's debugfs file
	cat "/sys/kernel/debug/cgblk/dm_cgsnap/dm-$(dmsetup info -c --noheadings -o minor "$1" | tr -d ' ')@0"
}
field() { dbg "$1" | sed -n "s/^$2 //p"; }	# NAME KEY: a debugfs value
swap() {	# NAME TABLE: a new table for a live device
	dmsetup load "$1" --table "$2"
	dmsetup suspend --noflush --nolockfs "$1"
	dmsetup resume "$1"
}
# expect_reason NAME MARK REASON ERROR CHUNK LINE-REGEX: the snapshot is
# Invalid, debugfs names REASON (and ERROR, CHUNK), and exactly one kernel
# line since MARK says "Invalidating snapshot", naming the device and
# matching LINE-REGEX.
expect_reason() {
	local name=$1 mark=$2 reason=$3 err=$4 chunk=$5 re=$6 dev lines
	dev=$(dmsetup info -c --noheadings -o major,minor --separator : "$name" | tr -d ' ')
	[ "$(dm_info "$name")" = Invalid ] || fail "$reason: status $(dm_info "$name"), not Invalid"
	[ "$(field "$name" state)" = invalid ] || fail "$reason: debugfs state $(field "$name" state)"
	[ "$(field "$name" invalid_reason)" = "$reason" ] ||
		fail "$reason: debugfs invalid_reason is '$(field "$name" invalid_reason)'"
	[ "$(field "$name" invalid_error)" = "$err" ] ||
		fail "$reason: debugfs invalid_error is '$(field "$name" invalid_error)', not $err"
	[ "$(field "$name" invalid_chunk)" = "$chunk" ] ||
		fail "$reason: debugfs invalid_chunk is '$(field "$name" invalid_chunk)', not $chunk"
	lines=$(dmesg_since "$mark" | grep 'Invalidating snapshot' || true)
	[ "$(printf '%s\n' "$lines" | grep -c .)" = 1 ] ||
		fail "$reason: not one 'Invalidating snapshot' line: $(printf '%s' "$lines" | tr '\n' '|')"
	printf '%s\n' "$lines" | grep -q "cgsnap: $dev: Invalidating snapshot: " ||
		fail "$reason: the line does not name $dev: $lines"
	printf '%s\n' "$lines" | grep -Eq -- "$re" || fail "$reason: the line does not match '$re': $lines"
	log "$reason: ${lines#\[*\] }"
}
new_cow() { dd if=/dev/zero of=/dev/ram1 bs=1M count=1 oflag=direct status=none; }

# 0. valid: no reason
new_cow
dmsetup create cowlin --table "0 $csz linear /dev/ram1 0"
dmsetup create orig --table "0 $osz linear /dev/ram0 0"
dm_snap s1 cgsnap /dev/mapper/orig /dev/mapper/cowlin P 16
dd if=/dev/urandom of=/dev/mapper/s1 bs=4k count=4 oflag=direct status=none
[ "$(field s1 state)" = valid ] || fail "a new snapshot's debugfs state is $(field s1 state)"
[ "$(field s1 invalid_reason)" = none ] || fail "a valid snapshot has a reason: $(field s1 invalid_reason)"

# 1. the origin fails under a copy: a 4 KiB write at 16 MiB needs chunk 2048
mark=$(dmesg_mark)
swap orig "0 $osz error"
if dd if=/dev/urandom of=/dev/mapper/s1 bs=4k count=1 seek=4096 oflag=direct status=none 2>/dev/null; then
	fail "a write whose copy cannot read the origin succeeded"
fi
expect_reason s1 "$mark" origin_read_error -5 2048 'error -5 reading origin chunk 2048'
dmsetup remove s1
swap orig "0 $osz linear /dev/ram0 0"

# 2. the COW device fails under a copy (the origin read works): chunk 1024
new_cow
dm_snap s1 cgsnap /dev/mapper/orig /dev/mapper/cowlin P 16
dd if=/dev/urandom of=/dev/mapper/s1 bs=4k count=4 oflag=direct status=none
mark=$(dmesg_mark)
swap cowlin "0 $csz error"
if dd if=/dev/urandom of=/dev/mapper/s1 bs=4k count=1 seek=2048 oflag=direct status=none 2>/dev/null; then
	fail "a write whose copy cannot write the COW device succeeded"
fi
expect_reason s1 "$mark" cow_write_error -5 1024 'error -5 writing the COW copy of chunk 1024'
dmsetup remove s1
swap cowlin "0 $csz linear /dev/ram1 0"

# 3. only the metadata write fails: area 0 is COW chunk 1 (sectors 16-31)
new_cow
dm_snap s1 cgsnap /dev/mapper/orig /dev/mapper/cowlin P 16
dd if=/dev/urandom of=/dev/mapper/s1 bs=4k count=4 oflag=direct status=none
mark=$(dmesg_mark)
swap cowlin "0 16 linear /dev/ram1 0
16 16 error
32 $((csz - 32)) linear /dev/ram1 32"
if dd if=/dev/urandom of=/dev/mapper/s1 bs=4k count=1 seek=2048 oflag=direct status=none 2>/dev/null; then
	fail "a write whose exception cannot be committed succeeded"
fi
expect_reason s1 "$mark" metadata_write_error -5 0 'error -5 writing the exception metadata'
dmsetup remove s1
swap cowlin "0 $csz linear /dev/ram1 0"

# 4. a full COW device (1 MiB: header, metadata, 126 data chunks)
new_cow
dmsetup create small --table "0 2048 linear /dev/ram1 0"
dm_snap s1 cgsnap /dev/mapper/orig /dev/mapper/small P 16
mark=$(dmesg_mark)
if dd if=/dev/urandom of=/dev/mapper/s1 bs=64k count=64 oflag=direct status=none 2>/dev/null; then
	fail "4 MiB written to a 1 MiB COW device without an error"
fi
expect_reason s1 "$mark" cow_full -28 0 'COW device full \(2048 sectors\)'
dmsetup remove s1

# 5. loaded with the invalid header case 4 left
dm_snap s1 cgsnap /dev/mapper/orig /dev/mapper/small P 16
[ "$(dm_info s1)" = Invalid ] || fail "a store with an invalid header loads as $(dm_info s1)"
[ "$(field s1 invalid_reason)" = marked_invalid_on_disk ] ||
	fail "loaded invalid: debugfs invalid_reason is '$(field s1 invalid_reason)'"
log "marked_invalid_on_disk: loaded Invalid, reason kept"
dmsetup remove s1
dmsetup remove small
dmsetup remove cowlin
dmsetup remove orig
cgblk_unload_all
brd_cleanup
