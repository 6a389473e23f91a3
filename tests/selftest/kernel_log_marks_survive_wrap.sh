#!/bin/bash
# Proves: once the kernel's ring buffer is full (every new line pushes the
# oldest out), dmesg_since still finds the lines logged after dmesg_mark, and
# only those (a long boot of the edges tier filled it: every expect_refused
# after that found no kernel line at all).
# expect: pass
# tier: edges
# timeout: 120
. "$CGBLK_TOP/tests/lib/guest-lib.sh"

devkmsg=$(cat /proc/sys/kernel/printk_devkmsg)
trap 'echo "$devkmsg" > /proc/sys/kernel/printk_devkmsg' EXIT
echo on > /proc/sys/kernel/printk_devkmsg	# no rate limit on our writes

# The sequence numbers of the oldest and the newest record, read here
# rather than through the helpers under test.
seqs() {
	{ dd if=/dev/kmsg iflag=nonblock bs=8k status=none 2>/dev/null || true; } |
		awk -F'[,;]' '/^[0-9]/ { if (!n++) f = $2; l = $2 } END { print f + 0, l + 0 }'
}
read -r first newest < <(seqs)
[ "$newest" -gt 0 ] || fail "the kernel log reads empty"
# Fill the ring buffer with short lines until the newest record of now is
# gone (2048 lines of 64 bytes a round: one round fills Debian's 128 KiB).
exec 8>/dev/kmsg
filler=$(printf 'cgblk-selftest: filler %040d' 0)
rounds=0
while [ "$first" -le "$newest" ]; do
	rounds=$((rounds + 1))
	[ $rounds -le 64 ] || fail "the ring buffer did not wrap after $((rounds * 128)) KiB"
	for _ in $(seq 2048); do echo "$filler" >&8; done
	read -r first _ < <(seqs)
done
log "the ring buffer is full after $rounds round(s): its oldest record is now $first"

# A long line after the mark pushes a dozen short ones out: the log has
# fewer lines than at the mark.
mark=$(dmesg_mark)
printf 'cgblk-selftest: long line %0900d\n' 0 >&8
echo "cgblk-selftest: after the mark" >&8
since=$(dmesg_since "$mark")
case $since in
*"cgblk-selftest: long line"*"cgblk-selftest: after the mark"*) ;;
*) fail "dmesg_since $mark misses the lines logged after the mark: '$since'" ;;
esac
case $since in
*filler*) fail "dmesg_since $mark gives lines from before the mark" ;;
esac
# The check that failed so: a refusal's kernel line.
expect_refused 'cgblk_offload: Unknown symbol cgblk_' insmod "$(ko cgblk_offload)"
