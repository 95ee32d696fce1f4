"""Peak resident memory of a Python snippet run in a fresh interpreter, for the memory tests.

The child reports its own high-water mark, `VmHWM` from /proc/self/status. Not ru_maxrss:
on Linux it survives fork+exec, so a child of a pytest process that already loaded models
would report the parent's peak. Other systems fall back to ru_maxrss.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

_REPORT = """
def _peak_rss() -> int:
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        import resource
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024  # bytes on macOS, else KiB


print("peak_rss", _peak_rss())
"""


def peak_rss(code: str, *args: str, timeout: float = 900) -> tuple[int, str]:
    """(peak RSS in bytes, stdout) of `code` run with `args` as sys.argv[1:] in a fresh python."""
    script = "import sys\n" + textwrap.dedent(code) + _REPORT
    done = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True,
                          timeout=timeout)
    assert done.returncode == 0, f"snippet failed ({done.returncode}):\n{done.stderr[-4000:]}"
    out, _, report = done.stdout.rstrip("\n").rpartition("\n")
    key, value = report.split()
    assert key == "peak_rss", done.stdout[-2000:]
    return int(value), out
