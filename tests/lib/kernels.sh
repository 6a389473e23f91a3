# SPDX-License-Identifier: GPL-2.0
# kernels.sh - get a stock Debian kernel (image, modules, headers) for tests.
#
# Sourced by tests/run and the Makefile helpers.  One function matters:
#
#   kernel_setup SERIES     SERIES is 5.10, 6.1, 6.12 or 7.3
#
# It installs what is missing and sets:
#   KSERIES   the series asked for
#   KVER      the kernel release, e.g. 6.1.0-56-amd64
#   KIMAGE    path of the kernel image on the host
#   KMODDIR   path of /lib/modules/$KVER on the host (maybe inside a chroot)
#   KCHROOT   the chroot that builds modules for it, empty when built natively
#   KDIR      the kernel build directory as the builder sees it
#
# 6.1 and 6.12 are built natively (bookworm's gcc-12 serves both); 5.10
# needs gcc-10 (bullseye) and 7.3 needs gcc-14 and glibc >= 2.38 (trixie),
# so those live in debootstrapped chroots under $CGBLK_CACHE.  Everything
# is cached and rebuilt when missing.  The host's own apt sources are never
# changed: extra suites are passed with -o Dir::Etc::SourceList=.

: "${CGBLK_CACHE:=/var/cache/cgblk}"
CGBLK_MIRROR=${CGBLK_MIRROR:-http://deb.debian.org/debian}
CGBLK_KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

klog() { printf '[kernels] %s\n' "$*" >&2; }

. "$(dirname "${BASH_SOURCE[0]}")/debug-kernel.sh"

# pkg_installed PACKAGE: whether dpkg has PACKAGE installed.
pkg_installed() {
	dpkg-query -W -f '${Status}' "$1" 2>/dev/null | grep -q 'ok installed'
}

# Host packages the harness needs; installed once, quietly.  The guest runs
# the host's own userspace (its / over 9p, vm.sh): the tests' tools are
# host packages too (udev: udevadm monitor; e2fsprogs: mkfs.ext4, debugfs;
# linux-perf: the benchmarks' perf stat).  A machine that lacked udev once
# failed cgloop_load_fails_whole on the first run of a fresh clone.
host_packages_ensure() {
	local want=(qemu-system-x86 busybox-static fio kmod cpio dkms debootstrap
		    xz-utils zstd bc make gcc libelf-dev dmsetup procps python3
		    udev e2fsprogs linux-perf)
	local missing=() p
	for p in "${want[@]}"; do
		pkg_installed "$p" || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	klog "installing host packages: ${missing[*]}"
	apt-get update -qq >&2 &&
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		"${missing[@]}" >&2
}

# Versioned image package a metapackage depends on, e.g.
# linux-image-amd64 -> linux-image-6.1.0-56-amd64.
_kmeta_dep() {	# apt-opts... -- meta version
	local meta=$1 ver=$2; shift 2
	apt-cache "$@" depends "$meta=$ver" 2>/dev/null |
		awk '/Depends: linux-(image|headers)-[0-9]/{print $2; exit}'
}

_native_setup() {	# series
	local series=$1 opts=() ver img
	host_packages_ensure || return 1
	case $series in
	6.1)
		ver=$(apt-cache policy linux-image-amd64 | awk '/Candidate:/{print $2}')
		if [ -z "$ver" ] || [ "$ver" = "(none)" ]; then
			apt-get update -qq >&2
			ver=$(apt-cache policy linux-image-amd64 | awk '/Candidate:/{print $2}')
		fi
		;;
	6.12)
		mkdir -p "$CGBLK_CACHE/apt"
		echo "deb [signed-by=$CGBLK_KEYRING] $CGBLK_MIRROR bookworm-backports main" \
			> "$CGBLK_CACHE/apt/bookworm-backports.list"
		opts=(-o "Dir::Etc::SourceList=$CGBLK_CACHE/apt/bookworm-backports.list")
		ver=$(apt-cache "${opts[@]}" madison linux-image-amd64 2>/dev/null |
		      awk -F' *[|] *' '$2 ~ /^6\.12\./ {print $2; exit}')
		if [ -z "$ver" ]; then
			apt-get "${opts[@]}" update -qq >&2
			ver=$(apt-cache "${opts[@]}" madison linux-image-amd64 |
			      awk -F' *[|] *' '$2 ~ /^6\.12\./ {print $2; exit}')
		fi
		;;
	esac
	[ -n "$ver" ] || { klog "no linux-image-amd64 for $series"; return 1; }
	img=$(_kmeta_dep linux-image-amd64 "$ver" "${opts[@]}")
	[ -n "$img" ] || { klog "cannot resolve linux-image-amd64=$ver"; return 1; }
	KVER=${img#linux-image-}
	if [ ! -e "/boot/vmlinuz-$KVER" ] || [ ! -e "/lib/modules/$KVER/build/Makefile" ]; then
		klog "installing $img and its headers"
		DEBIAN_FRONTEND=noninteractive apt-get "${opts[@]}" install -y -qq \
			--no-install-recommends "$img" "linux-headers-$KVER" >&2 || return 1
	fi
	KIMAGE=/boot/vmlinuz-$KVER
	KMODDIR=/lib/modules/$KVER
	KCHROOT=
	KDIR=/lib/modules/$KVER/build
}

