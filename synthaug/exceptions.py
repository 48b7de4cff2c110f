"""Exception hierarchy.

Every error synthaug raises on purpose derives from :class:`SynthaugError`, so the
CLI can turn it into a clear message and a non-zero exit without a traceback.
"""

from __future__ import annotations


class SynthaugError(Exception):
    """Root of every error synthaug raises deliberately."""


class InvalidDataError(SynthaugError, ValueError):
    """Input data is missing, unreadable, malformed or inconsistent."""


class ConfigError(SynthaugError, ValueError):
    """A parameter, flag or recipe value is invalid."""


class ModelFileError(SynthaugError, ValueError):
    """A saved model file is missing, corrupt, or unsafe to load."""


class OutputError(SynthaugError, OSError):
    """An output location cannot be written (exists, is a file, not writable)."""


class TrainingDivergedError(SynthaugError, RuntimeError):
    """Training diverged and could not be recovered."""


class NotFittedError(SynthaugError, AttributeError):
    """An estimator method that needs a fitted model was called before ``fit``."""


class LowQualityError(SynthaugError):
    """Generated samples failed the quality gate (:mod:`synthaug.quality`).

    The fitted estimator is kept: ``GANOverSampler`` sets ``generator_`` and
    ``quality_`` before raising, so a caller can inspect or still use them.
    """


class JobError(SynthaugError, RuntimeError):
    """A job of a study's grid failed; the message names the job (seed, size, arm, ratio).

    ``details`` holds the job's own traceback as text: the job may have run in another
    process or on another machine, where the original exception object stays.
    """

    def __init__(self, message: str, details: str = "") -> None:
        super().__init__(message, details)
        self.message = message
        self.details = details

    def __str__(self) -> str:
        return self.message
