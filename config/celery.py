import gc
import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("batch_dashboard")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.setup_logging.connect
def use_django_logging(**kwargs) -> None:
    """Worker and beat log as the web does (settings.LOGGING: LOG_FORMAT, the task id, no request
    bodies) instead of through Celery's own handlers."""
    from django.conf import settings

    from config.logs import configure

    configure(settings.LOGGING)


@signals.celeryd_init.connect
@signals.beat_init.connect
def prepare_var_dir(**kwargs) -> None:
    """A worker or beat makes what it needs under DASHBOARD_VAR_DIR (the embedded broker's folders, the beat's
    schedule) as it starts, as ./bin/start does for the web: importing the settings creates nothing."""
    from django.core.management import call_command

    call_command("prepare", verbosity=0)


@signals.beat_init.connect
def first_sync_now(**kwargs) -> None:
    """Beat runs a schedule's first tick only after a whole interval: a new user looked at an empty list for
    35 s, and at a reconciliation "not fetched yet" for an hour. Send those once as beat starts, with the
    schedule's own options (its expiry)."""
    from django.conf import settings

    for name in ("sync-all-workspaces", "fetch-cost-report"):
        entry = settings.CELERY_BEAT_SCHEDULE[name]
        app.send_task(entry["task"], **entry.get("options", {}))


@signals.after_task_publish.connect(sender="batches.tasks.heartbeat")
def record_beat(**kwargs) -> None:
    """Only beat sends the heartbeat task: having sent it is beat's heartbeat."""
    from batches.models import Heartbeat

    Heartbeat.beat(Heartbeat.BEAT)


@signals.task_postrun.connect
def flush_api_counts(**kwargs) -> None:
    """Add the API calls the task made to the counts /metrics reads."""
    from batches.models import ApiRequestCount

    ApiRequestCount.flush()


@signals.worker_init.connect
@signals.worker_process_init.connect
def settle_heap(**kwargs) -> None:
    """What a worker has loaded by now (Django, Celery, the SDK's types: some 250,000 objects) lives as long as it
    does: set it apart from the collector's full passes, which walked all of it (150-180 ms each, every thread of
    the ingest stopped meanwhile). Start-up's garbage is collected first, not kept for ever. And the youngest
    generation is collected after 10,000 new objects, not 700: an ingest's parsed results live for a chunk, and
    were walked again by one collection after another. The collector's pauses in an ingest of 100,000 results went
    from 394-412 ms to 29-37 ms, and in ingesting 1,000 batches of 100 from 216-275 ms to 36-49 ms."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, *gc.get_threshold()[1:])
