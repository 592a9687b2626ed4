"""Runs a command on a pseudo-terminal (as a person's terminal would) and prints, as JSON,
everything it wrote there and its exit code: `python3 in_pty.py PROGRAM ARGS...`."""
import json
import os
import pty
import select
import sys

pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
out = b""
while True:
    try:
        ready, _, _ = select.select([fd], [], [], 60)
        if not ready:
            break
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        out += chunk
    except OSError:  # the child closed the terminal
        break
_, status = os.waitpid(pid, 0)
print(json.dumps({"output": out.decode("utf-8", "replace"), "code": os.waitstatus_to_exitcode(status)}))
