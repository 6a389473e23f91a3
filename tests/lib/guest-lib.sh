# SPDX-License-Identifier: GPL-2.0
# guest-lib.sh - helpers for the guest tests; each test sources it first.
#
# A test is a bash script under tests/guest/ (or tests/selftest/) that runs
# as root inside the qemu guest, under `set -euo pipefail`.  It proves one
# thing, says so in a "# Proves:" line, may set "# timeout: <seconds>" and
# "# kernels: <series> ..." in its header, and exits non-zero on failure.
# Environment: CGBLK_TOP (the source tree), CGBLK_KO (the modules built for
# this kernel), CGBLK_OUT (a folder kept with the results), CGBLK_KSERIES,
# CGBLK_TIER (ci or full: a test leaves out in ci only what it prints
# without judging, such as an in-tree peer measured for comparison);
# the working directory and TMPDIR are a fresh tmpfs, /scratch.
set -euo pipefail
# POSIX mode: an expansion error (say, a division by zero in $((...))) ends
# the script with an error.  Without it bash abandons only the enclosing
# loop or list and carries on, and the test could exit 0 with checks unrun.
set -o posix

# CGBLK_MODULES, CGBLK_USERS, CGBLK_UNLOAD: the one list of our modules.
. "$CGBLK_TOP/tests/lib/modules.sh"

log() { printf '%s\n' "$*"; }
fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }

# ko NAME: the module file built for the running kernel.
ko() {
	local f=$CGBLK_KO/$1.ko
	[ -f "$f" ] || f=$CGBLK_KO/tests/modules/$1.ko
	[ -f "$f" ] || fail "no module file for $1 in $CGBLK_KO"
	echo "$f"
}

# Name of a module as the kernel shows it (dashes become underscores).
kname() { echo "${1//-/_}"; }

is_loaded() { [ -d "/sys/module/$(kname "$1")" ] && grep -q "^$(kname "$1") " /proc/modules; }

# cgblk_deps NAME: load what NAME needs (cgblk_core; cgblk_offload for
# cgloop), unless loaded already.
cgblk_deps() {
	is_loaded cgblk_core || insmod "$(ko cgblk_core)"
	case $1 in
	cgloop) is_loaded cgblk_offload || insmod "$(ko cgblk_offload)" ;;
	esac
	if [ "$1" = dm-cgsnap ]; then is_loaded dm_mod || modprobe dm-mod; fi
}

cgblk_load() {	# NAME [module args...]: its dependencies, then NAME
	local m=$1; shift
	cgblk_deps "$m"
	[ "$m" = cgblk_core ] || insmod "$(ko "$m")" "$@"
}

cgblk_unload_all() {
	local m
	for m in $CGBLK_UNLOAD; do
		if is_loaded "$m"; then rmmod "$(kname "$m")"; fi
	done
}

# expect_fail CMD...: CMD must exit non-zero.
expect_fail() {
	if "$@"; then fail "expected to fail: $*"; fi
	return 0
}

# The kernel log as /dev/kmsg records ("prio,seq,usec,flags;text"), oldest
# first; continuation lines (" KEY=value") are left out.  dd reads one
# record a read() and stops at the end (EAGAIN).
kmsg_records() {
	{ dd if=/dev/kmsg iflag=nonblock bs=8k status=none 2>/dev/null || true; } | grep -v '^ ' || true
}

# dmesg_mark: the sequence number of the newest kernel log record.
# dmesg_since MARK: the records after it, as dmesg prints them.  A mark is a
# sequence number, not a line count: once the ring buffer is full every new
# line pushes the oldest out and a line count stands still.
dmesg_mark() { kmsg_records | awk -F'[,;]' 'END { print ($2 == "" ? -1 : $2) }'; }
dmesg_since() {
	kmsg_records | awk -F'[,;]' -v mark="$1" '$2 + 0 > mark + 0 {
		printf "[%5d.%06d] %s\n", int($3 / 1000000), $3 % 1000000, substr($0, index($0, ";") + 1)
	}'
}

# expect_refused PATTERN CMD...: CMD must fail, and the kernel must say why:
# a line since CMD started matches PATTERN (extended regex).  The refusal is
# logged; CMD's error output is left in REFUSED_ERR for further checks.
expect_refused() {
	local pattern=$1 mark line; shift
	mark=$(dmesg_mark)
	if REFUSED_ERR=$("$@" 2>&1); then
		fail "accepted: $*"
	fi
	line=$(dmesg_since "$mark" | grep -Em1 -- "$pattern") ||
		fail "refused, but no kernel line matching '$pattern': $*; kernel: $(dmesg_since "$mark" | tr '\n' '|')"
	log "refused: $* -> ${line#\[*\] }"
}

