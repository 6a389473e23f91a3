#!/bin/bash
# Proves: every module is built for the running kernel and carries license,
# description, author and, for the users, the CGBLK namespace import and the
# cgblk_core dependency; every parameter has a description and a README
# entry.
# tier: core
# timeout: 60
. "$CGBLK_TOP/tests/lib/guest-lib.sh"

for m in $CGBLK_MODULES; do
	f=$(ko "$m")
	[ "$(modinfo -F license "$f")" = GPL ] || fail "$m: license is not GPL"
	[ -n "$(modinfo -F description "$f")" ] || fail "$m: no description"
	[ -n "$(modinfo -F author "$f")" ] || fail "$m: no author"
	vm=$(modinfo -F vermagic "$f")
	[ "${vm%% *}" = "$(uname -r)" ] || fail "$m: vermagic '$vm' is not for $(uname -r)"
	if [ "$m" != cgblk_core ]; then
		[ "$(modinfo -F import_ns "$f")" = CGBLK ] || fail "$m: does not import the CGBLK namespace"
		[[ ",$(modinfo -F depends "$f")," == *,cgblk_core,* ]] ||
			fail "$m: depends on '$(modinfo -F depends "$f")', not on cgblk_core"
	fi
	while IFS= read -r p; do
		[ -n "$p" ] || continue
		name=${p%%:*}
		desc=${p#*:}
		[ -n "${desc// /}" ] || fail "$m: parameter $name has no description"
		grep -q "\`$name\`" "$CGBLK_TOP/README.md" || fail "$m: parameter $name is not in README.md"
		log "$m: parameter $name: $desc"
	done <<< "$(modinfo -F parm "$f")"
	log "$m: $(modinfo -F description "$f")"
done
# cgblk_core and cgblk_offload export their APIs in the CGBLK namespace only.
grep -P '\tcgblk_\w+\t' "$CGBLK_KO/Module.symvers" > "$CGBLK_OUT/exports.txt"
grep -qP '[\t/]cgblk_core\t' "$CGBLK_OUT/exports.txt" || fail "cgblk_core exports nothing"
grep -qP '[\t/]cgblk_offload\t' "$CGBLK_OUT/exports.txt" || fail "cgblk_offload exports nothing"
if grep -vP '\t([^\t]*/)?cgblk_(core|offload)\tEXPORT_SYMBOL_GPL\tCGBLK$' "$CGBLK_OUT/exports.txt"; then
	fail "exports above are not GPL-only in the CGBLK namespace"
fi
log "exports: $(awk '{print $2}' "$CGBLK_OUT/exports.txt" | tr '\n' ' ')"
