"""The mistakes in a user's input that seg_d2's commands end with as one message (the
input at fault named), not a traceback; ``SEG_D2_TRACEBACK=1`` shows the traceback too."""

__all__ = [
    "ConfigError",
    "DatasetError",
    "RunFileError",
    "SegD2Error",
    "TRACEBACK_VARIABLE",
    "TrainingDivergedError",
]

TRACEBACK_VARIABLE = "SEG_D2_TRACEBACK"


class SegD2Error(Exception):
    """A problem with the user's input, told as a message."""


class DatasetError(SegD2Error, ValueError):
    """A dataset that cannot be trained on; the message lists each culprit."""


class ConfigError(SegD2Error, ValueError):
    """A config that cannot run: a missing file, an unknown key, a wrong value."""


class RunFileError(SegD2Error, ValueError):
    """A training run's file that is missing or cut short (metrics.json of a killed run)."""


class TrainingDivergedError(SegD2Error, FloatingPointError):
    """The loss became NaN/inf; the message says which checkpoint is intact and what to change."""
