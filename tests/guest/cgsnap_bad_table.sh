#!/bin/bash
# Proves: every bad cgsnap table is refused with its own ti->error in the
# kernel log, leaves nothing behind (the module unloads; kmemleak on the
# debug kernel), and the same devices then take a good table;
# discard_passdown_origin is taken with a warning in the kernel log.
# tier: edges
# timeout: 180
. "$CGBLK_TOP/tests/lib/guest-lib.sh"

brd_setup 16 3
cgblk_load dm-cgsnap
is_loaded dm_mod || modprobe dm-mod
sz=$(blockdev --getsz /dev/ram0)
# a COW device smaller than one chunk, and one too small for a header
is_loaded loop || modprobe loop
truncate -s 4096 /scratch/tiny.img
tiny=$(losetup --find --show /scratch/tiny.img)
truncate -s 16384 /scratch/small.img
small=$(losetup --find --show /scratch/small.img)
# a COW device with another signature
dd if=/dev/urandom of=/dev/ram2 bs=4k count=1 oflag=direct status=none

bad() {	# EXPECTED-ERROR TABLE-ARGS...
	local want=$1; shift
	expect_refused "$want" dmsetup create bad --table "0 $sz cgsnap $*"
	dmsetup remove bad 2>/dev/null || true
}

bad "requires 4 or more arguments"		/dev/ram0 /dev/ram1 P
bad "Exception store type is not P, PO or N"	/dev/ram0 /dev/ram1 X 8
bad "Invalid chunk size"			/dev/ram0 /dev/ram1 P eight
bad "Chunk size is not a power of 2"		/dev/ram0 /dev/ram1 P 12
bad "Chunk size is too high"			/dev/ram0 /dev/ram1 P 4096
bad "Unrecognised feature requested"		/dev/ram0 /dev/ram1 P 8 1 discard_everything
bad "Invalid number of feature arguments"	/dev/ram0 /dev/ram1 P 8 3 a b c
bad "discard_passdown_origin feature depends on discard_zeroes_cow" \
						/dev/ram0 /dev/ram1 P 8 1 discard_passdown_origin
bad "Too many arguments"			/dev/ram0 /dev/ram1 P 8 1 discard_zeroes_cow extra
bad "COW device cannot be the same as origin device" /dev/ram0 /dev/ram0 P 8
bad "Cannot get origin device"			/dev/nonexistent /dev/ram1 P 8
bad "COW device is smaller than one chunk"	/dev/ram0 "$tiny" N 16
bad "COW device is too small for the snapshot header" /dev/ram0 "$tiny" P 0
bad "COW device is too small for the snapshot header" /dev/ram0 "$small" P 32
bad "no SnAp signature"				/dev/ram0 /dev/ram2 P 8

# the in-tree target refuses the foreign signature too (same devices)
modprobe dm-snapshot
expect_fail dmsetup create bad2 --table "0 $sz snapshot /dev/ram0 /dev/ram2 P 8" 2>/dev/null
dmsetup remove bad2 2>/dev/null || true

# nothing held: the module unloads, and loads again for a good table
rmmod dm_cgsnap || fail "dm-cgsnap did not unload after the refused tables"
dm_snap good cgsnap /dev/ram0 /dev/ram1 P 8
log "good table: $(dmsetup table good)"
expect_fail rmmod dm_cgsnap 2>/dev/null
dmsetup remove good
# Taken, as snapshot takes it, but with a warning: the origin is shared.
mark=$(dmesg_mark)
dm_snap pass cgsnap /dev/ram0 /dev/ram1 P 8 2 discard_zeroes_cow discard_passdown_origin
dmesg_since "$mark" | grep -q 'discard_passdown_origin: discards reach the shared origin [0-9]*:[0-9]*$' ||
	fail "discard_passdown_origin was taken without its warning"
dmsetup remove pass
losetup -d "$tiny" "$small"
cgblk_unload_all
brd_cleanup
