# Dates as every page shows them when a template uses Django's `date` filter or a bare datetime: 24-hour, with
# the zone named (the health bar and dashboard/times.py say times the same way). settings.FORMAT_MODULE_PATH.
DATETIME_FORMAT = "Y-m-d H:i T"
SHORT_DATETIME_FORMAT = "Y-m-d H:i"
DATE_FORMAT = "Y-m-d"
SHORT_DATE_FORMAT = "Y-m-d"
TIME_FORMAT = "H:i"
