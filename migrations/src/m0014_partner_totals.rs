//! MyCreditApp's `GET /v1/partners` answers `total_items` beside every page. Counting the
//! directory's index range took half of a plain page's time (10,000 records: about
//! 0.5 ms of the request's 1.1 ms of CPU, perf), on the request's thread. A directory's
//! number of records per type is now kept, by triggers on both backends, so every write
//! path keeps it and none can forget. Pages filtered by more than the type (a search,
//! ids, invitation statuses) still count their matches.

use crate::sql::{SqlMigration, Statements};

const TABLE: &str = "CREATE TABLE IF NOT EXISTS organization_partner_totals ( \
       organization_id BIGINT NOT NULL, \
       partner_type VARCHAR(16) NOT NULL, \
       records BIGINT NOT NULL, \
       PRIMARY KEY (organization_id, partner_type), \
       FOREIGN KEY (organization_id) REFERENCES organizations (id) ON DELETE CASCADE)";

const BACKFILL: &str = "INSERT INTO organization_partner_totals \
       (organization_id, partner_type, records) \
     SELECT organization_id, partner_type, COUNT(*) FROM organization_partners \
     GROUP BY organization_id, partner_type";

const SQLITE_UP: &[&str] = &[
    TABLE,
    BACKFILL,
    "CREATE TRIGGER IF NOT EXISTS organization_partners_counted \
     AFTER INSERT ON organization_partners BEGIN \
       INSERT INTO organization_partner_totals (organization_id, partner_type, records) \
       VALUES (NEW.organization_id, NEW.partner_type, 1) \
       ON CONFLICT (organization_id, partner_type) DO UPDATE SET records = records + 1; \
     END",
    "CREATE TRIGGER IF NOT EXISTS organization_partners_uncounted \
     AFTER DELETE ON organization_partners BEGIN \
       UPDATE organization_partner_totals SET records = records - 1 \
       WHERE organization_id = OLD.organization_id AND partner_type = OLD.partner_type; \
     END",
    "CREATE TRIGGER IF NOT EXISTS organization_partners_recounted \
     AFTER UPDATE OF organization_id, partner_type ON organization_partners BEGIN \
       UPDATE organization_partner_totals SET records = records - 1 \
       WHERE organization_id = OLD.organization_id AND partner_type = OLD.partner_type; \
       INSERT INTO organization_partner_totals (organization_id, partner_type, records) \
       VALUES (NEW.organization_id, NEW.partner_type, 1) \
       ON CONFLICT (organization_id, partner_type) DO UPDATE SET records = records + 1; \
     END",
];

const POSTGRES_UP: &[&str] = &[
    TABLE,
    BACKFILL,
    "CREATE OR REPLACE FUNCTION orgd_count_partners() RETURNS trigger AS $$ \
     BEGIN \
       IF TG_OP IN ('DELETE', 'UPDATE') THEN \
         UPDATE organization_partner_totals SET records = records - 1 \
         WHERE organization_id = OLD.organization_id AND partner_type = OLD.partner_type; \
       END IF; \
       IF TG_OP IN ('INSERT', 'UPDATE') THEN \
         INSERT INTO organization_partner_totals (organization_id, partner_type, records) \
         VALUES (NEW.organization_id, NEW.partner_type, 1) \
         ON CONFLICT (organization_id, partner_type) \
         DO UPDATE SET records = organization_partner_totals.records + 1; \
       END IF; \
       RETURN NULL; \
     END $$ LANGUAGE plpgsql",
    "DROP TRIGGER IF EXISTS organization_partners_counted ON organization_partners",
    "CREATE TRIGGER organization_partners_counted \
     AFTER INSERT OR DELETE OR UPDATE OF organization_id, partner_type \
     ON organization_partners FOR EACH ROW EXECUTE FUNCTION orgd_count_partners()",
];

const SQLITE_DOWN: &[&str] = &[
    "DROP TRIGGER IF EXISTS organization_partners_counted",
    "DROP TRIGGER IF EXISTS organization_partners_uncounted",
    "DROP TRIGGER IF EXISTS organization_partners_recounted",
    "DROP TABLE IF EXISTS organization_partner_totals",
];

const POSTGRES_DOWN: &[&str] = &[
    "DROP TRIGGER IF EXISTS organization_partners_counted ON organization_partners",
    "DROP FUNCTION IF EXISTS orgd_count_partners()",
    "DROP TABLE IF EXISTS organization_partner_totals",
];

pub const MIGRATION: SqlMigration = SqlMigration {
    name: "m0014_partner_totals",
    up: Statements {
        sqlite: SQLITE_UP,
        postgres: POSTGRES_UP,
    },
    down: Statements {
        sqlite: SQLITE_DOWN,
        postgres: POSTGRES_DOWN,
    },
};
