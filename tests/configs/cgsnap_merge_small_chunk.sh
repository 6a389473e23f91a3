#!/bin/bash
# Proves: cgsnap-merge merges stores whose chunk is smaller than a page
# (chunk 1, 2 and 4 sectors, which cgsnap and in-tree snapshot accept).
# One chunk first, then runs of 16 and 64 KiB: with chunk 2 and 4 each run
# starts inside a page of the merge's buffer and spans one page more than
# its length; it is read and written in one bio each, the merge completes,
# and the origin reads as the snapshot did.  (The bio had room for the
# pages of the run's length only: "merge failed (-12)" on every retry when
# the 1 MiB buffer is vmalloc()ed, which kvmalloc() falls back to when
# memory is fragmented.  A fresh guest's buffer is physically contiguous,
# its pages merge into one bvec, and this test passed before the fix too.)
# timeout: 300
# tier: edges
. "$CGBLK_TOP/tests/lib/guest-lib.sh"

brd_setup 16 2
cgblk_load dm-cgsnap
sectors=$((16384 - 3))		# the last chunk is partial for chunk 2 and 4
fill_random /dev/ram0 8
dmsetup create lv --table "0 $sectors cgsnap-origin /dev/ram0"
merged() {
	dmsetup status lv | awk '{ split($4, a, "/"); exit !(a[1] == $5) }'
}
for chunk in 1 2 4; do
	dd if=/dev/zero of=/dev/ram1 bs=1M count=1 oflag=direct status=none
	dmsetup suspend lv
	dmsetup create snap --table "0 $sectors cgsnap /dev/ram0 /dev/ram1 P $chunk"
	dmsetup resume lv
	w() { dd if=/dev/urandom of=/dev/mapper/snap bs=512 seek="$1" count="$2" oflag=direct status=none; }
	w 0 "$chunk"		# one chunk: the runs after it start at its end
	w 1024 32		# 16 KiB
	w 4096 128		# 64 KiB, right after it in the store
	w $((sectors - 1)) 1	# the last sector
	dd if=/dev/urandom of=/dev/mapper/lv bs=512 seek=6000 count=16 oflag=direct status=none
	expected=$(md5 /dev/mapper/snap)
	[ "$expected" != "$(md5 /dev/mapper/lv)" ] || fail "chunk $chunk: the snapshot reads as the origin"
	mark=$(dmesg_mark)
	dmsetup suspend lv
	dmsetup remove snap
	dmsetup reload lv --table "0 $sectors cgsnap-merge /dev/ram0 /dev/ram1 P $chunk"
	dmsetup resume lv
	i=0
	until merged; do
		case $(dmsetup status lv) in
		*Merge\ failed*) fail "chunk $chunk: Merge failed; kernel: $(dmesg_since "$mark" | tr '\n' '|')" ;;
		esac
		i=$((i + 1))
		[ $i -lt 300 ] || fail "chunk $chunk: no merge after 60 s: $(dmsetup status lv)"
		sleep 0.2
	done
	dmesg_since "$mark" | grep -q "cgsnap: .*merge complete" ||
		fail "chunk $chunk: no 'merge complete': $(dmesg_since "$mark" | tr '\n' '|')"
	[ "$(md5 /dev/mapper/lv)" = "$expected" ] || fail "chunk $chunk: the merged origin is not the snapshot"
	log "chunk $chunk: merged: $(dmsetup status lv | cut -d' ' -f4-)"
	dmsetup reload lv --table "0 $sectors cgsnap-origin /dev/ram0"
	dmsetup resume lv
done
dmsetup remove lv
cgblk_unload_all
brd_cleanup
