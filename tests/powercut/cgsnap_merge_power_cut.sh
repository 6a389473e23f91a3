#!/bin/bash
# Proves (issue 15, item 4): a power cut in the middle of a cgsnap-merge
# loses nothing: after it, cgsnap-merge loaded again finishes the merge and
# the origin is exactly what the snapshot read.  The snapshot's writes are
# 8 MiB in 4 KiB blocks in a random order (steps of one chunk) and 2 MiB in
# one run (steps of 1 MiB); the merge is held back by io.max (512 KiB/s of
# COW reads) from the resumer's cgroup, so that the cut comes part-way.
# Phase 1 (CGBLK_PHASE=1): origin and COW devices are dm-linear parts of a
# virtio disk backed by a host file; snapshot, write, merge, cut.
# Phase 2: the origin is part-way (some written blocks merged, not all),
# the merge finishes, the origin is the snapshot's data.
# tier: one 7.3 (power cut: two boots)
# timeout: 300
. "$CGBLK_TOP/tests/lib/guest-lib.sh"

is_loaded virtio_blk || modprobe virtio_blk
wait_for 10 test -b /dev/vda
cgblk_load dm-cgsnap
sectors=65530		# 32 MiB less 3 KiB
dmsetup create real --table "0 $sectors linear /dev/vda 0"
dmsetup create cow --table "0 98304 linear /dev/vda 65536"	# 48 MiB
seeded() {	# SEED BYTES
	python3 -c 'import random, sys; random.seed(int(sys.argv[1]))
sys.stdout.buffer.write(random.randbytes(int(sys.argv[2])))' "$1" "$2"
}
seeded 20261205 $((sectors * 512)) > /scratch/at_snap
seeded 20261206 $((8 << 20)) > /scratch/scattered
seeded 20261207 $((2 << 20)) > /scratch/run
# the snapshot: 8 MiB at 4 MiB written block by block in a seeded random
# order, then 2 MiB at 20 MiB in one go, then the partial last chunk
python3 - <<'EOF'
data = bytearray(open('/scratch/at_snap', 'rb').read())
sc = open('/scratch/scattered', 'rb').read()
data[4 << 20:12 << 20] = sc
data[20 << 20:22 << 20] = open('/scratch/run', 'rb').read()
data[-1024:] = b'\x5a' * 1024
open('/scratch/expected', 'wb').write(data)
EOF

if [ "$CGBLK_PHASE" = 1 ]; then
	dd if=/scratch/at_snap of=/dev/mapper/real bs=1M oflag=direct status=none
	dd if=/dev/zero of=/dev/mapper/cow bs=1M count=1 oflag=direct status=none
	dmsetup create lv --table "0 $sectors cgsnap-origin /dev/mapper/real"
	dmsetup create snap --table "0 $sectors cgsnap /dev/mapper/real /dev/mapper/cow P 8"
	python3 - <<'EOF'
import os, random
fd = os.open('/dev/mapper/snap', os.O_WRONLY | os.O_DIRECT)
sc = open('/scratch/scattered', 'rb').read()
order = list(range(len(sc) // 4096))
random.Random(7).shuffle(order)
import mmap
buf = mmap.mmap(-1, 4096)
for i in order:
    buf[:] = sc[i * 4096:(i + 1) * 4096]
    os.pwritev(fd, [buf], (4 << 20) + i * 4096)
os.close(fd)
EOF
	dd if=/scratch/run of=/dev/mapper/snap bs=1M seek=20 oflag=direct status=none
	printf 'Z%.0s' $(seq 1024) | dd of=/dev/mapper/snap bs=512 seek=$((sectors - 2)) iflag=fullblock oflag=direct status=none
	cmp /scratch/expected /dev/mapper/snap || fail "the snapshot does not read what was written"
	log "snapshot: $(dm_info snap)"
	cg_setup m
	echo "$(dmsetup info -c --noheadings -o major,minor --separator : cow | tr -d ' ') rbps=524288" \
		> /sys/fs/cgroup/m/io.max
	dmsetup suspend lv
	dmsetup remove snap
	dmsetup reload lv --table "0 $sectors cgsnap-merge /dev/mapper/real /dev/mapper/cow P 8"
	cg_run m dmsetup resume lv
	sleep 6
	log "cut during the merge at: $(dm_info lv)"
	echo POWERCUT > /dev/ttyS1
	sleep 120
	fail "still running after the power cut"
fi

# part-way: some of the written blocks are merged, not all
python3 - <<'EOF' || fail "the origin after the cut is not part-way through the merge"
import sys
exp = open('/scratch/expected', 'rb').read()
old = open('/scratch/at_snap', 'rb').read()
cur = open('/dev/mapper/real', 'rb').read()
merged = left = other = 0
for off in range(0, len(exp), 4096):
    e, o, c = exp[off:off + 4096], old[off:off + 4096], cur[off:off + 4096]
    if e == o:
        other += c != e
    elif c == e:
        merged += 1
    elif c == o:
        left += 1
    else:
        other += 1
print(f"after the cut: {merged} blocks merged, {left} to merge, {other} neither")
sys.exit(0 if merged and left and not other else 1)
EOF
dmsetup create lv --table "0 $sectors cgsnap-merge /dev/mapper/real /dev/mapper/cow P 8"
log "loaded after the cut: $(dm_info lv)"
merged() { dm_info lv | awk '{ split($1, a, "/"); exit !(a[1] == $2) }'; }
wait_for 120 merged
cmp /scratch/expected /dev/mapper/lv || fail "the merge device after the cut and the merge is not the snapshot"
cmp /scratch/expected /dev/mapper/real || fail "the origin after the cut and the merge is not the snapshot"
log "merged after the cut: $(dm_info lv)"
dmsetup remove lv
dmsetup remove real
dmsetup remove cow
cgblk_unload_all
