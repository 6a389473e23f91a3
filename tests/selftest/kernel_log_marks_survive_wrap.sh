#!/bin/bash
# Proves: dmesg_since finds a kernel line logged after its mark once the
# kernel's ring buffer is full and drops its oldest lines (a long boot of the
# edges tier did this: every expect_refused after it found no line at all).
# expect: pass
# tier: edges
# timeout: 120
. "$CGBLK_TOP/tests/lib/guest-lib.sh"

devkmsg=$(cat /proc/sys/kernel/printk_devkmsg)
trap 'echo "$devkmsg" > /proc/sys/kernel/printk_devkmsg' EXIT
echo on > /proc/sys/kernel/printk_devkmsg	# no rate limit on our writes

mark=$(dmesg_mark)
[ "$mark" -ge 0 ] || fail "no mark: the kernel log reads empty"
first() { kmsg_records | awk -F'[,;]' 'NR == 1 { print $2 }'; }
# Fill the ring buffer until the record at the mark is gone (256 records of
# 800 bytes a round: one round passes Debian's 128 KiB buffer).
exec 8>/dev/kmsg
filler=$(printf 'cgblk-selftest: filler %0790d' 0)
rounds=0
while [ "$(first)" -le "$mark" ]; do
	rounds=$((rounds + 1))
	[ $rounds -le 64 ] || fail "the ring buffer did not wrap after $((rounds * 200)) KiB"
	for _ in $(seq 256); do echo "$filler" >&8; done
done
log "the ring buffer wrapped after $rounds round(s): oldest record $(first), mark $mark"

echo "cgblk-selftest: after the wrap" > /dev/kmsg
dmesg_since "$mark" | grep -q 'cgblk-selftest: after the wrap' ||
	fail "dmesg_since $mark misses a line logged after the mark"
# And nothing from before the mark comes back.
last=$(dmesg_since "$mark" | tail -n 1)
case $last in *"cgblk-selftest: after the wrap"*) ;; *) fail "dmesg_since ends with '$last'" ;; esac
# The check that failed so: a refusal's kernel line, found after the wrap.
expect_refused 'cgblk_offload: Unknown symbol cgblk_' insmod "$(ko cgblk_offload)"
