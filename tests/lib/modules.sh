# SPDX-License-Identifier: GPL-2.0
# modules.sh - the one list of cgblk's modules; sourced on the host and in
# the guest.  Kbuild builds the same four.
#
# CGBLK_MODULES     file names, in load order (cgblk_core first)
# CGBLK_USERS       the users of cgblk_core, in load order
# CGBLK_UNLOAD      file names, in unload order
CGBLK_MODULES="cgblk_core cgblk_offload cgloop dm-cgsnap"
CGBLK_USERS=${CGBLK_MODULES#cgblk_core }
CGBLK_UNLOAD=$(printf '%s\n' $CGBLK_MODULES | tac | tr '\n' ' ')
CGBLK_UNLOAD=${CGBLK_UNLOAD% }