# wait_for SECONDS CMD...: poll CMD every 0.2 s until it succeeds; fail after
# SECONDS.
wait_for() {
	local limit=$1 i=0; shift
	while ! "$@"; do
		i=$((i + 1))
		[ $i -lt $((limit * 5)) ] || fail "timed out after ${limit}s waiting for: $*"
		sleep 0.2
	done
}

# cg_run CGROUP CMD: run the shell command CMD as a process of CGROUP (a
# path under /sys/fs/cgroup).
cg_run() {
	local cg=$1; shift
	sh -c "echo \$\$ > /sys/fs/cgroup/$cg/cgroup.procs && $*"
}

# cg_setup NAME...: enable io and memory for children of the root and make
# the named cgroups.  cg_cleanup removes them.
cg_setup() {
	echo "+io +memory" > /sys/fs/cgroup/cgroup.subtree_control
	local c
	for c in "$@"; do mkdir -p "/sys/fs/cgroup/$c"; done
}
cg_cleanup() {
	local c
	for c in "$@"; do rmdir "/sys/fs/cgroup/$c"; done
}

# busy_cpus SECONDS: keep every CPU busy, so that deferrable timers (which
# an idle CPU does not run) fire.
busy_cpus() {
	local i
	for i in $(seq "$(nproc)"); do
		timeout "$1" sh -c 'while :; do :; done' &
	done
	wait
}

# brd_setup SIZE_MB [COUNT]: ramdisks /dev/ram0.. of SIZE_MB each.
brd_setup() {
	modprobe brd rd_nr="${2:-2}" rd_size=$(($1 * 1024)) max_part=0
	wait_for 10 test -b /dev/ram0
}
brd_cleanup() { rmmod brd; }

# ext4_on DEVICE DIR: a fresh ext4 on DEVICE mounted at DIR.
ext4_on() {
	mkfs.ext4 -q -F -E nodiscard,lazy_itable_init=0,lazy_journal_init=0 "$1"
	mkdir -p "$2"
	mount -t ext4 "$1" "$2"
}

# cgblk_test_pool (tests/modules/cgblk_test_pool.c): its debugfs directory,
# a field of its stats line, and a poll until N of its items are blocked
# (no fork but sleep: for loops over hundreds of cgroups).
TP=/sys/kernel/debug/cgblk/cgblk_test_pool
tp_stat() {	# tp_stat FIELD
	awk -v f="$1" '{for (i = 1; i < NF; i++) if ($i == f) print $(i + 1)}' $TP/stats
}
tp_stat_is() { [ "$(tp_stat "$1")" -eq "$2" ]; }
tp_blocked_reaches() {	# tp_blocked_reaches N [SECONDS, default 30]
	local end=$((SECONDS + ${2:-30})) _ q dn w b
	while [ $SECONDS -lt $end ]; do
		read -r _ q _ dn _ w _ b _ < $TP/stats
		[ "$b" -lt "$1" ] || return 0
		sleep 0.02
	done
	return 1
}

# sdbg_setup SECTOR_SIZE SIZE_MB: a scsi_debug disk with SECTOR_SIZE-byte
# logical blocks (4096: a 4Kn disk); sets SDBG to its /dev/sdX.
# sdbg_cleanup removes it.
sdbg_dev() {
	local d
	for d in /sys/block/sd*; do
		[ -e "$d/device/model" ] || continue
		grep -q scsi_debug "$d/device/model" || continue
		echo "/dev/${d##*/}"
		return 0
	done
	return 1
}
_sdbg_ready() { sdbg_dev >/dev/null && test -b "$(sdbg_dev)"; }
sdbg_setup() {
	modprobe sd_mod
	modprobe scsi_debug sector_size="$1" dev_size_mb="$2"
	wait_for 30 _sdbg_ready
	SDBG=$(sdbg_dev)
	[ "$(blockdev --getss "$SDBG")" = "$1" ] ||
		fail "$SDBG has $(blockdev --getss "$SDBG")-byte blocks, not $1"
}
sdbg_cleanup() { rmmod scsi_debug; }

# cgloop_attr N NAME: /sys/block/cgloopN/cgloop/NAME
cgloop_attr() { cat "/sys/block/cgloop$1/cgloop/$2"; }

