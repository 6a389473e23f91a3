#!/bin/bash
# Proves: io.max on the backing holds through one cgloop device shared by
# two cgroups, in cgloop's default configuration, over a block device and
# over a file on ext4: the limited cgroup stays near its 1 MiB/s, and the
# unlimited one keeps at least 80% of the throughput it has alone (median
# of three interleaved rounds: TCG throughput varies by ~30% run to run).
# timeout: 900
. "$CGBLK_TOP/tests/lib/guest-lib.sh"

brd_setup 512 2
ext4_on /dev/ram0 /scratch/ext4
truncate -s 448M /scratch/ext4/img
cgblk_load cgloop backing=/dev/ram1,/scratch/ext4/img
cg_setup t_fast t_slow
secs=6

# write_for CGROUP DEV OFFSET NAME: sequential 64 KiB direct writes for
# $secs seconds; fio's JSON in $CGBLK_OUT/NAME.json.
write_for() {
	cg_run "$1" "fio --name=$4 --filename=$2 --offset=$3 --size=200M --rw=write \
		--bs=64k --direct=1 --ioengine=psync --time_based --runtime=$secs \
		--output-format=json --output=$CGBLK_OUT/$4.json"
}
median3() { printf '%s\n' "$@" | sort -n | sed -n 2p; }

for n in 0 1; do
	case $n in
	0) backing=ram1 ;;
	1) backing=ram0 ;;
	esac
	dev=$(cat /sys/block/$backing/dev)
	echo "$dev wbps=1048576" > /sys/fs/cgroup/t_slow/io.max
	ratios=()
	slow=0
	for r in 1 2 3; do
		write_for t_fast /dev/cgloop$n 0 alone-$n-$r
		before=$(io_stat_bytes t_slow "$dev" wbytes)
		write_for t_slow /dev/cgloop$n 256M slow-$n-$r &
		write_for t_fast /dev/cgloop$n 0 shared-$n-$r
		wait
		slow=$(( slow + $(io_stat_bytes t_slow "$dev" wbytes) - before ))
		a=$(fio_bw_kib "$CGBLK_OUT/alone-$n-$r.json")
		sh=$(fio_bw_kib "$CGBLK_OUT/shared-$n-$r.json")
		[ "$a" -gt 0 ] || fail "cgloop$n: no throughput alone"
		ratios+=($((sh * 100 / a)))
		log "cgloop$n over $backing, round $r: fast alone $a KiB/s, shared $sh KiB/s ($((sh * 100 / a))%); slow $(fio_bw_kib "$CGBLK_OUT/slow-$n-$r.json") KiB/s"
	done
	med=$(median3 "${ratios[@]}")
	log "cgloop$n over $backing: median shared/alone $med%; the limited cgroup wrote $((slow / 1024)) KiB in $((3 * secs)) s by io.stat"
	[ "$med" -ge 80 ] || fail "cgloop$n: the unlimited cgroup kept a median $med% (< 80%) of its throughput"
	# 1 MiB/s for 3 x $secs s, with slack for the throttle's initial burst.
	[ "$slow" -le $(( (3 * secs + 3) << 20 )) ] ||
		fail "cgloop$n: the limited cgroup wrote $slow bytes in $((3 * secs)) s past io.max 1 MiB/s"
	[ "$slow" -gt 0 ] || fail "cgloop$n: the limited cgroup wrote nothing"
	echo "$dev wbps=max" > /sys/fs/cgroup/t_slow/io.max
done

rmmod cgloop
cgblk_unload_all
umount /scratch/ext4
brd_cleanup
cg_cleanup t_fast t_slow
