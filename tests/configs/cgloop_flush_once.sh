#!/bin/bash
# Proves (issue 13, smaller list): over a block device, a write that needs
# a flush is flushed once.  blk-mq runs cgloop's flush sequence itself (a
# flush request before a REQ_PREFLUSH write, one after a REQ_FUA write:
# cgloop has a write cache and no FUA) and leaves the flags on the bios:
# cgloop must not clone them onto the data bios, or the lower device
# flushes again.  ext4 on cgloop over a null_blk with a write cache; 20
# files written and fsynced one after the other (each a journal commit
# with REQ_PREFLUSH | REQ_FUA): the lower device completes no more flushes
# than cgloop does (/sys/block/*/stat, flush I/Os).  Before the fix it
# completed one more per commit.
# tier: edges
# timeout: 180
. "$CGBLK_TOP/tests/lib/guest-lib.sh"

modprobe null_blk nr_devices=0
d=/sys/kernel/config/nullb/nullb0
mkdir $d
echo 2 > $d/queue_mode
echo 256 > $d/size
echo 1 > $d/memory_backed
echo 4096 > $d/blocksize
echo 64 > $d/cache_size		# a write cache: flushes reach it
echo 1 > $d/power
wait_for 10 test -b /dev/nullb0
[ "$(cat /sys/block/nullb0/queue/write_cache)" = "write back" ] ||
	fail "null_blk has no write cache: $(cat /sys/block/nullb0/queue/write_cache)"
cgblk_deps cgloop
insmod "$(ko cgloop)" backing=/dev/nullb0
ext4_on /dev/cgloop0 /mnt/f
flushes() { awk '{ print $16 }' "/sys/block/$1/stat"; }
sync
l0=$(flushes nullb0) c0=$(flushes cgloop0)
for i in $(seq 20); do
	echo "$i" > /mnt/f/f$i
	sync /mnt/f/f$i
done
l=$(( $(flushes nullb0) - l0 )) c=$(( $(flushes cgloop0) - c0 ))
log "20 fsyncs: cgloop completed $c flushes, the lower device $l"
[ "$c" -ge 20 ] || fail "only $c flushes reached cgloop for 20 fsyncs"
[ "$l" -ge 20 ] || fail "only $l flushes reached the lower device for 20 fsyncs"
[ "$l" -le "$c" ] || fail "the lower device flushed $l times for cgloop's $c: data bios carried the flush again"
umount /mnt/f
rmmod cgloop
cgblk_unload_all
echo 0 > $d/power
rmdir $d
rmmod null_blk
