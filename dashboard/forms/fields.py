"""Form fields the filters share."""

from __future__ import annotations

from datetime import date

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator

# Every date a filter takes is a day this tool can compute on: a range ends the day after its last day, and a
# reconciliation starts a month before its end, so 9999-12-31 and 0001-01-01 overflowed Python's dates (a 500).
# Batches began in 2024; these bounds leave room on both sides.
FIRST_DAY, LAST_DAY = date(1970, 1, 1), date(2999, 12, 31)
DATE_INPUT = forms.DateInput(attrs={"type": "date", "min": FIRST_DAY.isoformat(), "max": LAST_DAY.isoformat()})


class DayField(forms.DateField):
    widget = DATE_INPUT
    default_validators = [
        MinValueValidator(FIRST_DAY, f"Enter a date from {FIRST_DAY.isoformat()} to {LAST_DAY.isoformat()}."),
        MaxValueValidator(LAST_DAY, f"Enter a date from {FIRST_DAY.isoformat()} to {LAST_DAY.isoformat()}."),
    ]


LARGEST_ID = 2**63 - 1  # a row id is a 64-bit integer


def row_id(text) -> int | None:
    """The row id `text` names, or None: ASCII digits only ("²".isdigit() is True too), within 64 bits (SQLite cannot
    even compare a larger one with an id: OverflowError)."""
    text = str(text)
    if text.isascii() and text.isdigit() and int(text) <= LARGEST_ID:
        return int(text)
    return None


class RowsField(forms.ModelMultipleChoiceField):
    """Rows chosen by id. A value that cannot be one (not digits, or past 64 bits) is refused before the query:
    SQLite cannot even compare 99999999999999999999 with an id (OverflowError, a 500)."""

    def _check_values(self, value):
        for pk in value:
            if row_id(pk) is None:
                error = self.error_messages["invalid_pk_value"]
                raise ValidationError(error, code="invalid_pk_value", params={"pk": pk})
        return super()._check_values(value)
