#!/bin/bash
# Proves (issue 13.10): a copy's COW write is never submitted from a
# completion that cgblk_offload runs on its shared per-CPU work item, where
# waiting for a tag would stall every deferred completion of that CPU —
# including the ones that would free the tag.  The configuration that
# deadlocked: origin a null_blk completing in hard IRQ, COW device a cgloop
# with complete_in_task=1 and queue_depth=2 over another such null_blk; fio
# writes 4 KiB to fresh 8 KiB chunks (each needs an origin read) from 2 jobs
# at queue depth 32.  It must finish and verify; before the fix it hung
# (the hung-task detector fails the test).
# tier: edges
# timeout: 300
. "$CGBLK_TOP/tests/lib/guest-lib.sh"

nullb_setup nullb0 64 2		# origin: hard-IRQ completions
nullb_setup nullb1 64 2		# cgloop's backing: likewise
cgblk_deps cgblk_offload
insmod "$(ko cgblk_offload)" native=0
insmod "$(ko cgloop)" backing=/dev/nullb1 complete_in_task=1 queue_depth=2
[ "$(cgloop_attr 0 complete_in_task)" = 1 ] || fail "cgloop0 does not say complete_in_task=1"
dd if=/dev/urandom of=/dev/nullb0 bs=1M count=48 oflag=direct status=none
cgblk_load dm-cgsnap
dm_snap c cgsnap /dev/nullb0 /dev/cgloop0 P 16
d0=$(offload_stat deferred)
start=$SECONDS
# Two jobs, each on its own 16 MiB of fresh chunks: write 4 KiB, skip 4 KiB.
fio --name=w --filename=/dev/mapper/c --rw=write:4k --bs=4k --direct=1 \
	--ioengine=libaio --iodepth=32 --numjobs=2 --size=16M --offset_increment=16M \
	--verify=crc32c --do_verify=1 --verify_state_save=0 \
	--output="$CGBLK_OUT/fio.txt" || fail "fio failed: $(tail -n 5 "$CGBLK_OUT/fio.txt")"
took=$((SECONDS - start))
st=$(cat /sys/kernel/debug/cgblk/dm_cgsnap/dm-*@0)
copies=$(echo "$st" | awk '$1 == "copies" { print $2 }')
log "fio wrote and verified 2 x 8 MiB in ${took}s through cgsnap over cgloop(complete_in_task=1, queue_depth=2): $copies copies; $(( $(offload_stat deferred) - d0 )) completions went through cgblk_offload"
[ "$copies" -ge 4096 ] || fail "only $copies copies for 4096 fresh-chunk writes"
dmsetup remove c
rmmod dm_cgsnap cgloop cgblk_offload
cgblk_unload_all
for n in nullb1 nullb0; do
	echo 0 > "/sys/kernel/config/nullb/$n/power"
	rmdir "/sys/kernel/config/nullb/$n"
done
rmmod null_blk
