"""Full-text search over posts, and the indexes that make feed validators cheap.

SQLite: an FTS5 external-content table over ``posts_post`` (title, summary, body) kept in step
by triggers. PostgreSQL: a stored generated ``tsvector`` column (weighted title, summary and
body; Django does not know it, and inserts and updates leave it to the database) with a GIN
index. Both: indexes on ``updated_at`` of posts, media and officers, read by ``watchhouse.posts.public.listing_changed``.
None of this is part of Django's model state, so ``makemigrations`` does not see it.
"""

from django.db import migrations

from watchhouse.posts.search import PG_COLUMN, PG_DOCUMENT, SQLITE_TABLE


class VendorSQL(migrations.RunSQL):
    """RunSQL applied only on one database vendor ("sqlite", "postgresql")."""

    def __init__(self, vendor, sql, reverse_sql):
        self.vendor = vendor
        super().__init__(sql, reverse_sql)

    def deconstruct(self):
        name, args, kwargs = super().deconstruct()
        kwargs["vendor"] = self.vendor
        return name, args, kwargs

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == self.vendor:
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == self.vendor:
            super().database_backwards(app_label, schema_editor, from_state, to_state)


SQLITE_FORWARD = [
    f"""CREATE VIRTUAL TABLE {SQLITE_TABLE} USING fts5(
        title, summary, body, content='posts_post', content_rowid='id',
        tokenize='porter unicode61 remove_diacritics 2')""",
    f"""CREATE TRIGGER {SQLITE_TABLE}_ai AFTER INSERT ON posts_post BEGIN
        INSERT INTO {SQLITE_TABLE}(rowid, title, summary, body)
        VALUES (new.id, new.title, new.summary, new.body);
    END""",
    f"""CREATE TRIGGER {SQLITE_TABLE}_ad AFTER DELETE ON posts_post BEGIN
        INSERT INTO {SQLITE_TABLE}({SQLITE_TABLE}, rowid, title, summary, body)
        VALUES ('delete', old.id, old.title, old.summary, old.body);
    END""",
    f"""CREATE TRIGGER {SQLITE_TABLE}_au AFTER UPDATE OF title, summary, body ON posts_post BEGIN
        INSERT INTO {SQLITE_TABLE}({SQLITE_TABLE}, rowid, title, summary, body)
        VALUES ('delete', old.id, old.title, old.summary, old.body);
        INSERT INTO {SQLITE_TABLE}(rowid, title, summary, body)
        VALUES (new.id, new.title, new.summary, new.body);
    END""",
    f"INSERT INTO {SQLITE_TABLE}({SQLITE_TABLE}) VALUES ('rebuild')",
]
SQLITE_BACKWARD = [
    f"DROP TRIGGER IF EXISTS {SQLITE_TABLE}_au",
    f"DROP TRIGGER IF EXISTS {SQLITE_TABLE}_ad",
    f"DROP TRIGGER IF EXISTS {SQLITE_TABLE}_ai",
    f"DROP TABLE IF EXISTS {SQLITE_TABLE}",
]


class Migration(migrations.Migration):

    dependencies = [
        ("posts", "0001_initial"),
    ]

    operations = [
        VendorSQL("sqlite", SQLITE_FORWARD, SQLITE_BACKWARD),
        VendorSQL(
            "postgresql",
            [
                f"ALTER TABLE posts_post ADD COLUMN {PG_COLUMN} tsvector "
                f"GENERATED ALWAYS AS ({PG_DOCUMENT}) STORED",
                f"CREATE INDEX posts_post_search ON posts_post USING GIN ({PG_COLUMN})",
            ],
            [
                "DROP INDEX IF EXISTS posts_post_search",
                f"ALTER TABLE posts_post DROP COLUMN IF EXISTS {PG_COLUMN}",
            ],
        ),
        migrations.RunSQL(
            [
                "CREATE INDEX posts_post_updated ON posts_post (updated_at)",
                "CREATE INDEX posts_media_updated ON posts_mediaasset (updated_at)",
                "CREATE INDEX posts_officer_updated ON posts_officerprofile (updated_at)",
            ],
            [
                "DROP INDEX posts_officer_updated",
                "DROP INDEX posts_media_updated",
                "DROP INDEX posts_post_updated",
            ],
        ),
    ]
