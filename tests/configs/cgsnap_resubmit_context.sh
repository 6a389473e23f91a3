#!/bin/bash
# Proves (issue 15, the kernel rule "never wait for I/O admission on a
# shared work item"): the bios that waited for a copy — writes through a
# snapshot queued on a chunk's pending copy, and origin writes through
# cgsnap-origin queued until every snapshot has copied their chunk — are
# resubmitted from the per-cgroup worker of their issuer, never from the
# snapshot's commit work or release work, which every cgroup's copies
# share (a submission may sleep for a tag, wbt or iocost: one cgroup's
# throttled write would hold every other cgroup's commits).  A kprobe with
# a stack trace on submit_bio_noacct records where each submission comes
# from; at least one must come from a worker (cgblk_worker_fn) running
# cgsnap_pool_run, so the probe is proven to see them.  (The commit work's
# own metadata writes, synchronous, are its job and not counted.)
# tier: edges
# timeout: 300
. "$CGBLK_TOP/tests/lib/guest-lib.sh"

T=/sys/kernel/tracing
[ -d $T/events ] || mount -t tracefs nodev $T
[ -w $T/kprobe_events ] || fail "no kprobe events in this kernel"
brd_setup 32 3
fill_random /dev/ram0 32
sz=$(blockdev --getsz /dev/ram0)
cgblk_load dm-cgsnap
cg_setup A

# an optimized kprobe's trampoline stops the unwinder on some kernels
# (the debug kernel's frame-pointer unwinder): plain breakpoints
opt=/proc/sys/debug/kprobes-optimization
opt0=$(cat $opt 2>/dev/null || echo)
[ -z "$opt0" ] || echo 0 > $opt
echo 'p:cgsnap_sbn submit_bio_noacct' >> $T/kprobe_events
echo stacktrace > $T/events/kprobes/cgsnap_sbn/trigger
echo > $T/trace
echo 1 > $T/events/kprobes/cgsnap_sbn/enable

# writes through a snapshot that wait on a chunk's copy: 16 at once into
# each 64 KiB chunk
dmsetup create s1 --table "0 $sz cgsnap /dev/ram0 /dev/ram1 P 128"
cg_run A "fio --name=w --filename=/dev/mapper/s1 --rw=randwrite --bs=4k --iodepth=16 \
	--ioengine=libaio --direct=1 --size=1M --number_ios=512 --output=/dev/null" ||
	fail "A's writes to the snapshot failed"
m=$(dmsetup info -c --noheadings -o minor s1 | tr -d ' ')
waiters=$(sed -n 's/^waiters //p' "/sys/kernel/debug/cgblk/dm_cgsnap/dm-$m@0")
log "s1: $waiters writes waited for a copy"
[ "$waiters" -gt 0 ] || fail "no write waited for a copy: the test proves nothing"
dmsetup remove s1

# origin writes: each one to a fresh chunk waits for the copies
dd if=/dev/zero of=/dev/ram1 bs=64k count=1 oflag=direct status=none
dmsetup create orig --table "0 $sz cgsnap-origin /dev/ram0"
dmsetup create s1 --table "0 $sz cgsnap /dev/ram0 /dev/ram1 P 16"
dmsetup create s2 --table "0 $sz cgsnap /dev/ram0 /dev/ram2 N 16"
cg_run A "fio --name=w --filename=/dev/mapper/orig --rw=write:4k --bs=4k --iodepth=8 \
	--ioengine=libaio --direct=1 --size=2M --output=/dev/null" ||
	fail "A's origin writes failed"
echo 0 > $T/events/kprobes/cgsnap_sbn/enable
cp $T/trace "$CGBLK_OUT/trace.txt"
echo '!stacktrace' > $T/events/kprobes/cgsnap_sbn/trigger
echo '-:cgsnap_sbn' >> $T/kprobe_events
[ -z "$opt0" ] || echo "$opt0" > $opt

# one stack per event: the frames between two "<stack trace>" lines
awk '/<stack trace>/ { if (s != "") print s; s = "" ; next }
     /^ => / { s = s " " $2 } END { if (s != "") print s }' "$CGBLK_OUT/trace.txt" > /scratch/stacks
log "$(wc -l < /scratch/stacks) submissions recorded"
# the commit work's own metadata writes (submit_bio_wait) are its job
grep -E 'cgsnap_commit_work|cgsnap_release_work' /scratch/stacks | grep -v submit_bio_wait > /scratch/shared || true
shared=$(wc -l < /scratch/shared)
worker=$(grep 'cgsnap_pool_run' /scratch/stacks | grep -c 'cgblk_worker_fn' || true)
log "from the commit or release work: $shared; from a worker running cgsnap_pool_run: $worker"
[ "$worker" -gt 0 ] || fail "no submission seen from a worker: the probe sees nothing"
if [ "$shared" -gt 0 ]; then
	head -n 2 /scratch/shared
	fail "$shared bios were submitted from a work item every cgroup shares"
fi
dmsetup remove s1
dmsetup remove s2
dmsetup remove orig
cg_cleanup A
cgblk_unload_all
brd_cleanup
