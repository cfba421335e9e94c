"""Host memory: resident set now and its peak over a case, read from /proc on Linux.

The peak is reset per case by writing ``5`` to ``/proc/self/clear_refs`` (Linux ≥ 4.0), which
sets ``VmHWM`` back to the current RSS; without it, ``ru_maxrss`` would carry the peak of every
earlier case in the process. Where /proc is missing (macOS) the process-lifetime peak from
``getrusage`` is used and :func:`reset_peak_rss` says it could not reset.
"""

from __future__ import annotations

import re
import resource
import sys
from pathlib import Path

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")
_STATM = Path("/proc/self/statm")
_PAGE_BYTES = resource.getpagesize()


def current_rss_bytes() -> int:
    """The process's resident set size now, in bytes."""
    try:
        resident_pages = int(_STATM.read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return peak_rss_bytes()
    return resident_pages * _PAGE_BYTES


def reset_peak_rss() -> bool:
    """Reset the peak-RSS watermark to the current RSS; ``False`` if the OS does not allow it."""
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return True


def peak_rss_bytes() -> int:
    """Peak resident set size since the last :func:`reset_peak_rss` (or process start), bytes."""
    try:
        match = re.search(r"^VmHWM:\s+(\d+) kB", _STATUS.read_text(), re.MULTILINE)
    except OSError:
        match = None
    if match is not None:
        return int(match.group(1)) * 1024
    max_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return max_rss if sys.platform == "darwin" else max_rss * 1024
