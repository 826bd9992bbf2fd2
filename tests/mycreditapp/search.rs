//! The partner directory's `search_text` with its trigram indexes (migration m0005): every
//! answer equals the plain rule, "the folded column contains the folded term", for terms of
//! 1 and 2 characters (a scan) and of 3 or more (narrowed by the index), with LIKE
//! wildcards, FTS5 query syntax, quotes, spaces and letters whose lowercase differs from
//! ASCII's; and the index follows every write: create, update, delete, an organization's
//! deletion and SeaORM bulk inserts. On SQLite FTS5's integrity check compares the index
//! with the table. Each test runs on SQLite and (when configured) PostgreSQL.

use std::collections::BTreeSet;

use crate::common::*;
use reqwest::Method;
use serde_json::{Value, json};

use super::BOTH;

/// One organization's directory, called by its owner.
struct Directory {
    app: App,
    id: i64,
    uuid: String,
    token: String,
}

impl Directory {
    async fn new(app: &App, label: &str) -> Directory {
        let owner = app.user(label).await;
        let org = app.org(&owner.token, &unique(label)).await;
        Directory {
            app: app.clone(),
            id: id_of(&org),
            uuid: org["uuid"].as_str().expect("organization uuid").to_string(),
            token: owner.token,
        }
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Resp {
        let mut req = self
            .app
            .http
            .request(method, self.app.url(path))
            .header("Authorization", format!("Bearer {}", self.token))
            .header("Requester-Organization-ID", &self.uuid)
            .header("Target-Organization-ID", &self.uuid);
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        send(req).await
    }

    /// Creates a record; its id.
    async fn create(&self, name: &str, email: &str) -> String {
        let r = self
            .call(
                Method::POST,
                "/v1/partners",
                Some(json!({"company_name": name, "partner_type": "customer", "email": email})),
            )
            .await;
        r.assert_status(201);
        r.json["id"].as_str().expect("partner id").to_string()
    }

    async fn patch(&self, id: &str, body: Value) {
        self.call(Method::PATCH, &format!("/v1/partners/{id}"), Some(body))
            .await
            .assert_status(200);
    }

    async fn delete(&self, id: &str) {
        self.call(Method::DELETE, &format!("/v1/partners/{id}"), None)
            .await
            .assert_status(204);
    }

    /// The ids a search finds, asserting that `total_items` counts them and that a page of
    /// one agrees with the count.
    async fn search(&self, field: &str, text: &str) -> BTreeSet<String> {
        let query = format!(
            "/v1/partners?{BOTH}&search_field={field}&search_text={}",
            urlencode(text)
        );
        let r = self
            .call(Method::GET, &format!("{query}&limit=100&offset=0"), None)
            .await;
        r.assert_status(200);
        let items = r.json["items"].as_array().expect("items");
        let ids: BTreeSet<String> = items
            .iter()
            .map(|i| i["id"].as_str().expect("id").to_string())
            .collect();
        assert_eq!(ids.len(), items.len(), "no duplicates for {field}={text:?}");
        assert_eq!(
            r.json["total_items"].as_u64(),
            Some(ids.len() as u64),
            "total_items for {field}={text:?}"
        );
        let one = self
            .call(Method::GET, &format!("{query}&limit=1&offset=0"), None)
            .await;
        one.assert_status(200);
        assert_eq!(one.json["total_items"], r.json["total_items"]);
        ids
    }
}

/// SQLite: FTS5 checks that its index holds exactly the table's current values (an external
/// content table is compared with its content when `rank` is 1). PostgreSQL maintains its
/// GIN indexes itself.
async fn assert_index_in_step(app: &App) {
    use sea_orm::ConnectionTrait;
    if app.backend != Backend::Sqlite {
        return;
    }
    let conn = sea_orm::Database::connect(app.database_url.as_str())
        .await
        .expect("connect to the test database");
    conn.execute_unprepared(
        "INSERT INTO organization_partners_search(organization_partners_search, rank) \
         VALUES ('integrity-check', 1)",
    )
    .await
    .expect("the search index matches the table");
    let _ = conn.close().await;
}

/// Company names and emails chosen to trip a trigram index that disagreed with the rule:
/// lowercase that changes length (İ), that depends on position (final sigma), that leaves
/// ASCII (the Kelvin sign), ß (no single-letter uppercase), LIKE wildcards, FTS5 syntax,
/// quotes and runs of spaces.
const RECORDS: &[(&str, &str)] = &[
    ("Straße Ärzte GmbH", "info@straße.example"),
    ("STRASSE Bau", "bau@STRASSE.example"),
    ("İstanbul Export", "export@İstanbul.example"),
    ("ISTANBUL Imports", "imports@istanbul.example"),
    ("100% Pure_Juice", "pure_juice@100percent.example"),
    ("Back\\slash Co", "back\\slash@example.com"),
    ("Quote \"Inc\" Ltd", "\"quoted\"@example.com"),
    ("O'Brien & Sons", "o'brien@sons.example"),
    ("  spaced   out  ", "spaced@example.com"),
    ("Alpha Metal 424", "buyer424@partner424.example"),
    ("Alpha Metal 4240", "buyer4240@partner4240.example"),
    ("ΣΊΣΥΦΟΣ Shipping", "sisyphus@ΣΊΣΥΦΟΣ.example"),
    ("Star*Trade OR NEAR(x) ^Caret col:on", "syntax@example.com"),
    ("Ünïcödé Çö", "ÜNÏ@example.com"),
    ("\u{212A}elvin Tools", "kelvin@example.com"),
    ("buyer777 Holdings", "buyer777@partner777.example"),
    ("Buyer7077 Ltd", "buyer7077@partner7077.example"),
];

/// Search terms of 1, 2 and 3+ characters (before and after lowercasing: "İs" becomes three).
const TERMS: &[&str] = &[
    // One character.
    "ä",
    "Ä",
    "ß",
    "%",
    "_",
    "\\",
    "\"",
    "'",
    " ",
    "İ",
    "σ",
    "*",
    "K",
    "\u{212A}",
    // Two.
    "ss",
    "al",
    "İs",
    "i\u{307}",
    "% ",
    "_j",
    "o'",
    "\"i",
    "  ",
    "ς ",
    // Three and more.
    "straße",
    "STRASSE",
    "strasse",
    "ärzte",
    "ÄRZTE GMBH",
    "İstanbul",
    "istanbul",
    "i\u{307}stanbul",
    "100% p",
    "% pure_",
    "pure_j",
    "e_j",
    "k\\sl",
    "\\slash",
    "\"inc\"",
    "e \"i",
    "\"\"\"",
    "o'brien",
    "spaced   out",
    "ced  ",
    "   ",
    "alpha metal 424",
    "ALPHA METAL 4240",
    "metal 42",
    "σίσυφος",
    "ΣΊΣΥΦΟΣ",
    "ΣΊΣ",
    "σίσ",
    "star*trade",
    "or near(x)",
    "^caret",
    "col:on",
    "ünïcödé",
    "ÜNÏ@",
    "kelvin",
    "\u{212A}ELVIN",
    "buyer777@",
    "777@",
    "@partner",
    ".example",
    "buyer7077",
    "zzz",
    "%%%",
    "___",
];

/// The rule the search implements, computed here: the stored value (trimmed; lowercased as
/// Rust does) contains the lowercased term.
fn expected(records: &[(String, (&str, &str))], field: &str, text: &str) -> BTreeSet<String> {
    let term = text.to_lowercase();
    records
        .iter()
        .filter(|(_, (name, email))| {
            let value = if field == "email" { email } else { name };
            value.trim().to_lowercase().contains(&term)
        })
        .map(|(id, _)| id.clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_answers_the_plain_rule_for_every_kind_of_term() {
    for_each_backend(|app| async move {
        let dir = Directory::new(&app, "search-rule").await;
        let mut records = Vec::new();
        for &(name, email) in RECORDS {
            records.push((dir.create(name, email).await, (name, email)));
        }
        // Another directory with the same records: a search never leaves its own.
        let other = Directory::new(&app, "search-other").await;
        for &(name, email) in RECORDS {
            other.create(name, email).await;
        }
        for field in ["company_name", "email"] {
            for term in TERMS {
                assert_eq!(
                    dir.search(field, term).await,
                    expected(&records, field, term),
                    "{field} contains {term:?}"
                );
            }
        }
        // The data exercises both ways to an answer on SQLite: a term with more matches in
        // both directories together than one directory has rows scans the directory; one
        // with fewer is narrowed by the trigram index first.
        assert!(expected(&records, "email", ".example").len() * 2 > RECORDS.len());
        assert!(expected(&records, "email", "buyer777@").len() * 2 <= RECORDS.len());
        assert_eq!(
            expected(&records, "company_name", "alpha metal 424").len(),
            2
        );
        assert!(expected(&records, "company_name", "ΣΊΣ").is_empty());
        assert_eq!(expected(&records, "email", "kelvin").len(), 1);
        assert_eq!(expected(&records, "company_name", "kelvin").len(), 1);
        // 255 characters, the longest term allowed.
        assert!(
            dir.search("company_name", &"a".repeat(255))
                .await
                .is_empty()
        );
        assert_index_in_step(&app).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_follows_creates_updates_and_deletes() {
    for_each_backend(|app| async move {
        let dir = Directory::new(&app, "search-writes").await;
        let found = |ids: &[&String]| ids.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
        let none = BTreeSet::new();

        let a = dir.create("Nordic Metal", "buyer1@nordic.example").await;
        let b = dir.create("Baltic Foods", "buyer2@baltic.example").await;
        assert_eq!(
            dir.search("company_name", "nordic metal").await,
            found(&[&a])
        );
        assert_eq!(dir.search("email", "@baltic").await, found(&[&b]));

        // A new company name: the old term no longer finds it, the new one does.
        dir.patch(&a, json!({"company_name": "Danube Textiles"}))
            .await;
        assert_eq!(dir.search("company_name", "nordic metal").await, none);
        assert_eq!(dir.search("company_name", "danube tex").await, found(&[&a]));
        // Its email is untouched by that update.
        assert_eq!(dir.search("email", "@nordic").await, found(&[&a]));

        // A new email.
        dir.patch(&a, json!({"email": "Sales@Danube.example"}))
            .await;
        assert_eq!(dir.search("email", "@nordic").await, none);
        assert_eq!(dir.search("email", "sales@danube").await, found(&[&a]));
        assert_eq!(dir.search("company_name", "sales@danube").await, none);

        // Updates of other fields keep what is indexed.
        dir.patch(&a, json!({"sales_amount": 5, "city": "Wien"}))
            .await;
        assert_eq!(dir.search("company_name", "danube tex").await, found(&[&a]));

        // Both names at once, then one swapped for the other's.
        dir.patch(&b, json!({"company_name": "Danube Textiles II"}))
            .await;
        assert_eq!(
            dir.search("company_name", "danube tex").await,
            found(&[&a, &b])
        );

        // Deleted: gone from the results and from the count.
        dir.delete(&a).await;
        assert_eq!(dir.search("company_name", "danube tex").await, found(&[&b]));
        assert_eq!(dir.search("email", "sales@danube").await, none);

        // The same values again belong to the new record only.
        let c = dir.create("Nordic Metal", "buyer1@nordic.example").await;
        assert_eq!(
            dir.search("company_name", "nordic metal").await,
            found(&[&c])
        );
        assert_index_in_step(&app).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_follows_bulk_inserts_and_deleted_organizations() {
    use orgd::entity::organization_partner as partner;
    use sea_orm::{EntityTrait, Set};

    for_each_backend(|app| async move {
        let dir = Directory::new(&app, "search-bulk").await;
        // As the benchmark seeds: one multi-row INSERT through SeaORM, past the API.
        let db = orgd::db::Db::connect(&app.database_url)
            .await
            .expect("connect");
        let now = orgd::domain::now();
        let txn = db.begin_write().await.expect("begin");
        partner::Entity::insert_many((0..50).map(|i| {
            let name = format!("Bulk Trading {i}");
            let email = format!("buyer{i}@bulk.example");
            partner::ActiveModel {
                uuid: Set(uuid::Uuid::new_v4()),
                organization_id: Set(dir.id),
                company_name_folded: Set(name.to_lowercase()),
                company_name: Set(name),
                sales_amount: Set(i),
                partner_type: Set("supplier".into()),
                email_folded: Set(email.clone()),
                email: Set(email),
                frequency: Set(String::new()),
                payment_terms: Set(String::new()),
                address: Set(None),
                city: Set(None),
                state: Set(None),
                postal_code: Set(None),
                country_code: Set(None),
                company_registration_number: Set(None),
                invitation_status: Set(None),
                guest_organization_id: Set(None),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            }
        }))
        .exec_without_returning(&txn)
        .await
        .expect("insert_many");
        txn.commit().await.expect("commit");

        assert_eq!(dir.search("company_name", "bulk trading").await.len(), 50);
        assert_eq!(dir.search("company_name", "bulk trading 4").await.len(), 11);
        assert_eq!(dir.search("email", "buyer49@").await.len(), 1);
        assert_index_in_step(&app).await;

        // Deleting the organization deletes its directory by cascade; the index follows.
        let other = Directory::new(&app, "search-bulk-other").await;
        other
            .create("Bulk Trading Elsewhere", "x@bulk.example")
            .await;
        app.rest(
            Method::DELETE,
            &format!("/api/v1/organization/{}", dir.id),
            Auth::Bearer(&dir.token),
            None,
        )
        .await
        .assert_status(200);
        assert_eq!(other.search("company_name", "bulk trading").await.len(), 1);
        assert_index_in_step(&app).await;
    })
    .await;
}

/// The names of the search index objects present in the database.
async fn search_objects(conn: &sea_orm::DatabaseConnection, backend: Backend) -> BTreeSet<String> {
    use sea_orm::{ConnectionTrait, Statement};
    let sql = match backend {
        Backend::Sqlite => {
            "SELECT name FROM sqlite_master WHERE name LIKE 'organization_partners_search%' \
             AND name NOT LIKE 'organization_partners_search\\_%' ESCAPE '\\' \
             UNION ALL SELECT name FROM sqlite_master WHERE type = 'trigger' \
             AND tbl_name = 'organization_partners' \
             AND name LIKE 'organization_partners_search%'"
        }
        Backend::Postgres => {
            "SELECT indexname AS name FROM pg_indexes \
             WHERE tablename = 'organization_partners' AND indexname LIKE '%\\_trgm'"
        }
    };
    conn.query_all_raw(Statement::from_string(conn.get_database_backend(), sql))
        .await
        .expect("list schema objects")
        .iter()
        .map(|r| r.try_get::<String>("", "name").expect("name"))
        .collect()
}

/// A search through the domain function the service runs: the company names found.
async fn domain_search(
    db: &orgd::db::Db,
    principal: &orgd::auth::Principal,
    scope: &orgd::domain::partner_directory::Scope,
    text: &str,
) -> Vec<String> {
    use orgd::domain::partner_directory::{ListQuery, PartnerType, list};
    let query = ListQuery {
        partner_types: vec![PartnerType::Customer],
        search_text: Some(text.into()),
        limit: Some(10),
        offset: Some(0),
        ..Default::default()
    };
    let (rows, total) = list(db, principal, scope, query).await.expect("list");
    assert_eq!(total, rows.len() as u64);
    rows.into_iter().map(|r| r.company_name).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migration_down_removes_the_search_indexes_and_up_indexes_existing_rows() {
    use migration::{Migrator, MigratorTrait};
    use orgd::auth::Principal;
    use orgd::domain::{organization, partner_directory as directory, user};

    for backend in backends() {
        let database = TestDatabase::create(backend).await;
        let db = orgd::db::Db::connect_and_migrate(&database.url)
            .await
            .expect("migrate");
        let txn = db.begin_write().await.expect("begin");
        let owner = user::create(&txn, "owner@search.example", "Owner")
            .await
            .expect("user");
        txn.commit().await.expect("commit");
        let principal = Principal::User { user_id: owner.id };
        let org = organization::create(
            &db,
            &principal,
            organization::OrganizationInput {
                name: "Searcher".into(),
                ..Default::default()
            },
        )
        .await
        .expect("organization");
        let uuid = org.model.uuid.to_string();
        let scope = directory::Scope {
            requester: uuid.clone(),
            target: uuid,
        };
        directory::create(
            &db,
            &principal,
            &scope,
            directory::PartnerInput {
                company_name: Some("Indexed Before".into()),
                email: Some("before@search.example".into()),
                partner_type: Some(directory::PartnerType::Customer),
                ..Default::default()
            },
        )
        .await
        .expect("partner");

        let conn = sea_orm::Database::connect(database.url.as_str())
            .await
            .expect("connect");
        let present = search_objects(&conn, backend).await;
        let expected = if backend == Backend::Sqlite { 4 } else { 2 };
        assert_eq!(present.len(), expected, "{present:?}");
        // Down to just before m0005, however many migrations came after it.
        let migrations = Migrator::migrations();
        let m0005 = migrations
            .iter()
            .position(|m| m.name() == "m0005_partner_search")
            .expect("m0005 is a migration");
        let steps = u32::try_from(migrations.len() - m0005).unwrap();
        Migrator::down(&conn, Some(steps)).await.expect("down");
        assert_eq!(search_objects(&conn, backend).await, BTreeSet::new());

        // Up again: the rows already there are indexed (SQLite's 'rebuild').
        Migrator::up(&conn, None).await.expect("up again");
        assert_eq!(search_objects(&conn, backend).await, present);
        assert_eq!(
            domain_search(&db, &principal, &scope, "indexed bef").await,
            ["Indexed Before"]
        );
        assert!(
            domain_search(&db, &principal, &scope, "indexed aft")
                .await
                .is_empty()
        );
        let _ = conn.close().await;
        drop(db);
        database.destroy().await;
    }
}