# fio_verify DEV SIZE [fio options...]: random writes of 512 B to 1 MiB with
# crc32c verification, then a verify-only pass after dropping caches.
fio_verify() {
	local dev=$1 size=$2; shift 2
	local common=(--filename="$dev" --size="$size" --rw=randwrite
		--bsrange=512-1M --ioengine=psync --verify=crc32c
		--verify_state_save=0 --randrepeat=1 --norandommap=0 "$@")
	fio --name=write "${common[@]}" --do_verify=1 --output="$CGBLK_OUT/fio-$(basename "$dev").txt" ||
		fail "fio verify failed on $dev ($*)"
	echo 3 > /proc/sys/vm/drop_caches
	fio --name=write "${common[@]}" --verify_only \
		--output="$CGBLK_OUT/fio-reread-$(basename "$dev").txt" ||
		fail "re-read after drop_caches did not verify on $dev ($*)"
}

# io_stat_bytes CGROUP MAJ:MIN rbytes|wbytes: bytes in the cgroup's io.stat.
io_stat_bytes() {
	awk -v d="$2" -v k="$3" '$1 == d {
		for (i = 2; i <= NF; i++) if (index($i, k "=") == 1) print substr($i, length(k) + 2)
	}' "/sys/fs/cgroup/$1/io.stat" | grep . || echo 0
}

# dev_written_bytes NAME: bytes written to /sys/block/NAME so far.
dev_written_bytes() { awk '{print $7 * 512}' "/sys/block/$1/stat"; }

# rotate N WORDS...: the words rotated left by N (benchmarks' rotating order)
rotate() {
	local n=$1; shift
	local i c=$#
	for i in $(seq 0 $((c - 1))); do
		eval "printf '%s ' \"\${$(( (i + n) % c + 1 ))}\""
	done
}

# median NUMBER...: the median (the upper middle one of an even count).
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# fio_bw_kib JSON: write bandwidth in KiB/s of all jobs in fio's JSON output.
fio_bw_kib() {
	python3 -c 'import json, sys
print(sum(j["write"]["bw"] for j in json.load(open(sys.argv[1]))["jobs"]))' "$1"
}

# nullb_setup NAME SIZE_MB [IRQMODE]: a memory-backed null_blk (blk-mq, keeps
# disk statistics, unlike brd) at /dev/NAME, made through configfs.
# IRQMODE 2 completes from a 20 us timer, i.e. in hard IRQ context.
nullb_setup() {
	is_loaded null_blk || modprobe null_blk nr_devices=0
	local d=/sys/kernel/config/nullb/$1
	mkdir "$d"
	echo 2 > "$d/queue_mode"
	echo "$2" > "$d/size"
	echo 1 > "$d/memory_backed"
	echo 4096 > "$d/blocksize"
	if [ -n "${3:-}" ]; then
		echo "$3" > "$d/irqmode"
		echo 20000 > "$d/completion_nsec"
	fi
	echo 1 > "$d/power"
	wait_for 10 test -b "/dev/$1"
}
nullb_cleanup() {
	echo 0 > "/sys/kernel/config/nullb/$1/power"
	rmdir "/sys/kernel/config/nullb/$1"
	rmmod null_blk
}

# offload_stat NAME: a counter of cgblk_offload's debugfs stats.
offload_stat() {
	awk -v k="$1" '$1 == k { print $2; f = 1 } END { if (!f) exit 1 }' \
		/sys/kernel/debug/cgblk/cgblk_offload/stats || fail "no offload stat $1"
}

# cpu_hotplug_start: take CPU 1 offline and online again in a loop, in the
# background, counting the cycles in /scratch/hotplug.cycles.
# cpu_hotplug_stop: end it, leave CPU 1 online, set HOTPLUG_CYCLES (not in
# a $(...): the loop is a child of the test's shell).
cpu_hotplug_start() {
	[ -w /sys/devices/system/cpu/cpu1/online ] || fail "CPU 1 cannot be taken offline"
	echo 0 > /scratch/hotplug.cycles
	(
		n=0
		# Until told, or until the test is gone (killed on a timeout).
		while [ ! -e /scratch/hotplug.stop ] && kill -0 $$ 2>/dev/null; do
			echo 0 > /sys/devices/system/cpu/cpu1/online
			sleep 0.1
			echo 1 > /sys/devices/system/cpu/cpu1/online
			n=$((n + 1))
			echo $n > /scratch/hotplug.cycles
			sleep 0.2
		done
	) &
	HOTPLUG_PID=$!
}
cpu_hotplug_stop() {
	touch /scratch/hotplug.stop
	wait "$HOTPLUG_PID" || fail "the CPU hotplug loop failed"
	rm -f /scratch/hotplug.stop
	[ "$(cat /sys/devices/system/cpu/cpu1/online)" = 1 ] || fail "CPU 1 left offline"
	HOTPLUG_CYCLES=$(cat /scratch/hotplug.cycles)
}

