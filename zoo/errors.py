"""Errors a user of the zoo can cause and fix.

Every error here carries a message that says what went wrong and what to do
about it; the CLI prints it as one line and exits non-zero.
"""


class ZooError(Exception):
    """Base class for the zoo's user-facing errors."""


class UnknownModelError(ZooError, KeyError):
    """A model name that is not in the registry."""

    def __str__(self):  # KeyError would quote the message.
        return str(self.args[0])


class NotPublishedError(ZooError):
    """A registered model that has no pretrained checkpoint yet."""


class WeightsNotFoundError(ZooError):
    """No source (weights dir, Hub cache, Hub, in-repo copy) had the files."""


class ChecksumError(ZooError):
    """A checkpoint file whose sha256 differs from the manifest's."""


class DataNotFoundError(ZooError):
    """A data set that is not prepared locally while downloads are off."""


class ExportError(ZooError):
    """A model that cannot be exported as asked, or whose export disagrees with Keras."""


class TrainingDivergedError(ZooError):
    """A training run whose loss became NaN or infinite; it stopped there and published nothing."""
