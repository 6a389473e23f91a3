#!/bin/bash
# Proves: a REQ_NOWAIT write that would have to wait for a copy ends with
# EAGAIN (BLK_STS_AGAIN) and changes nothing; once the chunk's exception
# is complete, the same NOWAIT write goes through; NOWAIT reads never wait.
# Sent as O_DIRECT pwritev2/preadv2 with RWF_NOWAIT.  On a kernel whose dm
# core or backing device takes no REQ_NOWAIT, every such bio fails with
# EOPNOTSUPP before it reaches the target, for cgsnap as for a linear
# table on the same device: that is checked instead.
# tier: edges
# timeout: 180
. "$CGBLK_TOP/tests/lib/guest-lib.sh"

nowait() { python3 "$CGBLK_TOP/tests/lib/nowait_io.py" "$@"; }
block() {	# DEV OFFSET: the 4 KiB block's checksum
	dd if="$1" bs=4k count=1 skip=$(($2 / 4096)) iflag=direct status=none | md5sum | cut -d' ' -f1
}

brd_setup 16 2
fill_random /dev/ram0 16
blockdev --setro /dev/ram0
dd if=/dev/zero of=/dev/ram1 bs=1M count=1 oflag=direct status=none
dm_snap s cgsnap /dev/ram0 /dev/ram1 P 16
dmsetup create lin --table "0 $(blockdev --getsz /dev/ram1) linear /dev/ram1 0"

r=$(nowait /dev/mapper/s read 0)
if [ "$r" = EOPNOTSUPP ]; then
	lr=$(nowait /dev/mapper/lin read 0)
	[ "$lr" = EOPNOTSUPP ] || fail "NOWAIT read: cgsnap $r, but linear $lr"
	log "this kernel's dm (or brd) takes no REQ_NOWAIT bios: cgsnap and linear both refuse them ($r)"
else
	[ "$r" = ok ] || fail "NOWAIT read of an unwritten chunk: $r"
	st0=$(dm_info s)
	orig=$(block /dev/ram0 0)
	r=$(nowait /dev/mapper/s write 0)
	[ "$r" = EAGAIN ] || fail "NOWAIT write to a chunk that needs a copy: $r, not EAGAIN"
	[ "$(block /dev/mapper/s 0)" = "$orig" ] || fail "a refused NOWAIT write changed the snapshot"
	[ "$(dm_info s)" = "$st0" ] || fail "a refused NOWAIT write allocated: $st0 -> $(dm_info s)"
	# the copy made by an ordinary write; then NOWAIT writes go through
	dd if=/dev/zero of=/dev/mapper/s bs=4k count=1 oflag=direct status=none
	r=$(nowait /dev/mapper/s write 4096 0x5a)
	[ "$r" = ok ] || fail "NOWAIT write to a chunk with a complete exception: $r"
	[ "$(block /dev/mapper/s 4096)" = "$(head -c 4096 /dev/zero | tr '\0' '\132' | md5sum | cut -d' ' -f1)" ] ||
		fail "the NOWAIT write's data is not on the snapshot"
	r=$(nowait /dev/mapper/s read 4096)
	[ "$r" = ok ] || fail "NOWAIT read of a copied chunk: $r"
	log "NOWAIT: EAGAIN where a copy was needed, ok after it ($(dm_info s))"
fi
dmsetup remove lin
dmsetup remove s
blockdev --setrw /dev/ram0
cgblk_unload_all
brd_cleanup
