"""Errors raised at core's boundaries: each names what the user must fix."""

from __future__ import annotations


class InputError(ValueError):
    """Bad input: names the file, the record and the field at fault.

    The command line turns it into one line on stderr and exit code 2.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        record: str | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.record = record
        self.field = field

    def located(self, file: str) -> InputError:
        """The same error, with the file name filled in by the caller that knows it."""
        return InputError(
            self.message, file=self.file or file, record=self.record, field=self.field
        )

    def __str__(self) -> str:
        where = [part for part in (self.file, self.record) if part]
        if self.field:
            where.append(f"field '{self.field}'")
        prefix = ": ".join(where)
        return f"{prefix}: {self.message}" if prefix else self.message
