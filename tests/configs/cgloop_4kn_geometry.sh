#!/bin/bash
# Proves: over a 4Kn block device (scsi_debug sector_size=4096) enable
# refuses every geometry the lower device cannot address — offset=512,
# logical_block_size=512, a size that is not a multiple of 4096, also with
# direct_io=0 — each with one kernel line and nothing enabled; direct_io=0
# does not change the geometry there; the default geometry, from configfs
# and from backing=, advertises 4096-byte blocks and data lands at offset +
# position on the lower device, byte for byte (issue 13.2).
# timeout: 300
# tier: edges
. "$CGBLK_TOP/tests/lib/guest-lib.sh"

cfg=/sys/kernel/config/cgloop
sdbg_setup 4096 64
lower=$SDBG
log "lower device $lower: 4096-byte logical blocks"

cgblk_load cgloop
mkdir $cfg/k
d=$cfg/k
idx=$(cat $d/index)
dev=/dev/cgloop$idx
echo "$lower" > $d/backing

errors=0
# refused "ATTR=VALUE..." PATTERN: with those attributes set (the others at
# their defaults), enable fails, the kernel says PATTERN, nothing is enabled.
refused() {
	local setting mark
	for setting in $1; do echo "${setting#*=}" > "$d/${setting%%=*}"; done
	mark=$(dmesg_mark)
	if echo 1 > $d/enable 2>/dev/null; then
		log "FAILED: enabled over 4Kn with $1: logical_block_size $(cat /sys/block/cgloop$idx/queue/logical_block_size)"
		errors=$((errors + 1))
		echo 0 > $d/enable
	else
		dmesg_since "$mark" | grep -E "cgloop: .*$2" ||
			{ log "FAILED: no kernel line '$2' for $1"; errors=$((errors + 1)); }
		[ "$(dmesg_since "$mark" | grep -c cgloop)" = 1 ] ||
			{ log "FAILED: not one kernel line for $1:"; dmesg_since "$mark"; errors=$((errors + 1)); }
		[ "$(cat $d/enable)" = 0 ] || { log "FAILED: $1 left it enabled"; errors=$((errors + 1)); }
		[ ! -e /sys/block/cgloop$idx ] && [ ! -e $dev ] ||
			{ log "FAILED: $1 left cgloop$idx"; errors=$((errors + 1)); }
	fi
	echo 0 > $d/offset; echo 0 > $d/size; echo 0 > $d/logical_block_size; echo 1 > $d/direct_io
}
refused "offset=512" "backing $lower: offset 512 and size 0 must be multiples of the logical block size 4096"
refused "offset=512 direct_io=0" "backing $lower: offset 512 and size 0 must be multiples of the logical block size 4096"
refused "logical_block_size=512" "backing $lower: logical_block_size 512 is below the device's 4096"
refused "logical_block_size=512 direct_io=0" "backing $lower: logical_block_size 512 is below the device's 4096"
refused "size=12800" "backing $lower: offset 0 and size 12800 must be multiples of the logical block size 4096"
refused "size=12800 direct_io=0" "backing $lower: offset 0 and size 12800 must be multiples of the logical block size 4096"
[ $errors = 0 ] || fail "$errors bad geometries over a 4Kn device were not refused as they must be"

# check_window DEV OFFSET: DEV has 4096-byte blocks, refuses a 512-byte
# direct write, and a write at block 3 lands at OFFSET + 3 * 4096 on the
# lower device; the blocks around it stay zero.
check_window() {
	local dev=$1 off=$2 lbs
	lbs=$(cat /sys/block/${dev#/dev/}/queue/logical_block_size)
	[ "$lbs" = 4096 ] || fail "$dev advertises $lbs-byte blocks over a 4Kn device"
	[ "$(blockdev --getss "$dev")" = 4096 ] || fail "$dev: BLKSSZGET is not 4096"
	expect_fail dd if=/scratch/pat of="$dev" bs=512 count=1 seek=1 oflag=direct status=none
	dd if=/scratch/pat of="$dev" bs=4096 seek=3 count=4 oflag=direct status=none
	cmp <(dd if="$lower" bs=4096 skip=$((off / 4096 + 3)) count=4 iflag=direct status=none) /scratch/pat ||
		fail "$dev: data is not at offset $off + 12288 on $lower"
	cmp <(dd if="$dev" bs=4096 skip=3 count=4 iflag=direct status=none) /scratch/pat ||
		fail "$dev: reads back other data"
	cmp -n 4096 <(dd if="$lower" bs=4096 skip=$((off / 4096 + 2)) count=1 iflag=direct status=none) /dev/zero ||
		fail "$dev: the block before the write changed on $lower"
	cmp -n 4096 <(dd if="$lower" bs=4096 skip=$((off / 4096 + 7)) count=1 iflag=direct status=none) /dev/zero ||
		fail "$dev: the block after the write changed on $lower"
}
head -c 16384 /dev/urandom > /scratch/pat

# direct_io=0 means nothing over a block device: still 4096-byte blocks.
echo 8192 > $d/offset
echo 0 > $d/direct_io
echo 1 > $d/enable
[ "$(cat /sys/block/cgloop$idx/cgloop/size)" = $((64 * 1024 * 1024 - 8192)) ] ||
	fail "size $(cat /sys/block/cgloop$idx/cgloop/size) at offset 8192"
check_window $dev 8192
echo 0 > $d/enable
rmdir $d
rmmod cgloop

# backing=: the default geometry.
dd if=/dev/zero of="$lower" bs=1M count=1 oflag=direct status=none
insmod "$(ko cgloop)" backing="$lower"
check_window /dev/cgloop0 0
rmmod cgloop
cgblk_unload_all
sdbg_cleanup
