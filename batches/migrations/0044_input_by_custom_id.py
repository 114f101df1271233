"""An index on kept requests' custom_id alone, for the batch list's search by an item's custom_id.

A running batch has no results yet: its items are found by the requests kept for it (submitted here, through the
pass-through, or attached). The unique (part, custom_id) and (batch, custom_id) indexes cannot answer "which batch
holds this custom_id?" without reading every kept request. A hash index on PostgreSQL, as for results (0018): the
search is by exact custom_id only. Built CONCURRENTLY, so upgrading a large database does not stop submissions.
"""

from django.db import migrations

from batches.migrations._postgresql import hash_index


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run inside a transaction

    dependencies = [("batches", "0043_batch_id_search_by_upper")]

    operations = [hash_index("input_by_custom_id", "batches_requestinput", "custom_id")]
