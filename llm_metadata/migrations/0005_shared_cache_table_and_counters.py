from django.conf import settings
from django.core.management.commands.createcachetable import Command as CreateCacheTable
from django.db import migrations, models


def create_cache_table(apps, schema_editor):
    """The database cache's table (used when REDIS_URL is unset), whatever CACHES says now:
    a later start without REDIS_URL must find it."""
    command = CreateCacheTable()
    command.verbosity = 0
    command.create_table(schema_editor.connection.alias, settings.CACHE_TABLE, False)


def drop_cache_table(apps, schema_editor):
    schema_editor.execute(
        f"DROP TABLE IF EXISTS {schema_editor.quote_name(settings.CACHE_TABLE)}"
    )


class Migration(migrations.Migration):
    dependencies = [
        ("llm_metadata", "0004_message_source"),
    ]

    operations = [
        migrations.RunPython(create_cache_table, drop_cache_table),
        migrations.CreateModel(
            name="Counter",
            fields=[
                ("key", models.CharField(max_length=200, primary_key=True, serialize=False)),
                ("value", models.BigIntegerField(default=0)),
                ("expires", models.DateTimeField(db_index=True)),
            ],
        ),
    ]
