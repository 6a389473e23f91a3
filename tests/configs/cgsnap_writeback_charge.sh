#!/bin/bash
# Proves (issue 13.11): buffered writes to a cgsnap snapshot that the
# flusher (or another task's sync) writes back have their copies charged to
# the cgroup that dirtied the pages, as dm-linear charges its writeback:
# cgroup A dirties 4 KiB in each of 512 fresh chunks through the page cache,
# another process keeps the device open (so A's close does not sync it),
# and root runs sync.  A's io.stat on the origin must hold the copies'
# reads, and debugfs must count the copies under /a.  dm-linear is measured
# first on the same devices: its writeback reaching A's io.stat proves the
# setup (cgroup writeback works here), so a cgsnap failure is cgsnap's.
# tier: edges
# timeout: 300
. "$CGBLK_TOP/tests/lib/guest-lib.sh"

brd_setup 64 2
fill_random /dev/ram0 64
odev=$(cat /sys/block/ram0/dev)
CHUNK=16			# sectors: 8 KiB
N=512				# fresh chunks A dirties
sz=$(blockdev --getsz /dev/ram0)
cg_setup a

# dirty_in_a DEV: A writes 4 KiB into each of N chunks, buffered, and exits
# without syncing; the caller holds DEV open so that the close does not
# write back either.
dirty_in_a() {
	cg_run a "fio --name=w --filename=$1 --rw=write:4k --bs=4k --ioengine=psync \
		--direct=0 --size=$((N * CHUNK * 512)) --output=/dev/null"
}

# --- dm-linear: the setup's proof ---
dmsetup create lin --table "0 $sz linear /dev/ram1 0"
exec 3< /dev/mapper/lin
rb0=$(io_stat_bytes a "$(cat /sys/block/ram1/dev)" wbytes)
dirty_in_a /dev/mapper/lin
sync
wb=$(( $(io_stat_bytes a "$(cat /sys/block/ram1/dev)" wbytes) - rb0 ))
exec 3<&-
dmsetup remove lin
log "dm-linear: A's io.stat on the lower device after root's sync: $wb B written of $((N * 4096))"
[ "$wb" -ge $((N * 4096 * 9 / 10)) ] ||
	fail "setup: dm-linear's writeback was not charged to A ($wb B): cgroup writeback does not reach A here"

# --- cgsnap ---
dd if=/dev/zero of=/dev/ram1 bs=1M count=1 oflag=direct status=none
dm_snap c cgsnap /dev/ram0 /dev/ram1 P $CHUNK
exec 3< /dev/mapper/c
rb0=$(io_stat_bytes a "$odev" rbytes)
dirty_in_a /dev/mapper/c
sync
rb=$(( $(io_stat_bytes a "$odev" rbytes) - rb0 ))
st=$(cat /sys/kernel/debug/cgblk/dm_cgsnap/dm-*@0)
echo "$st" > "$CGBLK_OUT/cgsnap-stats.txt"
exec 3<&-
all=$(echo "$st" | awk '$1 == "copies" { print $2 }')
# the per-cgroup table, not the worker list below it (which names /a too)
in_a=$(echo "$st" | awk '$1 == "workers:" { exit } $1 == "/a" { print $2; exit }')
log "cgsnap: $all copies, ${in_a:-0} of them under /a; A's io.stat: $rb B read from the origin"
log "$(echo "$st" | sed -n '/^cgroup /,$p' | tr '\n' ';')"
[ "${all:-0}" -ge $((N * 9 / 10)) ] || fail "only ${all:-0} copies for $N dirtied chunks"
[ "${in_a:-0}" -ge $((all * 9 / 10)) ] ||
	fail "copies of A's written-back pages charged elsewhere: ${in_a:-0} of $all under /a ($(echo "$st" | sed -n '/^cgroup /,$p' | tr '\n' ';'))"
[ "$rb" -ge $((all * CHUNK * 512 * 9 / 10)) ] ||
	fail "A's io.stat has $rb B read from the origin for $all copies of $((CHUNK * 512)) B"
dmsetup remove c
cg_cleanup a
cgblk_unload_all
brd_cleanup
