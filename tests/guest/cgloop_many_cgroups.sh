#!/bin/bash
# Proves: 200 cgroups doing I/O at once through one cgloop device each get
# a worker; all workers are reaped after a short idle_timeout_ms; with
# max_workers=1 the cgroups past the first run on the fallback worker and
# are still charged their own I/O in io.stat.
# tier: one 6.1 (long: the full tier runs it everywhere)
# timeout: 600
. "$CGBLK_TOP/tests/lib/guest-lib.sh"

brd_setup 64 1
dev=$(cat /sys/block/ram0/dev)
cgblk_deps cgloop
n=200
cgs=()
for i in $(seq 0 $((n - 1))); do cgs+=(t_$i); done
cg_setup "${cgs[@]}"
workers=/sys/kernel/debug/cgblk/cgloop/cgloop0/workers

# each_cgroup_writes: every cgroup writes 4 KiB at its own offset, at once.
each_cgroup_writes() {
	local i
	for i in $(seq 0 $((n - 1))); do
		cg_run t_$i "dd if=/dev/urandom of=/dev/cgloop0 bs=4k count=1 seek=$i oflag=direct status=none" &
	done
	wait
}

# 1. One worker per cgroup (long idle timeout: none is reaped meanwhile).
insmod "$(ko cgloop)" backing=/dev/ram0 idle_timeout_ms=600000
each_cgroup_writes
cp $workers "$CGBLK_OUT/workers-200.txt"
nr=$(cgloop_attr 0 nr_workers)
log "$nr workers after $n cgroups wrote"
[ "$nr" -eq $n ] || fail "$nr workers for $n cgroups"
[ "$(grep -c '^/t_[0-9]* queued 0 done 1 bytes 4096 ' "$CGBLK_OUT/workers-200.txt")" -eq $n ] ||
	fail "the worker list does not show one 4 KiB request for each cgroup"
rmmod cgloop

# 2. With a short idle timeout all of them are reaped (a deferrable timer:
#    keep the CPUs busy so that it runs).
insmod "$(ko cgloop)" backing=/dev/ram0 idle_timeout_ms=300
each_cgroup_writes
reaped() { busy_cpus 1; [ "$(cgloop_attr 0 nr_workers)" -eq 0 ]; }
wait_for 120 reaped
log "all workers reaped"
rmmod cgloop

# 3. max_workers=1: the fallback worker still charges each cgroup.
insmod "$(ko cgloop)" backing=/dev/ram0 max_workers=1
for i in 0 1 2; do
	cg_run t_$i "dd if=/dev/zero of=/dev/cgloop0 bs=1M count=8 seek=$((8 * i)) oflag=direct status=none" &
done
wait
cp $workers "$CGBLK_OUT/workers-max1.txt"
[ "$(cgloop_attr 0 nr_workers)" -eq 1 ] || fail "$(cgloop_attr 0 nr_workers) workers with max_workers=1"
grep -q '^overflow [1-9]' $workers || fail "nothing went to the fallback worker"
for i in 0 1 2; do
	w=$(io_stat_bytes t_$i "$dev" wbytes)
	log "t_$i: $w bytes written to ram0 by its io.stat"
	[ "$w" -ge $((8 << 20)) ] || fail "t_$i was charged $w bytes for its 8 MiB"
done
rmmod cgloop
cgblk_unload_all
brd_cleanup
cg_cleanup "${cgs[@]}"
