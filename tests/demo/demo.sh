#!/bin/bash
# make demo: what cgblk does, shown on one stock kernel in a few minutes.
# 1. memory.max through a stacked device: the in-tree loop vs cgloop;
# 2. io.max isolation of two cgroups through one cgloop device;
# 3. per-tenant cgsnap snapshots of one base image, copies charged per
#    tenant (and the in-tree snapshot target beside it);
# 4. a short fio run on cgloop and the in-tree loop side by side.
# The backings are sparse files on tmpfs and ramdisks that it makes itself.
# timeout: 900
. "$CGBLK_TOP/tests/lib/guest-lib.sh"

screen() { printf '\n======== %s ========\n' "$*"; }
kills() { awk '$1 == "oom_kill" {print $2}' "/sys/fs/cgroup/$1/memory.events"; }
is_loaded loop || modprobe loop
mkdir -p /scratch/t
mount -t tmpfs -o size=1200m tmpfs /scratch/t
cg_setup demo_oom demo_a demo_b tenant1 tenant2

screen "1. memory.max=64M, 256 MiB written through a device backed by a tmpfs file ($(uname -r))"
for drv in loop cgloop; do
	truncate -s 300m /scratch/t/$drv.img
	if [ $drv = loop ]; then
		dev=$(losetup --find --show /scratch/t/loop.img)
	else
		cgblk_load cgloop backing=/scratch/t/cgloop.img
		dev=/dev/cgloop0
	fi
	echo 64M > /sys/fs/cgroup/demo_oom/memory.max
	[ ! -e /sys/fs/cgroup/demo_oom/memory.swap.max ] || echo 0 > /sys/fs/cgroup/demo_oom/memory.swap.max
	k0=$(kills demo_oom)
	cg_run demo_oom "dd if=/dev/zero of=$dev bs=1M count=256 status=none; sync" 2>/dev/null || true
	k1=$(kills demo_oom)
	echo max > /sys/fs/cgroup/demo_oom/memory.max
	sync
	printf '%-8s OOM kills %s -> %s; the backing file holds %s MiB\n' "$drv" "$k0" "$k1" \
		"$(du -sm /scratch/t/$drv.img | cut -f1)"
	if [ $drv = loop ]; then losetup -d "$dev"; else rmmod cgloop; fi
	rm -f /scratch/t/$drv.img
done
echo "(an OOM kill means memory.max held: the page cache of the backing was charged to the writer)"

screen "2. io.max through one cgloop device over a ramdisk: A limited to 1 MiB/s on the ramdisk, B not"
brd_setup 512 1
cgblk_load cgloop backing=/dev/ram0
rdev=$(cat /sys/block/ram0/dev)
fiob() {	# CGROUP OFFSET SECONDS OUT
	cg_run "$1" "fio --name=$1 --filename=/dev/cgloop0 --rw=randwrite --bs=64k --direct=1 \
		--ioengine=psync --offset=$2 --size=128M --time_based --runtime=$3 \
		--output-format=json --output=$4 > /dev/null"
}
fiob demo_b 0 5 /scratch/b-alone.json
echo "$rdev wbps=1048576" > /sys/fs/cgroup/demo_a/io.max
fiob demo_a 256M 7 /scratch/a.json &
sleep 1
fiob demo_b 0 5 /scratch/b-shared.json
wait
printf 'B alone: %s KiB/s; B beside A: %s KiB/s; A (io.max 1 MiB/s on the ramdisk): %s KiB/s\n' \
	"$(fio_bw_kib /scratch/b-alone.json)" "$(fio_bw_kib /scratch/b-shared.json)" "$(fio_bw_kib /scratch/a.json)"
printf "A's io.stat on the ramdisk: %s bytes written (cgloop's workers issue A's I/O as A)\n" \
	"$(io_stat_bytes demo_a "$rdev" wbytes)"
rmmod cgloop
brd_cleanup

screen "3. one base image, a snapshot per tenant, first writes (each copies 8 KiB); tenant1's origin reads limited to 1 MiB/s"
brd_setup 64 3	# the base image and two COW devices: ramdisks
base=/dev/ram0 cow1=/dev/ram1 cow2=/dev/ram2
dd if=/dev/urandom of="$base" bs=1M count=64 oflag=direct status=none
blockdev --setro "$base"
odev=$(cat "/sys/block/$(basename "$base")/dev")
echo "$odev rbps=1048576" > /sys/fs/cgroup/tenant1/io.max
for target in cgsnap snapshot; do
	dd if=/dev/zero of="$cow1" bs=1M count=1 oflag=direct status=none
	dd if=/dev/zero of="$cow2" bs=1M count=1 oflag=direct status=none
	dm_snap t1 $target "$base" "$cow1" P 16
	dm_snap t2 $target "$base" "$cow2" P 16
	for t in 1 2; do
		rmdir /sys/fs/cgroup/tenant$t 2>/dev/null && mkdir /sys/fs/cgroup/tenant$t
	done
	echo "$odev rbps=1048576" > /sys/fs/cgroup/tenant1/io.max
	for t in 1 2; do
		cg_run tenant$t "fio --name=t$t --filename=/dev/mapper/t$t --rw=write:4k --bs=4k --direct=1 \
			--ioengine=psync --size=16M --runtime=5 --output-format=json \
			--output=/scratch/t$t.json > /dev/null" &
	done
	wait
	echo "$target:"
	for t in 1 2; do
		printf '  tenant%s: fresh 4 KiB writes at %5s KiB/s; its io.stat: origin read %9s B, COW written %9s B\n' \
			$t "$(fio_bw_kib /scratch/t$t.json)" \
			"$(io_stat_bytes tenant$t "$odev" rbytes)" \
			"$(io_stat_bytes tenant$t "$(cat "/sys/block/$(basename "$(eval echo \$cow$t)")/dev")" wbytes)"
	done
	dmsetup remove t1
	dmsetup remove t2
done
echo "(cgsnap: each tenant's copies are in its own io.stat and its own limit slows only it;"
echo " snapshot: the copies are made by kcopyd in the root cgroup: no tenant sees or pays for them)"
blockdev --setrw "$base"
rmmod dm_cgsnap dm_snapshot 2>/dev/null || true
brd_cleanup

screen "4. fio, 4 KiB random reads, QD32, 5 s: in-tree loop (direct I/O) vs cgloop, over the same ramdisk"
brd_setup 256 1
dd if=/dev/urandom of=/dev/ram0 bs=1M count=256 oflag=direct status=none
ldev=$(losetup --find --show --direct-io=on /dev/ram0)
cgblk_load cgloop backing=/dev/ram0
for dev in /dev/ram0 "$ldev" /dev/cgloop0; do
	DEV=$dev SIZE=256M RUNTIME=5 RAMP=1 fio --output-format=json --output=/scratch/f.json \
		"$CGBLK_TOP/tests/fio/randread-4k-qd32.fio"
	python3 -c 'import json,sys; j=json.load(open(sys.argv[1]))["jobs"][0]["read"]
print("%-12s %8d IOPS  p50 %6.1f us  p99 %6.1f us" % (sys.argv[2], j["iops"],
      j["clat_ns"]["percentile"]["50.000000"] / 1000, j["clat_ns"]["percentile"]["99.000000"] / 1000))' \
		/scratch/f.json "$dev"
done
losetup -d "$ldev"
cgblk_unload_all
brd_cleanup
umount /scratch/t

screen "done"
echo "The full benchmark: make bench [KERNEL=6.1]; its table, JSON and chart are in results/bench/."
echo "The latest ones measured here: README.md, \"Latest results\" (files in tests/bench/latest/)."
