# SPDX-License-Identifier: GPL-2.0
# build.sh - build cgblk for a test kernel; sourced by tests/run.
#
#   build_modules OUT    the tree and tests/modules for $KVER, with W=1, into
#                        OUT/build (log: OUT/build.log); sets BUILD_WHY on failure
#   dkms_setup / dkms_cleanup   the DKMS install the dkms_modprobe test loads
#
# Uses KVER, KDIR, KCHROOT (kernels.sh) and TOP.

build_modules() {
	local out=$1 b=$1/build rc
	rm -rf "$b"
	mkdir -p "$b"
	tar -C "$TOP" --exclude='*.o' --exclude='*.ko' --exclude='.*.cmd' --exclude='.*.d' \
		--exclude='*.mod' --exclude='*.mod.c' --exclude='*.symvers' --exclude='*.order' \
		-cf - Kbuild Makefile dkms.conf src include tests/modules | tar -C "$b" -xf -
	if [ -z "$KCHROOT" ]; then
		{ make -C "$b" -j"$(nproc)" KDIR="$KDIR" W=1 modules &&
		  make -C "$KDIR" -j"$(nproc)" M="$b/tests/modules" W=1 \
			KBUILD_EXTRA_SYMBOLS="$b/Module.symvers" modules; } > "$out/build.log" 2>&1
		rc=$?
	else
		# One build directory per results folder: runs side by side
		# must not build in each other's tree.
		local cb=/tmp/cgblk-build-$(printf '%s' "$out" | md5sum | cut -c1-12)
		rm -rf "$KCHROOT$cb"
		mkdir -p "$KCHROOT$cb"
		tar -C "$b" -cf - . | tar -C "$KCHROOT$cb" -xf -
		# objtool of newer kernels reads /proc: give the chroot its own,
		# in a mount namespace that goes away with the build.
		unshare --mount --fork /bin/sh -c "mount -t proc proc '$KCHROOT/proc' &&
			exec chroot '$KCHROOT' /bin/sh -c 'make -C $cb -j$(nproc) KDIR=$KDIR W=1 modules &&
			make -C $KDIR -j$(nproc) M=$cb/tests/modules W=1 \
			KBUILD_EXTRA_SYMBOLS=$cb/Module.symvers modules'" > "$out/build.log" 2>&1
		rc=$?
		(cd "$KCHROOT$cb" && find . -name '*.ko' -o -name Module.symvers | tar -cf - -T -) |
			tar -C "$b" -xf -
		rm -rf "$KCHROOT$cb"
	fi
	[ $rc -eq 0 ] || { BUILD_WHY="build failed (see $out/build.log)"; return 1; }
	if grep -Eq '(warning|error):|WARNING:' "$out/build.log"; then
		BUILD_WHY="warnings with W=1: $(grep -Em1 '(warning|error):|WARNING:' "$out/build.log")"
		return 1
	fi
	local m
	for m in $CGBLK_MODULES; do
		[ -f "$b/$m.ko" ] || { BUILD_WHY="no $m.ko"; return 1; }
	done
}

# DKMS: the real user path, for the kernels the host builds natively, when
# this kernel's run includes the dkms_modprobe test (RUN_GUEST: its tests).
# CGBLK_DKMS=installed, or the cgblk-dkms package installed: DKMS already
# has cgblk (tests/host/deb.sh installed the package): the guest loads those
# modules, nothing is added or removed.
dkms_setup() {
	DKMS_DONE=0
	[ -z "$KCHROOT" ] || return 0
	[[ " ${RUN_GUEST:-} " == *" dkms_modprobe "* ]] || return 0
	# an installed cgblk-dkms package owns /usr/src/cgblk-<version>: use it
	! pkg_installed cgblk-dkms || CGBLK_DKMS=installed
	if [ "${CGBLK_DKMS:-}" = installed ]; then
		if dkms status -m cgblk -k "$KVER" 2>/dev/null | grep -q ': installed'; then
			verdict PASS "$KSERIES/dkms-install" "(the installed package's, for $KVER)"
		else
			verdict FAIL "$KSERIES/dkms-install" "CGBLK_DKMS=installed, but DKMS has no cgblk installed for $KVER"
		fi
		return 0
	fi
	make -C "$TOP" --no-print-directory dkms-remove > "$OUT/dkms.log" 2>&1
	if make -C "$TOP" --no-print-directory KVER="$KVER" dkms-install >> "$OUT/dkms.log" 2>&1; then
		verdict PASS "$KSERIES/dkms-install" "(dkms add/build/install for $KVER)"
		DKMS_DONE=1
	else
		verdict FAIL "$KSERIES/dkms-install" "see $OUT/dkms.log"
	fi
}
dkms_cleanup() {
	[ "$DKMS_DONE" = 1 ] || return 0
	make -C "$TOP" --no-print-directory dkms-remove >> "$OUT/dkms.log" 2>&1
}
