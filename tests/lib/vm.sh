# SPDX-License-Identifier: GPL-2.0
# vm.sh - boot a test kernel under qemu TCG; sourced by tests/run.
#
#   boot OUT SUITE TESTS   one guest that runs TESTS of tests/SUITE in order;
#                          leaves OUT/SUITE-kernel.log (the whole kernel log),
#                          OUT/SUITE-marks.txt (the guest runner's BEGIN/END
#                          lines) and each test's files under OUT/SUITE/<test>/;
#                          sets QEMU_RC
#
# The guest: a busybox initramfs (tests/lib/initramfs-init) loads the
# virtio/9p/overlay modules of this kernel, mounts the host's / read-only over
# 9p with a tmpfs overlay, and hands over to tests/lib/guest-run.sh.  Uses
# KVER, KIMAGE, KMODDIR, KSERIES (kernels.sh), KAPPEND, TIMEOUT_SCALE, TOP,
# TIER (tests/run: the guest's CGBLK_TIER);
# POWERCUT_DISK and PHASE for the power-cut suite.

# initramfs_modules MODDIR: the virtio/9p/overlay modules in load order.
initramfs_modules() {
	local moddir=$1 want="virtio_pci 9pnet_virtio 9p overlay" seen=" " order=()
	add() {
		local name=$1 path deps d
		path=$(awk -F: -v n="$name" '{ f = $1; sub(/.*\//, "", f); sub(/\.ko(\.xz|\.zst|\.gz)?$/, "", f);
			gsub(/-/, "_", f); m = n; gsub(/-/, "_", m); if (f == m) { print; exit } }' "$moddir/modules.dep")
		[ -n "$path" ] || return 0	# built in
		deps=${path#*:}
		path=${path%%:*}
		[[ "$seen" == *" $path "* ]] && return 0
		for d in $deps; do
			d=$(basename "$d"); d=${d%%.ko*}
			add "$d"
		done
		[[ "$seen" == *" $path "* ]] && return 0
		seen="$seen$path "
		order+=("$path")
	}
	local w
	for w in $want; do add "$w"; done
	printf '%s\n' "${order[@]}"
}

# make_initramfs OUT SUITE TESTS: the guest's initramfs for this kernel.
make_initramfs() {
	local out=$1 suite=$2 tests=$3 dir=$1/initramfs-$2 p base
	rm -rf "$dir"
	mkdir -p "$dir"/{bin,mods,proc,sys,dev}
	cp /bin/busybox "$dir/bin/busybox"
	cp "$TOP/tests/lib/initramfs-init" "$dir/init"
	chmod +x "$dir/init"
	: > "$dir/modules.list"
	for p in $(initramfs_modules "$KMODDIR"); do
		base=$(basename "$p")
		case $base in
		*.ko.xz) xz -dc "$KMODDIR/$p" > "$dir/mods/${base%.xz}" ;;
		*.ko.zst) zstd -qdc "$KMODDIR/$p" > "$dir/mods/${base%.zst}" ;;
		*.ko.gz) gzip -dc "$KMODDIR/$p" > "$dir/mods/${base%.gz}" ;;
		*) cp "$KMODDIR/$p" "$dir/mods/" ;;
		esac
		echo "${base%%.ko*}.ko" >> "$dir/modules.list"
	done
	local moddir=
	[ "$KMODDIR" = "/lib/modules/$KVER" ] || moddir=$KMODDIR
	cat > "$dir/cgblk.conf" <<-CONF
	CGBLK_TOP='$TOP'
	CGBLK_KO='$out/build'
	CGBLK_KSERIES='$KSERIES'
	CGBLK_TIER='${TIER:-full}'
	CGBLK_SUITE='$suite'
	CGBLK_TESTS='$tests'
	CGBLK_GUEST_RESULTS='/cgblk-results'
	CGBLK_GUEST_MODDIR='$moddir'
	CGBLK_HUNG_TASK_SECS=45
	CGBLK_TIMEOUT_SCALE=$TIMEOUT_SCALE
	CGBLK_NONCE='$NONCE'
	CGBLK_PHASE='${PHASE:-}'
	CONF
	(cd "$dir" && find . | cpio -o -H newc --quiet) | gzip -1 > "$out/initramfs-$suite.cpio.gz"
}