# device-mapper without udev in the guest: dmsetup makes the nodes itself.
export DM_DISABLE_UDEV=1

# dm_snap NAME TARGET ORIGIN COW TYPE CHUNK [features...]: a snapshot device
# /dev/mapper/NAME of TARGET (cgsnap or snapshot) over the whole origin.
dm_snap() {
	local name=$1 target=$2 origin=$3 cow=$4; shift 4
	local sectors
	sectors=$(blockdev --getsz "$origin")
	[ "$target" = snapshot ] && { is_loaded dm_snapshot || modprobe dm-snapshot; }
	[ "$target" = cgsnap ] && { is_loaded dm-cgsnap || cgblk_load dm-cgsnap; }
	dmsetup create "$name" --table "0 $sectors $target $origin $cow $*"
}

# dm_info NAME: the INFO status of a snapshot, without the "0 LEN TARGET".
dm_info() { dmsetup status "$1" | cut -d' ' -f4-; }

# md5 DEV: checksum of a whole device.
md5() { md5sum < "$1" | cut -d' ' -f1; }

# fill_random DEV MB: MB MiB of random data at the start of DEV.
fill_random() {
	dd if=/dev/urandom of="$1" bs=1M count="$2" oflag=direct status=none
}

# perf_profile NAME COMMAND...: COMMAND run under perf record (cpu-clock
# samples of the whole guest, no call graphs; the host's perf, over 9p,
# works on every kernel of the matrix); its top symbols go to
# $CGBLK_OUT/profile-NAME.txt.  A failed record is logged, not fatal.
perf_profile() {
	local name=$1; shift
	if ! perf record -q -e cpu-clock -a -o "/scratch/$name.data" -- "$@" > /dev/null 2>&1; then
		log "perf record failed: $name not profiled"
		return 0
	fi
	perf report -i "/scratch/$name.data" --stdio --no-children --sort sym \
		--percent-limit 1 2> /dev/null | grep -v '^#' | grep -v '^$' | head -30 \
		> "$CGBLK_OUT/profile-$name.txt"
	rm -f "/scratch/$name.data"
}

# profiles_to_summary: the top of every profile perf_profile wrote, added
# to $CGBLK_OUT/summary.txt and printed.
profiles_to_summary() {
	local f
	for f in "$CGBLK_OUT"/profile-*.txt; do
		[ -s "$f" ] || continue
		{ echo; echo "$(basename "$f" .txt): top symbols, cpu-clock samples of the whole guest"; echo '```'; head -15 "$f"; echo '```'; } |
			tee -a "$CGBLK_OUT/summary.txt"
	done
}

# stack_devices: the devices the cgroup v1/hybrid tests put I/O through:
# /dev/cgloop0 over a ramdisk, /dev/cgloop1 over a 16 MiB tmpfs file, and
# /dev/mapper/s1, a cgsnap snapshot (P, chunk 16) of a second ramdisk with
# its COW device on a third.  Workers live through the test (debugfs lists
# them at the end).  stack_devices_remove takes them down with our modules.
stack_devices() {
	brd_setup 32 3
	truncate -s 16M /scratch/backing.img
	cgblk_load cgloop backing=/dev/ram0,/scratch/backing.img idle_timeout_ms=600000
	cgblk_load dm-cgsnap idle_timeout_ms=600000
	wait_for 10 test -b /dev/cgloop1
	fill_random /dev/ram1 32
	blockdev --setro /dev/ram1
	dd if=/dev/zero of=/dev/ram2 bs=1M count=1 oflag=direct status=none
	dm_snap s1 cgsnap /dev/ram1 /dev/ram2 P 16
	[ -b /dev/mapper/s1 ] || fail "no /dev/mapper/s1"
}
stack_devices_remove() {
	dmsetup remove s1
	cgblk_unload_all
	brd_cleanup
	rm /scratch/backing.img
}
