"""How the engine's long operations tell their caller how far they are.

An operation takes a ``progress`` callback and calls it

* ``progress(message)`` when a phase begins, or when something is worth telling
  (leftovers removed, files already missing): one line of a log;
* ``progress(message, fraction=f)`` as the operation advances, repeating the
  current message, with ``f`` the fraction done of the *whole* operation:
  0.0-1.0, never lower than the one before, 1.0 once it succeeded.

Fractions are always passed by keyword, and only to a callback that accepts a
``fraction`` keyword: a callback taking just the message (the older contract)
gets the messages, exactly as before, and no repeated message per tick. Ticks
within a phase (one per file stored, say) are throttled to a few a second, so a
caller may log or redraw on each call.

:class:`Tracker` does all of that for an operation; an operation run as one
phase of another (the restore inside a copy made from a backup) reports through
:meth:`Tracker.within`, so its 0-1 maps into that phase of the whole.
"""

from __future__ import annotations

import inspect
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

TICK_INTERVAL = 0.2  # seconds between two fractions within a phase: five a second at most


class Progress(Protocol):
    """A callback of the full contract (see the module docstring)."""

    def __call__(self, message: str, fraction: float | None = None) -> None: ...


# what operations accept: callbacks of the full contract, or of the message alone
ProgressCallback = Progress | Callable[[str], None]


def accepts_keyword(callback: Callable, name: str) -> bool:
    """Whether ``callback`` can be called with the keyword argument ``name``."""
    try:
        parameters = inspect.signature(callback).parameters.values()
    except (TypeError, ValueError):  # a builtin without a signature: assume the old contract
        return False
    return any(
        p.kind is p.VAR_KEYWORD
        or (p.name == name and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))
        for p in parameters
    )


def overall_fraction(
    weights: Sequence[float], phase: int, done: float = 0, total: float = 0
) -> float:
    """The fraction of the whole reached ``done`` of ``total`` units into phase ``phase``.

    :param weights: each phase's share of the whole, in order (any positive unit)
    :param phase: the phase under way, 0-based; the phases before it are complete
    """
    inside = min(done / total, 1.0) if total > 0 else 0.0
    return (sum(weights[:phase]) + weights[phase] * inside) / sum(weights)


class Throttle:
    """Says yes at most once every ``interval`` seconds."""

    def __init__(self, interval: float = TICK_INTERVAL):
        self._interval = interval
        self._next = 0.0

    def ready(self) -> bool:
        now = time.monotonic()
        if now < self._next:
            return False
        self._next = now + self._interval
        return True


class Tracker:
    """One operation's progress, told through its caller's callback.

    Safe to call from the operation's worker threads (a filestore stored while
    the dump runs): one lock orders the calls, so fractions never go down.
    """

    def __init__(self, progress: ProgressCallback | None, weights: Mapping[str, float]):
        self._progress = progress
        self._with_fractions = progress is not None and accepts_keyword(progress, "fraction")
        self._names = list(weights)
        self._weights = [float(weight) for weight in weights.values()]
        self._phase = 0
        self._message = ""
        self._told = 0.0  # the highest fraction told
        self._throttle = Throttle()
        self._lock = threading.Lock()

    def say(self, message: str) -> None:
        """Tell ``message`` (without changing the phase)."""
        with self._lock:
            self._message = message
            if self._progress is not None:
                self._progress(message)

    def phase(self, name: str, message: str | None = None) -> None:
        """Phase ``name`` begins (the ones before it are done); tell ``message`` if any."""
        self._phase = self._names.index(name)
        if message is not None:
            self.say(message)
        self._tell(overall_fraction(self._weights, self._phase))

    def units(self, done: float, total: float) -> None:
        """``done`` of ``total`` units of the current phase are done; throttled."""
        with self._lock:
            if not self._throttle.ready():
                return
        self._tell(overall_fraction(self._weights, self._phase, done, total))

    def finish(self, message: str) -> None:
        """The operation succeeded: tell ``message`` and the whole done."""
        self.say(message)
        self._tell(1.0)

    def within(self, name: str) -> Progress:
        """A callback for an operation run as phase ``name`` of this one."""
        index = self._names.index(name)

        def progress(message: str, fraction: float | None = None) -> None:
            if fraction is None:
                self.phase(name, message)
            else:  # already throttled by the inner operation
                self._tell(overall_fraction(self._weights, index, fraction, 1.0))

        return progress

    def _tell(self, fraction: float) -> None:
        with self._lock:
            if fraction <= self._told:
                return
            self._told = min(fraction, 1.0)
            if self._with_fractions:
                self._progress(self._message, fraction=self._told)


class SideBySide:
    """Parts of one phase done side by side (a dump and a filestore), told as one count.

    A part's total may be unknown at first (``None``, a filestore not walked yet):
    nothing is told until every total is known, so the fraction never has to go back.
    """

    def __init__(self, tracker: Tracker, totals: Mapping[str, float | None]):
        self._tracker = tracker
        self._totals = dict(totals)
        self._done = dict.fromkeys(totals, 0.0)
        self._lock = threading.Lock()

    def update(self, part: str, done: float, total: float | None = None) -> None:
        """``done`` units of ``part`` are done (of ``total``, when it was not known)."""
        with self._lock:
            self._done[part] = done
            if total is not None:
                self._totals[part] = total
            if None in self._totals.values():
                return
            done_all, total_all = sum(self._done.values()), sum(self._totals.values())
        self._tracker.units(done_all, total_all)

    def complete(self, part: str) -> None:
        """``part`` is done (its total must be known)."""
        self.update(part, self._totals[part])