# The harness's own test of its boot-crash retries: CGBLK_BOOT_FAULT=N makes
# the Nth boot of this run (counted over all kernels and suites) panic
# before its first test, as the stock 7.3 kernel sometimes does under TCG
# (an int3 oops in sched_clock_cpu): its init does not exist.
BOOT_COUNT=0

boot() {
	local out=$1 suite=$2 tests=$3 t total=150 fault=
	for t in $tests; do
		total=$((total + $(test_timeout "$TOP/tests/$suite/$t.sh") * TIMEOUT_SCALE + 20))
	done
	BOOT_COUNT=$((BOOT_COUNT + 1))
	[ "${CGBLK_BOOT_FAULT:-0}" != "$BOOT_COUNT" ] || fault=" rdinit=/cgblk-boot-fault"
	NONCE=$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')
	make_initramfs "$out" "$suite" "$tests"
	local files=$out/$suite
	rm -rf "$files"
	mkdir -p "$files"
	: > "$out/$suite-marks.log"
	# In a subshell whose stderr is /dev/null: a power cut kills qemu, and
	# bash would report the killed job on the harness's output.
	rm -f "$out/$suite-qemu.rc"
	( timeout -k 5 "$total" qemu-system-x86_64 -nodefaults -no-user-config \
		-accel tcg,thread=multi -cpu max -smp 2 -m 2G \
		-display none -monitor none -no-reboot \
		-kernel "$KIMAGE" -initrd "$out/initramfs-$suite.cpio.gz" \
		-append "console=ttyS0,115200 ignore_loglevel panic=-1 oops=panic softlockup_panic=1 hung_task_panic=1 mitigations=off rdinit=/init$KAPPEND$fault" \
		-serial "file:$out/$suite-console.log" -serial "file:$out/$suite-marks.log" \
		-fsdev local,id=root,path=/,security_model=none,readonly=on,multidevs=remap \
		-device virtio-9p-pci,fsdev=root,mount_tag=hostroot \
		-fsdev "local,id=res,path=$files,security_model=none" \
		-device virtio-9p-pci,fsdev=res,mount_tag=results \
		${POWERCUT_DISK:+-drive "file=$POWERCUT_DISK,if=virtio,format=raw,cache=none"} \
		> "$out/$suite-qemu.log" 2>&1
	  echo $? > "$out/$suite-qemu.rc" ) 2> /dev/null &
	local qpid=$! seen=0 n line start=$SECONDS tpid
	while kill -0 $qpid 2>/dev/null; do
		sleep 2
		n=$(wc -l < "$out/$suite-marks.log")
		while [ "$seen" -lt "$n" ]; do
			seen=$((seen + 1))
			line=$(sed -n "${seen}p" "$out/$suite-marks.log" | tr -d '\r')
			case $line in
			BEGIN*) progress "$KSERIES ${line#BEGIN } ($((SECONDS - start))s into the boot)" ;;
			END*) set -- $line; progress "$KSERIES $2 exited $3 after ${7:-?}s" ;;
			# The power-cut suite: the guest asks for a hard power-off.
			POWERCUT) [ -z "${POWERCUT_DISK:-}" ] || {
					tpid=$(pgrep -P $qpid)	# timeout, qemu's parent
					pkill -KILL -P "$tpid"; kill -KILL "$tpid"
				} 2> /dev/null ;;
			esac
		done
	done
	wait $qpid
	QEMU_RC=$(cat "$out/$suite-qemu.rc" 2> /dev/null || echo 137)
	tr -d '\r' < "$out/$suite-console.log" > "$out/$suite-kernel.log"
	tr -d '\r' < "$out/$suite-marks.log" > "$out/$suite-marks.txt"
}
