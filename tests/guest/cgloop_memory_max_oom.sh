#!/bin/bash
# Proves: memory.max holds through cgloop.  The seed's demonstration: a
# cgroup with memory.max=64M (no swap) writes 256 MiB through a device
# backed by a file on tmpfs; the tmpfs pages are charged to that cgroup, so
# it is OOM-killed (the in-tree loop of 5.10 lets it write all 256 MiB).
# tier: core
# timeout: 300
. "$CGBLK_TOP/tests/lib/guest-lib.sh"

cg_setup t_oom
cg=/sys/fs/cgroup/t_oom
echo 64M > $cg/memory.max
[ ! -e $cg/memory.swap.max ] || echo 0 > $cg/memory.swap.max
mkdir /scratch/tmpfs
mount -t tmpfs -o size=512m tmpfs /scratch/tmpfs
truncate -s 512m /scratch/tmpfs/backing
cgblk_load cgloop backing=/scratch/tmpfs/backing

kills() { awk '$1 == "oom_kill" {print $2}' $cg/memory.events; }
before=$(kills)
cg_run t_oom "dd if=/dev/zero of=/dev/cgloop0 bs=1M count=256 status=none; sync" || true
after=$(kills)
used=$(du -sm /scratch/tmpfs/backing | cut -f1)
log "oom_kill $before -> $after; the backing file holds $used MiB"
[ "$after" -gt "$before" ] || fail "no OOM kill: the cgroup wrote through cgloop past memory.max"

# Let the rest of the dirty pages drain before tearing down.
echo max > $cg/memory.max
sync
rmmod cgloop
cgblk_unload_all
umount /scratch/tmpfs
cg_cleanup t_oom
