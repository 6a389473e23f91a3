#!/bin/bash
# Proves (issue 13.13): a cgroup whose COW writes are throttled does not
# stall another cgroup's copies by holding the copy buffers, when memory is
# free but fragmented (no free 1 MiB block: tests/modules cgblk_test_frag,
# compaction off).  1 MiB chunks; A (io.max 256 KiB/s of writes on the COW
# device) keeps 16 first writes to fresh chunks in flight, each holding a
# buffer for about 4 s; then B writes 8 fresh chunks at queue depth 1.  B
# must finish in under 30 s (it takes about a second).  Before the fix a
# buffer came from kmalloc(GFP_NOWAIT), with no vmalloc fallback and no
# 1 MiB block to be had, or from a reserve of 2 that A's copies held: B's
# copies queued behind A's for a buffer and its 8 writes did not finish in
# 40 s.
# tier: one 7.3 (the full tier runs it everywhere)
# timeout: 400
. "$CGBLK_TOP/tests/lib/guest-lib.sh"

brd_setup 96 2
dd if=/dev/urandom of=/dev/ram0 bs=1M count=96 oflag=direct status=none
dm_snap c cgsnap /dev/ram0 /dev/ram1 P 2048
cg_setup a b
echo "$(cat /sys/block/ram1/dev) wbps=262144" > /sys/fs/cgroup/a/io.max

sync
echo 3 > /proc/sys/vm/drop_caches
echo 1 > /proc/sys/vm/drop_caches	# again, after the freeing it set off
old_thr=$(cat /proc/sys/vm/extfrag_threshold)
pro=/proc/sys/vm/compaction_proactiveness
old_pro=$(cat $pro 2>/dev/null || true)
restore() {	# the suite runs in one boot: leave memory as it was
	rmmod cgblk_test_frag 2>/dev/null
	echo "$old_thr" > /proc/sys/vm/extfrag_threshold
	[ -z "$old_pro" ] || echo "$old_pro" > $pro
}
trap restore EXIT
echo 1000 > /proc/sys/vm/extfrag_threshold
[ -z "$old_pro" ] || echo 0 > $pro
mark=$(dmesg_mark)
insmod "$(ko cgblk_test_frag)" || fail "cgblk_test_frag did not load"
log "$(dmesg_since "$mark" | grep 'cgblk_test_frag:')"
log "free blocks by order (Normal/DMA32): $(grep -E 'Normal|DMA32' /proc/buddyinfo | tr -s ' ')"
# /proc/buddyinfo: "Node 0, zone NAME" and the free blocks of order 0-10.
big=$(awk '$4 == "DMA32" || $4 == "Normal" { for (i = 13; i <= NF; i++) n += $i } END { print n + 0 }' /proc/buddyinfo)
# Memory freed late by the tests before may come back as a block or two:
# A's copies take those; the vmalloc count at the end is what proves it.
[ "$big" -le 4 ] || fail "memory not fragmented: $big free blocks of 1 MiB or more"

# A: 16 fresh chunks (4 KiB at the start of each), all in flight at once.
cg_run a fio --name=a --filename=/dev/mapper/c --rw=write:1020k --bs=4k \
	--direct=1 --ioengine=libaio --iodepth=16 --size=16M \
	--output="$CGBLK_OUT/fio-a.txt" &
apid=$!
# Until two of A's origin reads (1 MiB each) are done: A holds buffers.
a_reads() { io_stat_bytes a "$(cat /sys/block/ram0/dev)" rbytes; }
a_holds() { [ "$(a_reads)" -ge 2097152 ]; }
wait_for 60 a_holds ||
	fail "A's copies did not start: $(cat /sys/fs/cgroup/a/io.stat)"
start=$SECONDS
rc=0
cg_run b timeout 40 fio --name=b --filename=/dev/mapper/c --rw=write:1020k --bs=4k \
	--direct=1 --ioengine=psync --size=8M --offset=64M \
	--output="$CGBLK_OUT/fio-b.txt" || rc=$?
took=$((SECONDS - start))
log "B's 8 first writes to fresh 1 MiB chunks took ${took}s (fio rc $rc) while A's were throttled; A's origin reads so far: $(a_reads) B"
echo "$(cat /sys/block/ram1/dev) wbps=max" > /sys/fs/cgroup/a/io.max
wait $apid || fail "A's fio failed: $(tail -n 5 "$CGBLK_OUT/fio-a.txt")"
[ "$rc" = 0 ] || fail "B's 8 writes did not finish in 40 s (fio rc $rc): its copies waited for A's buffers"
[ "$took" -lt 30 ] || fail "B's 8 writes took ${took}s"
st=$(cat /sys/kernel/debug/cgblk/dm_cgsnap/dm-*@0)
log "$(echo "$st" | grep -E '^(copies|buffer|/a|/b)' | tr '\n' ';')"
vm=$(echo "$st" | awk '$1 == "buffers_vmalloc" { print $2 }')
[ "${vm:-0}" -ge 4 ] || fail "only ${vm:-0} copy buffers came from vmalloc: the fragmented case was hardly tested"
case "$(dm_info c)" in
*Invalid*|*Overflow*) fail "snapshot status: $(dm_info c)" ;;
esac
dmsetup remove c
restore
trap - EXIT
rmmod dm_cgsnap
cgblk_unload_all
cg_cleanup a b
brd_cleanup
