"""Progress reports for long runs over many problems.

A tqdm bar where tqdm is installed; otherwise one line on stderr every few seconds
(never more often, so a run of thousands of tiny problems stays cheap). ``enabled=None``
shows progress only when stderr is a terminal, so test logs and pipes stay quiet.
"""

from __future__ import annotations

import sys
import time

__all__ = ["Progress", "check_progress"]

# seconds between two fallback lines (tests set it to 0)
FALLBACK_INTERVAL = 5.0


def check_progress(progress, name="progress"):
    """``progress`` must be True, False or None (the terminal decides)."""
    if progress is not None and not isinstance(progress, bool):
        raise TypeError(f"{name} must be True, False or None, got {progress!r}")
    return progress


def _resolve_enabled(enabled) -> bool:
    check_progress(enabled)
    if enabled is None:
        stream = sys.stderr
        return bool(stream is not None and hasattr(stream, "isatty") and stream.isatty())
    return enabled


class Progress:
    """``update(**fields)`` after each unit of work; ``close()`` at the end.

    Parameters
    ----------
    desc : str
        What is being counted (the bar's label).
    total : int, optional
        Number of units when known.
    enabled : bool or None
        ``None``: only when stderr is a terminal.
    interval : float, optional
        Seconds between two fallback lines (default ``FALLBACK_INTERVAL``; tqdm has
        its own refresh rate).
    stream : file, optional
        Where the fallback lines go (stderr by default).
    use_tqdm : bool
        Use tqdm when it is importable.
    """

    def __init__(self, desc, *, total=None, enabled=None, interval=None, stream=None,
                 use_tqdm=True):
        self.desc, self.total = desc, total
        self.enabled = _resolve_enabled(enabled)
        self.interval = FALLBACK_INTERVAL if interval is None else float(interval)
        self.stream = stream
        self.count = 0
        self._bar = None
        self._fields = {}
        self._start = self._last_line = time.perf_counter()
        self._printed = False
        if self.enabled and use_tqdm:
            try:
                from tqdm.auto import tqdm
            except ImportError:
                tqdm = None
            if tqdm is not None:
                self._bar = tqdm(total=total, desc=desc, unit="problem", file=stream)

    def update(self, **fields):
        """One unit done; ``fields`` (name -> value) are shown beside the count."""
        self.count += 1
        if not self.enabled:
            return
        self._fields = fields
        if self._bar is not None:
            self._bar.set_postfix(fields, refresh=False)
            self._bar.update(1)
            return
        now = time.perf_counter()
        if now - self._last_line >= self.interval:
            self._last_line = now
            self._write_line(now)

    def _write_line(self, now):
        done = f"{self.count}/{self.total}" if self.total is not None else str(self.count)
        shown = ", ".join(f"{k} {v}" for k, v in self._fields.items())
        print(f"{self.desc}: {done} done" + (f", {shown}" if shown else "")
              + f" ({now - self._start:.1f} s)", file=self.stream or sys.stderr, flush=True)
        self._printed = True

    def close(self):
        """End the display; the fallback writes a last line if it wrote any."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        elif self.enabled and self._printed:
            self._write_line(time.perf_counter())

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()
        return False
