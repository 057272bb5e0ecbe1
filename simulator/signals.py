"""Ctrl-C and SIGTERM: they stop a run cleanly, but never a clean-up half way."""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Any, Dict, Iterator


@contextmanager
def _handlers(handlers: Dict[int, Any]) -> Iterator[None]:
    """Install signal handlers for the duration (only the main thread can)."""
    saved = {}
    if threading.current_thread() is threading.main_thread():
        for sig, handler in handlers.items():
            saved[sig] = signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def _sigterm_handler(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt()


def signals_deferred() -> Any:
    """Ignore Ctrl-C and SIGTERM for the duration (clean-up must finish)."""
    return _handlers({signal.SIGINT: signal.SIG_IGN, signal.SIGTERM: signal.SIG_IGN})


def signals_interrupt() -> Any:
    """Ctrl-C and SIGTERM raise KeyboardInterrupt for the duration, even
    when the caller started us with SIGINT ignored (as shells do for '&'
    jobs)."""
    return _handlers({signal.SIGINT: signal.default_int_handler, signal.SIGTERM: _sigterm_handler})
