"""Every form of the dashboard: the filters that live in URLs (filters.py, their shared fields in fields.py), the
action forms (actions.py) and the notification forms (notify.py). Import them from here."""

from dashboard.forms.actions import AttachForm, RetryChoiceForm, RetryOptionsForm, UploadForm
from dashboard.forms.filters import (
    SPEND_DEFAULT_DAYS,
    AuditFilterForm,
    BatchFilterForm,
    ErrorFilterForm,
    ItemFilterForm,
    RangeForm,
    SpendFilterForm,
    SubmissionFilterForm,
    start_of,
)
from dashboard.forms.notify import ChannelForm, DeliveryFilterForm, MyNotificationsForm, ThresholdsForm

__all__ = [
    "AttachForm",
    "AuditFilterForm",
    "BatchFilterForm",
    "ChannelForm",
    "DeliveryFilterForm",
    "ErrorFilterForm",
    "ItemFilterForm",
    "MyNotificationsForm",
    "RangeForm",
    "RetryChoiceForm",
    "RetryOptionsForm",
    "SPEND_DEFAULT_DAYS",
    "SpendFilterForm",
    "SubmissionFilterForm",
    "ThresholdsForm",
    "UploadForm",
    "start_of",
]
