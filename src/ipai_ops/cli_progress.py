"""The command line's progress on stderr.

On a terminal: one line, redrawn in place, ``[#########.........]  47%  Storing the
filestore``, ended by a newline when the command ends. In a pipe or a log file:
``… message`` once per phase, nothing per file and no control characters.
With ``--json`` or ``--quiet``: nothing.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from .progress import ProgressCallback

BAR_WIDTH = 20  # characters between the brackets
DEFAULT_COLUMNS = 80  # when the terminal does not say its width


class TerminalBar:
    """A progress callback drawing one line on a terminal."""

    def __init__(self, stream: TextIO):
        self._stream = stream
        self._fraction = 0.0
        self._drawn = 0  # characters on the line now

    def __call__(self, message: str, fraction: float | None = None) -> None:
        if fraction is not None:
            self._fraction = fraction
        filled = round(self._fraction * BAR_WIDTH)
        line = f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {self._fraction:4.0%}  {message}"
        line = line[: self._columns() - 1]  # a wrapped line could not be redrawn by \r
        self._stream.write("\r" + line.ljust(self._drawn))  # spaces over a longer last line
        self._stream.flush()
        self._drawn = len(line)

    def close(self) -> None:
        if self._drawn:
            self._stream.write("\n")
            self._stream.flush()
            self._drawn = 0

    def _columns(self) -> int:
        try:
            return os.get_terminal_size(self._stream.fileno()).columns or DEFAULT_COLUMNS
        except (OSError, ValueError):
            return DEFAULT_COLUMNS


@contextmanager
def progress_on(stream: TextIO, *, silent: bool) -> Iterator[ProgressCallback | None]:
    """The progress callback a command passes to the engine, for the time of the command."""
    if silent:
        yield None
    elif stream.isatty():
        bar = TerminalBar(stream)
        try:
            yield bar
        finally:
            bar.close()  # whatever follows (the result, an error) starts on its own line
    else:
        # the message alone: the engine then calls once per phase, never per file
        yield lambda message: print(f"… {message}", file=stream, flush=True)
