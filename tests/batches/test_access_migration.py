"""Grants made when a workspace grant held one role keep it, as a list of one, through migration 0023."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("batches", "0022_i19_result_fields_incomplete_betas")]
AFTER = [("batches", "0023_i21_access_roles")]


@pytest.mark.django_db(transaction=True)
def test_each_one_role_grant_becomes_a_list_of_that_role():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    user = old.get_model("auth", "User").objects.create(username="lead")
    workspace = old.get_model("batches", "Workspace").objects.create(name="alpha")
    old.get_model("batches", "WorkspaceAccess").objects.create(user=user, workspace=workspace, role="Operator")

    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)
    new = executor.loader.project_state(AFTER).apps
    assert list(new.get_model("batches", "WorkspaceAccess").objects.values_list("roles", flat=True)) == [["Operator"]]
    executor.loader.build_graph()
    MigrationExecutor(connection).migrate(executor.loader.graph.leaf_nodes())
