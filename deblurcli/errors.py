"""Typed errors: the CLI turns each into a one-line message."""


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
