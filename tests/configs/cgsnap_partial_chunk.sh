#!/bin/bash
# Proves: an origin whose size is not a multiple of the chunk size (a
# partition, an image, `$(blockdev --getsz ...)` tables) works to its last
# sector (issue 13.1): a 512-byte direct write to the last sector, and a
# write that crosses into the last, partial chunk, succeed; the snapshot
# stays valid; no I/O runs past the origin's end; the last partial chunk
# reads back the same before and after, and the same as through the in-tree
# `snapshot` target doing the same writes on the same origin; for P, the
# in-tree target reads cgsnap's store with the same checksum and status,
# and cgsnap reads it back after.  Origins of 131071 and 131057 sectors
# (last chunk of 15 and 1 sectors, chunk 16), a `linear` table over a brd
# ramdisk; P and N.
# timeout: 600
# tier: one 5.10 (the full tier runs it everywhere)
. "$CGBLK_TOP/tests/lib/guest-lib.sh"

brd_setup 64 3
fill_random /dev/ram0 64
modprobe dm-snapshot
cgblk_load dm-cgsnap
dd if=/dev/urandom of=/scratch/w bs=4k count=1 status=none

# wr DEV SECTOR COUNT: COUNT sectors of /scratch/w written at SECTOR
wr() {
	dd if=/scratch/w of="$1" bs=512 count="$3" seek="$2" oflag=direct status=none ||
		fail "$1: direct write of $3 sector(s) at sector $2 failed (origin $sz sectors, $type)"
}
tail_md5() {	# DEV: checksum of the last 64 sectors, read direct
	dd if="$1" bs=512 skip=$((sz - 64)) count=64 iflag=direct status=none | md5sum | cut -d' ' -f1
}

for sz in 131071 131057; do
	last=$(( (sz - 1) / 16 * 16 ))		# first sector of the partial chunk
	cross=$(( sz - (last - 3) < 8 ? sz - (last - 3) : 8 ))	# sectors from last - 3, to the end at most
	for type in P N; do
		mark=$(dmesg_mark)
		dmsetup create orig --table "0 $sz linear /dev/ram0 0"
		blockdev --setro /dev/mapper/orig
		dd if=/dev/zero of=/dev/ram1 bs=1M count=1 oflag=direct status=none
		dd if=/dev/zero of=/dev/ram2 bs=1M count=1 oflag=direct status=none
		dm_snap c cgsnap /dev/mapper/orig /dev/ram1 $type 16
		dm_snap k snapshot /dev/mapper/orig /dev/ram2 $type 16
		[ -b /dev/mapper/c ] && [ -b /dev/mapper/k ] || fail "no device nodes"
		before=$(tail_md5 /dev/mapper/orig)
		[ "$(tail_md5 /dev/mapper/c)" = "$before" ] ||
			fail "$sz/$type: the last partial chunk reads differently from the origin before any write"
		for dev in /dev/mapper/k /dev/mapper/c; do
			if [ $sz = 131071 ]; then
				# the copy of the partial chunk is made by the last-sector write
				wr $dev $((sz - 1)) 1
				wr $dev $((last - 3)) $cross
			else
				# ...and here by a write crossing into it
				wr $dev $((last - 3)) $cross
				wr $dev $((sz - 1)) 1
			fi
		done
		[ "$(dm_info c)" != Invalid ] || fail "$sz/$type: cgsnap went Invalid"
		[ "$(dm_info c)" = "$(dm_info k)" ] ||
			fail "$sz/$type: status: cgsnap $(dm_info c), snapshot $(dm_info k)"
		echo 3 > /proc/sys/vm/drop_caches
		ctail=$(tail_md5 /dev/mapper/c)
		[ "$ctail" = "$(tail_md5 /dev/mapper/k)" ] ||
			fail "$sz/$type: the last 64 sectors differ between cgsnap and snapshot"
		[ "$ctail" != "$before" ] || fail "$sz/$type: the writes did not reach the snapshot"
		csum=$(md5 /dev/mapper/c)
		[ "$csum" = "$(md5 /dev/mapper/k)" ] || fail "$sz/$type: cgsnap and snapshot differ"
		cmp -n 512 /scratch/w <(dd if=/dev/mapper/c bs=512 skip=$((sz - 1)) count=1 iflag=direct status=none) ||
			fail "$sz/$type: the last sector does not read back as written"
		info=$(dm_info c)
		log "$sz/$type: cgsnap $info, snapshot $(dm_info k)"
		dmsetup remove c
		dmsetup remove k
		if [ $type = P ]; then
			dm_snap k snapshot /dev/mapper/orig /dev/ram1 P 16
			[ "$(md5 /dev/mapper/k)" = "$csum" ] || fail "$sz: snapshot reads cgsnap's store differently"
			[ "$(dm_info k)" = "$info" ] || fail "$sz: snapshot's status $(dm_info k) on cgsnap's store, cgsnap's $info"
			dmsetup remove k
			dm_snap c cgsnap /dev/mapper/orig /dev/ram1 P 16
			[ "$(md5 /dev/mapper/c)" = "$csum" ] || fail "$sz: cgsnap reads its store back differently"
			dmsetup remove c
		fi
		dmsetup remove orig
		if dmesg_since "$mark" | grep -E 'beyond end of device|Invalidating snapshot'; then
			fail "$sz/$type: I/O past the origin's end, or an invalidation"
		fi
	done
done
cgblk_unload_all
rmmod dm_snapshot
brd_cleanup
