"""Errors services raise besides Django's ValidationError and PermissionDenied."""


class Conflict(Exception):
    """The row changed since the caller read it (HTTP 409); reload and try again."""

    def __init__(self, message: str = "This record was changed by someone else; reload it and try again."):
        super().__init__(message)
        self.message = message
