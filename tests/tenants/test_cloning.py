"""A tenant cloned from the template is indistinguishable from one built by migrations."""

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import override_settings
from django_tenants.utils import tenant_context

from apps.core.exceptions import Conflict
from apps.tenants.cloning import schema_clone
from apps.tenants.services import tenant_create

pytestmark = pytest.mark.django_db

CATALOG = {
    "columns": """
        SELECT table_name, column_name, data_type, is_nullable, column_default, is_identity,
               identity_generation, character_maximum_length
        FROM information_schema.columns WHERE table_schema = %(s)s""",
    "constraints": """
        SELECT c.relname, con.conname, con.contype,
               replace(pg_get_constraintdef(con.oid), %(s)s || '.', '')
        FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid
        JOIN pg_namespace n ON n.oid = con.connamespace WHERE n.nspname = %(s)s""",
    "indexes": """
        SELECT indexname, replace(indexdef, ' ON ' || %(s)s || '.', ' ON ')
        FROM pg_indexes WHERE schemaname = %(s)s""",
    "sequences": """
        SELECT sequence_name, data_type FROM information_schema.sequences
        WHERE sequence_schema = %(s)s""",
    "other objects": """
        SELECT 'function ' || p.proname FROM pg_proc p JOIN pg_namespace n
          ON n.oid = p.pronamespace WHERE n.nspname = %(s)s
        UNION ALL SELECT 'view ' || table_name FROM information_schema.views
          WHERE table_schema = %(s)s
        UNION ALL SELECT 'trigger ' || trigger_name FROM information_schema.triggers
          WHERE trigger_schema = %(s)s""",
    "migrations": "SELECT app, name FROM {schema}.django_migrations",
    "roles": """SELECT g.name, ct.app_label, p.codename FROM {schema}.auth_group g
        JOIN {schema}.auth_group_permissions gp ON gp.group_id = g.id
        JOIN {schema}.auth_permission p ON p.id = gp.permission_id
        JOIN {schema}.django_content_type ct ON ct.id = p.content_type_id""",
}


def describe(schema: str) -> dict[str, set[tuple]]:
    with connection.cursor() as cursor:
        result = {}
        for name, query in CATALOG.items():
            cursor.execute(query.format(schema=schema), {"s": schema})
            result[name] = {tuple(str(v) for v in row) for row in cursor.fetchall()}
        return result


def test_cloned_schema_matches_a_migrated_one_object_for_object() -> None:
    cloned = tenant_create(slug="cloned", name="Cloned")
    with override_settings(TENANT_CREATION_FAKES_MIGRATIONS=False):
        migrated = tenant_create(slug="migrated", name="Migrated")
    connection.set_schema_to_public()
    a, b = describe(cloned.schema_name), describe(migrated.schema_name)
    for part in CATALOG:
        assert a[part] == b[part], part
    assert a["columns"] and a["indexes"] and a["migrations"] and a["roles"]
    assert not a["other objects"]


def test_cloned_schema_has_working_identities_and_foreign_keys() -> None:
    tenant = tenant_create(slug="fresh", name="Fresh")
    with tenant_context(tenant):
        user = get_user_model().objects.create_user("a@fresh.example", "pw-long-enough")
        from django.contrib.auth.models import Group

        user.groups.add(Group.objects.get(name="Viewer"))  # FK into the clone's own tables
        assert get_user_model().objects.create_user("b@fresh.example", "x").pk == user.pk + 1


def test_cloning_onto_an_existing_schema_is_refused(tenant) -> None:
    with pytest.raises(Conflict):
        schema_clone(source="clarion_template", target="test")
