"""Typed errors: the CLI turns each into a one-line message."""


def last_line(e: BaseException, default: str, limit: int = 160) -> str:
    """The last line of a library's (often multi-line) error message, for a one-line report."""
    text = str(e).strip()
    return (text.splitlines()[-1] if text else default)[:limit]


class DeblurError(Exception):
    """Base class for errors a user can act on."""


class EngineError(DeblurError, ValueError):
    """A back end cannot run as asked (device missing, precision unsupported, a failed build or verification)."""


class BackboneError(DeblurError, ValueError):
    """ImageNet backbone weights that cannot be used (wrong file, wrong architecture)."""


class GrowError(DeblurError, ValueError):
    """A checkpoint that cannot be grown into a bigger variant."""


class CheckpointError(DeblurError):
    """A weights file is unreadable, not a checkpoint, or for another model."""


class WeightsMissing(DeblurError):
    """No trained weights for the requested model."""


class ImageError(DeblurError):
    """An image cannot be read, decoded or written."""


class UnknownModel(DeblurError, KeyError):
    """An architecture or variant name the registry does not know (a KeyError too, for lookups)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class OutOfMemory(DeblurError):
    """The device ran out of memory for a batch of tiles (the pipeline retries smaller before giving up)."""


def caused_by_interrupt(error: BaseException) -> bool:
    """True if a KeyboardInterrupt is in ``error``'s chain of causes.

    A Ctrl-C that lands inside code that wraps exceptions surfaces as another error caused by the
    KeyboardInterrupt: ``ImportError: initialization failed`` from a compiled extension (openvino's pybind11
    module), ``RuntimeError: Error calling __set_name__`` from a class being created during an import (both
    measured at start-up).
    """
    seen: set[int] = set()
    cause = error.__cause__ or error.__context__
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, KeyboardInterrupt):
            return True
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return False


def reraise_interrupt(error: BaseException) -> None:
    """Raise KeyboardInterrupt if ``error`` was caused by one: call it first in an ``except ImportError`` that
    reports a missing package, so that the user's interrupt does not become "install X"."""
    if caused_by_interrupt(error):
        raise KeyboardInterrupt from None
