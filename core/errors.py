"""Errors a user can cause; algorithms turn them into QgsProcessingException."""


class SoilMetalError(Exception):
    """A problem with the user's input: the message says what is wrong and how to fix it."""


class Cancelled(SoilMetalError):
    """The user cancelled the run."""

    def __init__(self, message="Cancelled by the user."):
        super().__init__(message)
