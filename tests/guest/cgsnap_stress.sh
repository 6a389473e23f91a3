#!/bin/bash
# Proves: many writers on the same chunks, reads that span chunk
# boundaries, and dmsetup suspend/resume with I/O in flight, for 2 minutes
# on the debug kernel (lockdep, KASAN; CI runs it there) and 45 s on the
# stock ones, with the hung-task detector at 30 s, neither hang nor
# corrupt: afterwards a
# verified write and read-back passes and the origin is unchanged.  The
# split-read-while-copying case of the 2014 dm-snapshot deadlock is in it
# (unaligned reads across chunks while writes to the same chunks copy).
# tier: one 6.1 (stress)
# timeout: 600
. "$CGBLK_TOP/tests/lib/guest-lib.sh"

echo 30 > /proc/sys/kernel/hung_task_timeout_secs 2>/dev/null || true
secs=45
[ ! -e /sys/kernel/debug/kmemleak ] || secs=120	# the debug kernel
brd_setup 64 2
fill_random /dev/ram0 64
blockdev --setro /dev/ram0
origin_md5=$(md5 /dev/ram0)
# The origin answers after 5 ms (dm-delay), so that a copy stays pending
# long enough for other writes to meet it: over a bare RAM disk a copy
# can end within its own worker's run, and the writers may never meet one.
is_loaded dm_delay || modprobe dm-delay
dmsetup create --readonly slow --table "0 $(blockdev --getsz /dev/ram0) delay /dev/ram0 0 5"
dm_snap st cgsnap /dev/mapper/slow /dev/ram1 P 8
cg_setup w1 w2 w3

# writers from three cgroups on the same 2 MiB (256 chunks of 4 KiB),
# unaligned readers over it
for cg in w1 w2 w3; do
	cg_run $cg "fio --name=w --filename=/dev/mapper/st --rw=randwrite --bsrange=512-16k \
		--ioengine=libaio --iodepth=8 --direct=1 --size=2M --norandommap \
		--time_based --runtime=$secs --numjobs=2 > $CGBLK_OUT/fio-$cg.txt" &
done
fio --name=r --filename=/dev/mapper/st --rw=randread --bsrange=1k-12k --blockalign=512 \
	--ioengine=libaio --iodepth=8 --direct=1 --size=2M --norandommap \
	--time_based --runtime=$secs --numjobs=2 > "$CGBLK_OUT/fio-read.txt" &
cycles=0
end=$((SECONDS + secs - 5))
while [ $SECONDS -lt $end ]; do
	sleep 2
	dmsetup suspend st || fail "suspend with I/O in flight failed"
	sleep 0.3
	dmsetup resume st || fail "resume failed"
	cycles=$((cycles + 1))
done
wait || fail "a stress job failed"
log "stress: $cycles suspend/resume cycles; $(dm_info st)"
grep -h "io=" "$CGBLK_OUT"/fio-*.txt | head -n 4
cat /sys/kernel/debug/cgblk/dm_cgsnap/dm-*@0 > "$CGBLK_OUT/cgsnap-stats.txt"
grep -Eq '^waiters [1-9]' "$CGBLK_OUT/cgsnap-stats.txt" || fail "no write ever waited for a copy: the test did not make them meet"
fio_verify /dev/mapper/st 4M
dmsetup remove st
dm_snap st cgsnap /dev/mapper/slow /dev/ram1 P 8
fio --name=write --filename=/dev/mapper/st --size=4M --rw=randwrite --bsrange=512-1M \
	--ioengine=psync --verify=crc32c --verify_state_save=0 --randrepeat=1 \
	--verify_only --output="$CGBLK_OUT/fio-after-reload.txt" ||
	fail "the verified data did not survive remove/create"
dmsetup remove st
dmsetup remove slow
[ "$(md5 /dev/ram0)" = "$origin_md5" ] || fail "the origin changed"
blockdev --setrw /dev/ram0
cgblk_unload_all
brd_cleanup
