# SPDX-License-Identifier: GPL-2.0
# debug-kernel.sh - build (once) and cache the debug kernel of make check-debug.
#
# Sourced by tests/lib/kernels.sh; kernel_setup debug calls _debug_setup.
# The kernel is Debian's linux-source-6.1 with x86_64_defconfig,
# kvm_guest.config and tests/debug/debug.config.  It is cached under
# $CGBLK_CACHE/debug/<key>, where <key> hashes the source package's version
# and the fragment: a new source package or a changed fragment builds a new
# kernel, anything else reuses the cached one.
#
#   CGBLK_DEBUG_BUILD=0   never build: fail when no cached kernel matches
#                         (what CI uses; see .ci/run)

_debug_key() {
	local ver
	ver=$(dpkg-query -W -f '${Version}' linux-source-6.1 2>/dev/null) || return 1
	[ -n "$ver" ] || return 1
	printf '%s\n' "$ver" | cat - "$TOP_DEBUG_FRAGMENT" | sha256sum | cut -c1-16
}

# Options the fragment asks for that .config does not have.
_debug_config_check() {	# fragment .config
	local line opt val bad=0
	while IFS= read -r line; do
		case $line in
		CONFIG_*=*)
			opt=${line%%=*}; val=${line#*=}
			grep -qx "$opt=$val" "$2" || { klog "config: want $line, got $(grep -E "^(# )?$opt[= ]" "$2" || echo unset)"; bad=1; }
			;;
		"# CONFIG_"*" is not set")
			opt=${line#\# }; opt=${opt%% *}
			! grep -qE "^$opt=" "$2" || { klog "config: want $opt unset, got $(grep -E "^$opt=" "$2")"; bad=1; }
			;;
		esac
	done < "$1"
	return $bad
}

_debug_build() {	# dir
	local dir=$1 src=$1/src tarball=/usr/src/linux-source-6.1.tar.xz
	local start=$SECONDS pid n
	rm -rf "$dir.tmp"
	mkdir -p "$dir.tmp"
	klog "debug kernel: unpacking $tarball"
	tar -C "$dir.tmp" -xf "$tarball" || return 1
	mv "$dir.tmp"/linux-source-6.1 "$dir.tmp/src" || return 1
	src=$dir.tmp/src
	cp "$TOP_DEBUG_FRAGMENT" "$src/kernel/configs/cgblk_debug.config"
	klog "debug kernel: configuring (x86_64_defconfig kvm_guest.config cgblk_debug.config)"
	make -C "$src" -s x86_64_defconfig kvm_guest.config cgblk_debug.config \
		> "$dir.tmp/config.log" 2>&1 || { klog "configure failed: $dir.tmp/config.log"; return 1; }
	_debug_config_check "$TOP_DEBUG_FRAGMENT" "$src/.config" || return 1
	klog "debug kernel: building bzImage and modules with -j$(nproc) (about 30 min on 2 cores)"
	make -C "$src" -j"$(nproc)" bzImage modules > "$dir.tmp/build.log" 2>&1 &
	pid=$!
	while kill -0 $pid 2>/dev/null; do
		sleep 60 &
		wait $! 2>/dev/null
		kill -0 $pid 2>/dev/null || break
		n=$(find "$src" -name '*.o' 2>/dev/null | wc -l)
		klog "debug kernel: $(( (SECONDS - start) / 60 )) min, $n objects built"
	done
	wait $pid || { klog "build failed: tail of $dir.tmp/build.log:"; tail -n 20 "$dir.tmp/build.log" >&2; return 1; }
	make -C "$src" -s INSTALL_MOD_PATH="$dir.tmp/root" modules_install \
		> "$dir.tmp/install.log" 2>&1 || { klog "modules_install failed: $dir.tmp/install.log"; return 1; }
	# The headers and objects are kept: the build tree is KDIR for our modules.
	rm -rf "$dir"
	mv "$dir.tmp" "$dir"
	klog "debug kernel: built in $(( (SECONDS - start) / 60 )) min"
}

_debug_setup() {
	local key dir
	TOP_DEBUG_FRAGMENT=${TOP_DEBUG_FRAGMENT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../debug" && pwd)/debug.config}
	if ! dpkg-query -W -f '${Status}' linux-source-6.1 2>/dev/null | grep -q 'ok installed'; then
		[ "${CGBLK_DEBUG_BUILD:-1}" = 1 ] || { klog "no linux-source-6.1 and CGBLK_DEBUG_BUILD=0"; return 1; }
		klog "installing linux-source-6.1 and the kernel build dependencies"
		apt-get update -qq >&2
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			linux-source-6.1 bc bison flex libssl-dev libelf-dev dwarves rsync >&2 || return 1
	fi
	key=$(_debug_key) || { klog "cannot read the linux-source-6.1 version"; return 1; }
	dir=$CGBLK_CACHE/debug/$key
	if [ ! -e "$dir/src/arch/x86/boot/bzImage" ]; then
		[ "${CGBLK_DEBUG_BUILD:-1}" = 1 ] || { klog "no cached debug kernel $dir (CGBLK_DEBUG_BUILD=0)"; return 1; }
		for p in bc bison flex libssl-dev libelf-dev; do
			dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || {
				DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
					bc bison flex libssl-dev libelf-dev >&2 || return 1
				break
			}
		done
		mkdir -p "$CGBLK_CACHE/debug"
		_debug_build "$dir" || return 1
	fi
	KVER=$(cat "$dir/src/include/config/kernel.release")
	KIMAGE=$dir/src/arch/x86/boot/bzImage
	KMODDIR=$dir/root/lib/modules/$KVER
	KCHROOT=
	KDIR=$dir/src
	DEBUG_KERNEL_DIR=$dir
}
