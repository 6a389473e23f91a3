#!/bin/bash
# Proves: writers through `cgsnap-origin` from three cgroups and readers
# through two snapshots of the origin (8 and 4 KiB chunks; 1-12 KiB reads
# at 512-byte alignment, across chunk boundaries) on the same 24 MiB (new
# chunks to copy all along), with
# the origin and one snapshot suspended and resumed every 2 s, for 2
# minutes on the debug kernel and 45 s on the stock ones, hung-task
# detector at 30 s, neither hang nor corrupt: afterwards both snapshots
# still read as the origin was when they were made, and a verified write
# and read-back through the origin passes (issue 15, item 3: the seed-003
# scenario, reads of origin chunks tracked while copies complete).
# tier: one 6.1 (stress)
# timeout: 600
. "$CGBLK_TOP/tests/lib/guest-lib.sh"

echo 30 > /proc/sys/kernel/hung_task_timeout_secs 2>/dev/null || true
secs=45
[ ! -e /sys/kernel/debug/kmemleak ] || secs=120	# the debug kernel
brd_setup 32 3
fill_random /dev/ram0 32
is_loaded dm_delay || modprobe dm-delay
sz=$(blockdev --getsz /dev/ram0)
# the origin answers after 5 ms, so that copies stay pending
dmsetup create slow --table "0 $sz delay /dev/ram0 0 5"
cgblk_load dm-cgsnap
dm_snap sa cgsnap /dev/mapper/slow /dev/ram1 P 16
sum=$(dd if=/dev/mapper/slow bs=1M count=24 iflag=direct status=none | md5sum | cut -d' ' -f1)
dmsetup create orig --table "0 $sz cgsnap-origin /dev/mapper/slow"
dm_snap sb cgsnap /dev/mapper/slow /dev/ram2 N 8
cg_setup w1 w2 w3

for cg in w1 w2 w3; do
	cg_run $cg "fio --name=w --filename=/dev/mapper/orig --rw=randwrite --bsrange=512-16k \
		--ioengine=libaio --iodepth=8 --direct=1 --size=24M --norandommap \
		--time_based --runtime=$secs --numjobs=2 > $CGBLK_OUT/fio-$cg.txt" &
done
for sn in sa sb; do
	fio --name=r --filename=/dev/mapper/$sn --rw=randread --bsrange=1k-12k --blockalign=512 \
		--ioengine=libaio --iodepth=8 --direct=1 --size=24M --norandommap \
		--time_based --runtime=$secs --numjobs=2 > "$CGBLK_OUT/fio-read-$sn.txt" &
done
cycles=0
end=$((SECONDS + secs - 5))
while [ $SECONDS -lt $end ]; do
	sleep 2
	dmsetup suspend orig || fail "suspend of the origin with I/O in flight failed"
	dmsetup suspend sa || fail "suspend of a snapshot with I/O in flight failed"
	sleep 0.3
	dmsetup resume sa || fail "resume failed"
	dmsetup resume orig || fail "resume of the origin failed"
	cycles=$((cycles + 1))
done
wait || fail "a stress job failed"
log "stress: $cycles suspend/resume cycles; sa $(dm_info sa); sb $(dm_info sb)"
grep -h "io=" "$CGBLK_OUT"/fio-*.txt | head -n 5
for sn in sa sb; do
	[ "$(dd if=/dev/mapper/$sn bs=1M count=24 iflag=direct status=none | md5sum | cut -d' ' -f1)" = "$sum" ] ||
		fail "$sn does not read as the origin was when it was made"
done
grep -E '^(copies|waiters) ' /sys/kernel/debug/cgblk/dm_cgsnap/dm-*@0
copies=$(sed -n 's/^copies //p' "/sys/kernel/debug/cgblk/dm_cgsnap/dm-$(dmsetup info -c --noheadings -o minor sa | tr -d ' ')@0")
[ "$copies" -ge 128 ] || fail "only $copies copies into sa: the test made too few to race"
fio_verify /dev/mapper/orig 4M
for sn in sa sb; do
	[ "$(dd if=/dev/mapper/$sn bs=1M count=24 iflag=direct status=none | md5sum | cut -d' ' -f1)" = "$sum" ] ||
		fail "$sn changed with the verified writes"
done
dmsetup remove sb
dmsetup remove orig
dmsetup remove sa
dmsetup remove slow
cg_cleanup w1 w2 w3
cgblk_unload_all
brd_cleanup