_chroot_setup() {	# series suite kernel-suite
	local series=$1 suite=$2 ksuite=$3
	local root=$CGBLK_CACHE/chroot/$suite stamp
	stamp=$root/.cgblk-ready
	host_packages_ensure || return 1
	if [ ! -e "$stamp" ]; then
		klog "debootstrap $suite into $root (once; a few minutes)"
		rm -rf "$root"
		mkdir -p "$root"
		debootstrap --variant=minbase --include=gcc,make,kmod,libelf-dev,bc,xz-utils,zstd \
			"$suite" "$root" "$CGBLK_MIRROR" > "$CGBLK_CACHE/debootstrap-$suite.log" 2>&1 || {
			klog "debootstrap failed: see $CGBLK_CACHE/debootstrap-$suite.log"
			return 1
		}
		{
			echo "deb [signed-by=$CGBLK_KEYRING] $CGBLK_MIRROR $suite main"
			[ "$ksuite" = "$suite" ] ||
				echo "deb [signed-by=$CGBLK_KEYRING] $CGBLK_MIRROR $ksuite main"
		} > "$root/etc/apt/sources.list"
		cp "$CGBLK_KEYRING" "$root/usr/share/keyrings/" 2>/dev/null
		# No initramfs and no bootloader are wanted: the harness boots the
		# image with its own initramfs.
		mkdir -p "$root/etc/initramfs-tools"
		printf '#!/bin/sh\nexit 101\n' > "$root/usr/sbin/policy-rc.d"
		chmod +x "$root/usr/sbin/policy-rc.d"
		klog "installing the $ksuite kernel into the $suite chroot"
		chroot "$root" /bin/sh -c "apt-get update -qq &&
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			--no-install-recommends -t $ksuite linux-image-amd64 linux-headers-amd64" \
			> "$CGBLK_CACHE/kernel-$suite.log" 2>&1 || {
			klog "kernel install failed: see $CGBLK_CACHE/kernel-$suite.log"
			return 1
		}
		touch "$stamp"
	fi
	KVER=$(cd "$root/lib/modules" && ls -d [0-9]*/ 2>/dev/null | tr -d / | sort -V | tail -1)
	[ -n "$KVER" ] || { klog "no kernel in $root"; return 1; }
	KIMAGE=$root/boot/vmlinuz-$KVER
	KMODDIR=$root/lib/modules/$KVER
	KCHROOT=$root
	KDIR=/lib/modules/$KVER/build
}

kernel_setup() {	# series
	KSERIES=$1
	mkdir -p "$CGBLK_CACHE"
	exec 9>"$CGBLK_CACHE/.lock-$KSERIES"
	flock 9
	case $KSERIES in
	6.1|6.12) _native_setup "$KSERIES" ;;
	5.10)     _chroot_setup "$KSERIES" bullseye bullseye ;;
	7.3)      _chroot_setup "$KSERIES" trixie trixie-backports ;;
	debug)    _debug_setup ;;
	*)        klog "unsupported kernel series '$KSERIES' (5.10 6.1 6.12 7.3 debug)"; false ;;
	esac
	local rc=$?
	exec 9>&-
	[ $rc -eq 0 ] || return $rc
	case $KVER in
	"$KSERIES".*|"$KSERIES"-*) ;;
	6.1.*-cgblk-debug) [ "$KSERIES" = debug ] || { klog "series $KSERIES resolved to kernel $KVER"; return 1; } ;;
	*) klog "series $KSERIES resolved to kernel $KVER"; return 1 ;;
	esac
	[ -r "$KIMAGE" ] || { klog "missing kernel image $KIMAGE"; return 1; }
}
