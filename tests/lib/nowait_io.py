#!/usr/bin/python3
"""nowait_io.py DEV read|write OFFSET [BYTE]: one 4 KiB O_DIRECT preadv2 or
pwritev2 with RWF_NOWAIT at OFFSET (a written block is BYTE, default 0xa5).
Prints "ok" or the errno's name (EAGAIN, EOPNOTSUPP, ...) and exits 0;
the caller judges it."""
import errno
import mmap
import os
import sys

dev, op, off = sys.argv[1], sys.argv[2], int(sys.argv[3])
byte = int(sys.argv[4], 0) if len(sys.argv) > 4 else 0xA5
buf = mmap.mmap(-1, 4096)  # page-aligned, as O_DIRECT needs
fd = os.open(dev, (os.O_WRONLY if op == "write" else os.O_RDONLY) | os.O_DIRECT)
try:
    if op == "write":
        buf.write(bytes([byte]) * 4096)
        n = os.pwritev(fd, [buf], off, os.RWF_NOWAIT)
    else:
        n = os.preadv(fd, [buf], off, os.RWF_NOWAIT)
    print("ok" if n == 4096 else "short %d" % n)
except OSError as e:
    # EOPNOTSUPP and ENOTSUP are one number on Linux: name it the first way
    if e.errno == errno.EOPNOTSUPP:
        print("EOPNOTSUPP")
    else:
        print(errno.errorcode.get(e.errno, str(e.errno)))
finally:
    os.close(fd)
