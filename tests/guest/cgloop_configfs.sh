#!/bin/bash
# Proves: configfs makes, configures, enables, disables and removes cgloop
# devices; each bad value, enable twice, change while enabled, disable or
# rmdir while open, and rmmod while open is refused with a clear kernel
# line; offset and size select the right part of the backing; devices from
# backing= appear in configfs too; no I/O scheduler by default (but on
# 5.10, which has no way to ask for that).
# tier: edges
# timeout: 300
. "$CGBLK_TOP/tests/lib/guest-lib.sh"

cfg=/sys/kernel/config/cgloop
mkdir /scratch/dir
: > /scratch/empty
truncate -s 16M /scratch/good /scratch/param
cgblk_load cgloop backing=/scratch/param

# refuse ATTR VALUE ERRNO-TEXT KERNEL-PATTERN: the write fails and the
# kernel says why.
refuse() {
	expect_refused "cgloop: .*$4" bash -c "echo '$2' > $d/$1"
	[[ "$REFUSED_ERR" == *"$3"* ]] || fail "writing '$2' to $1: '$REFUSED_ERR', expected '$3'"
}

# The parameter's device.
[ "$(cat $cfg/cgloop0/backing)" = /scratch/param ] || fail "cgloop0 is not in configfs"
[ "$(cat $cfg/cgloop0/enable)" = 1 ] || fail "cgloop0 is not shown enabled"
[ "$(cat $cfg/cgloop0/dev)" = "$(cat /sys/block/cgloop0/dev)" ] || fail "cgloop0's dev attribute is wrong"
expect_fail rmdir $cfg/cgloop0
# No I/O scheduler by default, as the in-tree loop (blk-mq lets a driver
# ask for that from 5.16; the 5.10 one gives a single-queue device
# mq-deadline).
is_loaded loop || modprobe loop
ld=$(losetup --find --show /scratch/good)
sched=$(grep -o '\[[^]]*\]' /sys/block/cgloop0/queue/scheduler)
lsched=$(grep -o '\[[^]]*\]' /sys/block/${ld#/dev/}/queue/scheduler)
losetup -d "$ld"
log "default I/O scheduler: cgloop $sched, loop $lsched"
case $(uname -r) in
5.10.*) want='[mq-deadline]' ;;
*) want='[none]' ;;
esac
[ "$sched" = "$want" ] || fail "cgloop0 has the I/O scheduler $sched by default, not $want (loop: $lsched)"
grep -q backing $cfg/features || fail "no features list"

mkdir $cfg/vm1
d=$cfg/vm1
idx=$(cat $d/index)
[ "$idx" = 1 ] || fail "vm1 got index $idx"
[ "$(cat $d/enable)" = 0 ] && [ -z "$(cat $d/dev)" ] || fail "vm1 is enabled from the start"
refuse enable 1 "Invalid argument" "no backing set"
for v in /scratch/dir /scratch/empty /scratch/missing; do
	echo $v > $d/backing
	refuse enable 1 "" "backing $v: "
done
echo /scratch/good > $d/backing
refuse offset 16M "Invalid argument" "bad offset value '16M'"
refuse offset -512 "Invalid argument" "bad offset value"
echo $((16 << 20)) > $d/offset
refuse enable 1 "Invalid argument" "offset 16777216 is not below its size"
echo 1000 > $d/offset
refuse enable 1 "Invalid argument" "must be multiples of the logical block size"
echo 0 > $d/offset
refuse logical_block_size 1024 "Invalid argument" "bad logical_block_size value '1024'"
refuse read_only maybe "Invalid argument" "bad read_only value 'maybe'"
refuse enable 2 "Invalid argument" "bad enable value '2'"
[ ! -e /dev/cgloop$idx ] || fail "a refused enable left /dev/cgloop$idx"

# offset and size pick a window of the backing.
echo $((1 << 20)) > $d/offset
echo $((4 << 20)) > $d/size
echo 512 > $d/logical_block_size
echo 1 > $d/enable
test -b /dev/cgloop$idx || fail "/dev/cgloop$idx is not a block device"
[ "$(cat $d/dev)" = "$(cat /sys/block/cgloop$idx/dev)" ] || fail "vm1's dev attribute is wrong"
[ "$(blockdev --getsize64 /dev/cgloop$idx)" = $((4 << 20)) ] || fail "size did not limit the device"
head -c $((1 << 20)) /dev/urandom > /scratch/pattern
dd if=/scratch/pattern of=/dev/cgloop$idx bs=1M oflag=direct status=none
cmp -n $((1 << 20)) /scratch/pattern <(dd if=/scratch/good bs=1M skip=1 count=1 status=none) ||
	fail "data did not land at the backing's offset"

refuse enable 1 "Device or resource busy" "vm1: already enabled"
refuse backing /scratch/param "Device or resource busy" "vm1: cannot change backing while enabled"
refuse logical_block_size 4096 "Device or resource busy" "cannot change logical_block_size while enabled"

# Open: no disable, no rmdir, no rmmod.
exec 3</dev/cgloop$idx
refuse enable 0 "Device or resource busy" "cannot disable cgloop$idx while it is open"
expect_fail rmdir $d
expect_fail rmmod cgloop
exec 3<&-

# Disable keeps the configuration; rmdir removes the device.
echo 0 > $d/enable
[ ! -e /sys/block/cgloop$idx ] || fail "disable left cgloop$idx"
[ "$(cat $d/offset)" = $((1 << 20)) ] || fail "disable lost the configuration"
echo 1 > $d/enable
expect_fail rmmod cgloop	# a configfs item holds the module
rmdir $d
[ ! -e /sys/block/cgloop$idx ] || fail "rmdir left cgloop$idx"

rmmod cgloop
[ ! -e /sys/block/cgloop0 ] || fail "rmmod left cgloop0"
[ ! -e $cfg ] || fail "rmmod left $cfg"
cgblk_unload_all
