//! The giosg partners page lists an organization's partners by the partner's own
//! `created_at`, which lives in `organizations`: SQLite sorted every partner to serve 25
//! (1.5–3 ms for 10,000 partners, on the request's thread). Each partnership side now
//! keeps a copy of its partner's `created_at`, indexed with the side's organization, so a
//! page is an index range. An organization's `created_at` never changes, so the copy is
//! written once, by a trigger at insert (and if a side ever names another partner), on
//! both backends: no write path can forget it.

use crate::sql::{SqlMigration, Statements};

const SQLITE_UP: &[&str] = &[
    "ALTER TABLE partnerships ADD COLUMN partner_created_at timestamp_with_timezone_text",
    "UPDATE partnerships SET partner_created_at = \
       (SELECT o.created_at FROM organizations o WHERE o.id = partnerships.partner_organization_id)",
    "CREATE TRIGGER IF NOT EXISTS partnerships_partner_created_at \
     AFTER INSERT ON partnerships BEGIN \
       UPDATE partnerships SET partner_created_at = \
         (SELECT o.created_at FROM organizations o WHERE o.id = NEW.partner_organization_id) \
       WHERE id = NEW.id; \
     END",
    "CREATE TRIGGER IF NOT EXISTS partnerships_partner_changed \
     AFTER UPDATE OF partner_organization_id ON partnerships BEGIN \
       UPDATE partnerships SET partner_created_at = \
         (SELECT o.created_at FROM organizations o WHERE o.id = NEW.partner_organization_id) \
       WHERE id = NEW.id; \
     END",
    "CREATE INDEX IF NOT EXISTS partnerships_organization_partner_created \
     ON partnerships (organization_id, partner_created_at, partner_organization_id)",
];

const POSTGRES_UP: &[&str] = &[
    "ALTER TABLE partnerships ADD COLUMN IF NOT EXISTS partner_created_at timestamptz",
    "UPDATE partnerships SET partner_created_at = o.created_at \
     FROM organizations o WHERE o.id = partnerships.partner_organization_id",
    "CREATE OR REPLACE FUNCTION orgd_partner_created_at() RETURNS trigger AS $$ \
     BEGIN \
       NEW.partner_created_at := \
         (SELECT o.created_at FROM organizations o WHERE o.id = NEW.partner_organization_id); \
       RETURN NEW; \
     END $$ LANGUAGE plpgsql",
    "DROP TRIGGER IF EXISTS partnerships_partner_created_at ON partnerships",
    "CREATE TRIGGER partnerships_partner_created_at \
     BEFORE INSERT OR UPDATE OF partner_organization_id ON partnerships \
     FOR EACH ROW EXECUTE FUNCTION orgd_partner_created_at()",
    "CREATE INDEX IF NOT EXISTS partnerships_organization_partner_created \
     ON partnerships (organization_id, partner_created_at, partner_organization_id)",
];

const SQLITE_DOWN: &[&str] = &[
    "DROP TRIGGER IF EXISTS partnerships_partner_created_at",
    "DROP TRIGGER IF EXISTS partnerships_partner_changed",
    "DROP INDEX IF EXISTS partnerships_organization_partner_created",
    "ALTER TABLE partnerships DROP COLUMN partner_created_at",
];

const POSTGRES_DOWN: &[&str] = &[
    "DROP TRIGGER IF EXISTS partnerships_partner_created_at ON partnerships",
    "DROP FUNCTION IF EXISTS orgd_partner_created_at()",
    "DROP INDEX IF EXISTS partnerships_organization_partner_created",
    "ALTER TABLE partnerships DROP COLUMN IF EXISTS partner_created_at",
];

pub const MIGRATION: SqlMigration = SqlMigration {
    name: "m0013_partner_order",
    up: Statements {
        sqlite: SQLITE_UP,
        postgres: POSTGRES_UP,
    },
    down: Statements {
        sqlite: SQLITE_DOWN,
        postgres: POSTGRES_DOWN,
    },
};
