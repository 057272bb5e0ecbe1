"""Ctrl-C, SIGTERM and SIGHUP: they stop a run cleanly, but never a clean-up
half way (docs/simulator.md, "Signals and clean-up")."""

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


def _stop_handler(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt()


# The signals that stop a run: Ctrl-C, a polite kill, the terminal hanging up.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def signals_deferred() -> Any:
    """Ignore the stop signals for the duration (clean-up must finish)."""
    return _handlers({sig: signal.SIG_IGN for sig in STOP_SIGNALS})


def signals_interrupt() -> Any:
    """Ctrl-C, SIGTERM and SIGHUP raise KeyboardInterrupt for the duration,
    Ctrl-C even when the caller started us with it ignored (as shells do
    for '&' jobs); an ignored SIGHUP stays ignored (nohup asked for it)."""
    handlers: Dict[int, Any] = {signal.SIGINT: signal.default_int_handler,
                                signal.SIGTERM: _stop_handler}
    if signal.getsignal(signal.SIGHUP) is not signal.SIG_IGN:
        handlers[signal.SIGHUP] = _stop_handler
    return _handlers(handlers)
