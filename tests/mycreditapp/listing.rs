//! Listing partners: every filter, case-insensitive search, and the order by every field in
//! both directions.

use super::*;

/// One record as the test stores it, to compute expectations locally.
#[derive(Clone, Debug)]
struct Rec {
    id: String,
    name: String,
    kind: &'static str,
    email: String,
    status: Option<&'static str>,
}

/// A varied directory: (name, type, email, sales, frequency, payment terms).
const DATA: &[(&str, &str, &str, i64, &str, &str)] = &[
    (
        "Acme Alpha",
        "customer",
        "alpha@north.example.com",
        500,
        "monthly",
        "net 30",
    ),
    (
        "Acme Bravo",
        "supplier",
        "bravo@south.example.com",
        0,
        "weekly",
        "net 14",
    ),
    (
        "acme charlie",
        "customer",
        "charlie@north.example.com",
        500,
        "",
        "net 60",
    ),
    (
        "Delta 100% Organic",
        "supplier",
        "delta@east.example.com",
        1073741823,
        "daily",
        "",
    ),
    (
        "Echo_Under Ltd",
        "customer",
        "echo_x@west.example.com",
        75,
        "monthly",
        "net 30",
    ),
    (
        "Foxtrot Plain",
        "supplier",
        "foxtrot@east.example.com",
        75,
        "yearly",
        "prepaid",
    ),
    (
        "Golf Percent Free",
        "customer",
        "golf@north.example.com",
        1,
        "weekly",
        "net 14",
    ),
    (
        "Hotel Underscore",
        "supplier",
        "hotel@south.example.com",
        999,
        "",
        "net 90",
    ),
    (
        "India Acme",
        "customer",
        "india@west.example.com",
        500,
        "quarterly",
        "net 30",
    ),
    (
        "Juliet",
        "supplier",
        "juliet@north.example.com",
        20,
        "monthly",
        "cash",
    ),
    (
        "Kilo",
        "customer",
        "kilo@acme.example.com",
        20,
        "monthly",
        "net 30",
    ),
    (
        "Lima",
        "customer",
        "lima@south.example.com",
        3,
        "weekly",
        "cash",
    ),
];

async fn seed(ctx: &Ctx<'_>) -> Vec<Rec> {
    let mut out = Vec::new();
    for &(name, kind, email, sales, frequency, terms) in DATA {
        let mut record = json!({
            "company_name": name,
            "partner_type": kind,
            "email": email,
            "sales_amount": sales,
        });
        // Published as 1 character or more: an empty one is left out (and stored empty).
        for (field, value) in [("frequency", frequency), ("payment_terms", terms)] {
            if !value.is_empty() {
                record[field] = json!(value);
            }
        }
        let p = ctx.create_ok(&record).await;
        out.push(Rec {
            id: sid(&p),
            name: name.to_string(),
            kind: if kind == "customer" {
                "customer"
            } else {
                "supplier"
            },
            email: email.to_string(),
            status: None,
        });
    }
    out
}

fn rec_ids<'a>(recs: impl IntoIterator<Item = &'a Rec>) -> BTreeSet<String> {
    recs.into_iter().map(|r| r.id.clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_filters() {
    for_each_backend(|app| async move {
        let a = Org::create(&app, "filters").await;
        let ctx = Ctx::new(&app, &a.owner.token, &a.uuid, &a.uuid);
        let mut recs = seed(&ctx).await;

        // Invite two partners; one accepts (its email is the user of another organization).
        let guest_org = Org::create(&app, "guest").await;
        let accepted = ctx
            .create_ok(&body("Mike Accepted", "supplier", &guest_org.owner.email))
            .await;
        let r = ctx.invite(&sid(&accepted)).await;
        r.assert_status(200);
        let inv = guest_invitation_to(&app, &a, &guest_org.owner.email)
            .await
            .expect("the guest invitation");
        accept_guest(&app, &guest_org, inv["invitation_token"].as_str().unwrap()).await;
        recs.push(Rec {
            id: sid(&accepted),
            name: "Mike Accepted".into(),
            kind: "supplier",
            email: guest_org.owner.email.clone(),
            status: Some("accepted"),
        });
        for name in ["Acme Alpha", "Foxtrot Plain"] {
            let rec = recs.iter_mut().find(|r| r.name == name).unwrap();
            let r = ctx.invite(&rec.id).await;
            r.assert_status(200);
            assert_eq!(r.json["invitation_status"], json!("invited"));
            rec.status = Some("invited");
        }

        let check = |query: String, want: BTreeSet<String>| {
            async move {
                let (items, total) = ctx.list_ok(&format!("{query}&limit=100&offset=0")).await;
                assert_eq!(id_set(&items), want, "items of {query}");
                assert_eq!(items.len(), want.len(), "no duplicates in {query}");
                assert_eq!(total, want.len() as i64, "total_items of {query}");
                // total_items counts every match, not only the page.
                if want.len() > 1 {
                    let (page, total) = ctx.list_ok(&format!("{query}&limit=1&offset=0")).await;
                    assert_eq!(page.len(), 1);
                    assert_eq!(total, want.len() as i64, "total_items with limit=1 of {query}");
                }
            }
        };

        // partner_types.
        check(BOTH.into(), rec_ids(&recs)).await;
        check(
            "partner_types=customer".into(),
            rec_ids(recs.iter().filter(|r| r.kind == "customer")),
        )
        .await;
        check(
            "partner_types=supplier".into(),
            rec_ids(recs.iter().filter(|r| r.kind == "supplier")),
        )
        .await;

        // partner_ids.
        let some: Vec<&Rec> = vec![&recs[0], &recs[1], &recs[4]];
        let q = some
            .iter()
            .map(|r| format!("partner_ids={}", r.id))
            .collect::<Vec<_>>()
            .join("&");
        check(format!("{BOTH}&{q}"), rec_ids(some.iter().copied())).await;
        check(
            format!("partner_types=customer&{q}"),
            rec_ids(some.iter().copied().filter(|r| r.kind == "customer")),
        )
        .await;
        check(
            format!("{BOTH}&partner_ids={}", uuid::Uuid::new_v4()),
            BTreeSet::new(),
        )
        .await;

        // search_text on company_name (the default) and email: case-insensitive substring.
        let by_name = |needle: &str| {
            let n = needle.to_lowercase();
            rec_ids(recs.iter().filter(|r| r.name.to_lowercase().contains(&n)))
        };
        let by_email = |needle: &str| {
            let n = needle.to_lowercase();
            rec_ids(recs.iter().filter(|r| r.email.to_lowercase().contains(&n)))
        };
        for needle in ["acme", "ACME", "aCmE c", "under", "plain", "zzz"] {
            let want = by_name(needle);
            let enc = needle.replace(' ', "%20");
            check(format!("{BOTH}&search_text={enc}"), want.clone()).await;
            check(
                format!("{BOTH}&search_field=company_name&search_text={enc}"),
                want,
            )
            .await;
        }
        assert_eq!(by_name("acme").len(), 4, "the data has four acme names");
        // % and _ match literally.
        check(format!("{BOTH}&search_text=%25"), by_name("%")).await;
        assert_eq!(by_name("%").len(), 1);
        check(format!("{BOTH}&search_text=_"), by_name("_")).await;
        assert_eq!(by_name("_").len(), 1);
        check(format!("{BOTH}&search_text=0%25%20O"), by_name("0% o")).await;
        for needle in ["north", "NORTH", "acme", "_x@", "example.com"] {
            check(
                format!("{BOTH}&search_field=email&search_text={needle}"),
                by_email(needle),
            )
            .await;
        }
        check(
            "partner_types=customer&search_field=email&search_text=north".to_string(),
            rec_ids(
                recs.iter()
                    .filter(|r| r.kind == "customer" && r.email.contains("north")),
            ),
        )
        .await;
        // search_text of 255 characters is allowed.
        check(format!("{BOTH}&search_text={}", "a".repeat(255)), BTreeSet::new()).await;

        // invitation_statuses.
        let with = |s: &[&str]| {
            rec_ids(
                recs.iter()
                    .filter(|r| r.status.is_some_and(|x| s.contains(&x))),
            )
        };
        check(format!("{BOTH}&invitation_statuses=invited"), with(&["invited"])).await;
        check(
            format!("{BOTH}&invitation_statuses=accepted"),
            with(&["accepted"]),
        )
        .await;
        check(
            format!("{BOTH}&invitation_statuses=invited&invitation_statuses=accepted"),
            with(&["invited", "accepted"]),
        )
        .await;
        assert_eq!(with(&["invited", "accepted"]).len(), 3);
        check(
            "partner_types=customer&invitation_statuses=invited".into(),
            rec_ids(
                recs.iter()
                    .filter(|r| r.kind == "customer" && r.status == Some("invited")),
            ),
        )
        .await;

        // Everything together.
        check(
            format!(
                "partner_types=customer&search_field=company_name&search_text=acme&invitation_statuses=invited&partner_ids={}&partner_ids={}",
                recs[0].id, recs[2].id
            ),
            BTreeSet::from([recs[0].id.clone()]),
        )
        .await;

        // Filters never leak another organization's directory.
        let other = Org::create(&app, "other").await;
        let octx = Ctx::new(&app, &other.owner.token, &other.uuid, &other.uuid);
        octx.create_ok(&body("Acme Elsewhere", "customer", "x@acme.example.com"))
            .await;
        check(format!("{BOTH}&search_text=acme"), by_name("acme")).await;
        let (items, total) = octx
            .list_ok(&format!("{BOTH}&partner_ids={}&limit=10&offset=0", recs[0].id))
            .await;
        assert!(items.is_empty(), "another directory's partner_ids match nothing");
        assert_eq!(total, 0);
    })
    .await;
}

/// The value an order_by field sorts on, comparable across records.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Key {
    Int(i64),
    Text(String),
}

fn key_of(item: &Value, field: &str) -> Key {
    match &item[field] {
        Value::Number(n) => Key::Int(n.as_i64().expect("integer")),
        Value::String(s) => Key::Text(s.clone()),
        other => panic!("{field} is sortable: {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_orders_by_every_field_in_both_directions() {
    for_each_backend(|app| async move {
        let a = Org::create(&app, "order").await;
        let ctx = Ctx::new(&app, &a.owner.token, &a.uuid, &a.uuid);
        // Names, emails and terms whose order is the same under byte and locale collation.
        let rows: &[(&str, &str, i64, &str, &str, &str)] = &[
            (
                "Kestrel",
                "supplier",
                40,
                "kestrel@example.com",
                "monthly",
                "net 30",
            ),
            (
                "Albatross",
                "customer",
                0,
                "albatross@example.com",
                "weekly",
                "cash",
            ),
            (
                "Heron",
                "customer",
                1073741823,
                "heron@example.com",
                "daily",
                "net 60",
            ),
            (
                "Buzzard",
                "supplier",
                40,
                "buzzard@example.com",
                "monthly",
                "prepaid",
            ),
            (
                "Osprey",
                "customer",
                7,
                "osprey@example.com",
                "yearly",
                "net 30",
            ),
            (
                "Falcon",
                "supplier",
                12,
                "falcon@example.com",
                "weekly",
                "cash",
            ),
            (
                "Merlin",
                "customer",
                40,
                "merlin@example.com",
                "quarterly",
                "net 90",
            ),
            (
                "Condor",
                "supplier",
                999,
                "condor@example.com",
                "daily",
                "net 14",
            ),
        ];
        for (name, kind, sales, email, frequency, terms) in rows {
            ctx.create_ok(&json!({
                "company_name": name,
                "partner_type": kind,
                "sales_amount": sales,
                "email": email,
                "frequency": frequency,
                "payment_terms": terms,
            }))
            .await;
        }
        let fields = [
            "company_name",
            "sales_amount",
            "partner_type",
            "email",
            "frequency",
            "payment_terms",
        ];
        let mut all_ids: Option<BTreeSet<String>> = None;
        for field in fields {
            for dir in ["asc", "desc"] {
                let query = format!("{BOTH}&order_by={field}&order_dir={dir}");
                let (items, total) = ctx.list_ok(&format!("{query}&limit=100&offset=0")).await;
                assert_eq!(total, rows.len() as i64);
                assert_eq!(items.len(), rows.len());
                let got: Vec<Key> = items.iter().map(|i| key_of(i, field)).collect();
                let mut want = got.clone();
                want.sort();
                if dir == "desc" {
                    want.reverse();
                }
                assert_eq!(got, want, "order_by={field} order_dir={dir}");
                let set = id_set(&items);
                match &all_ids {
                    Some(s) => assert_eq!(&set, s, "every order lists the same partners"),
                    None => all_ids = Some(set),
                }

                // Pages of 3 give the same sequence: the order is total.
                let (paged, t) = all_pages(&ctx, &query, 3).await;
                assert_eq!(t, rows.len() as i64);
                assert_eq!(
                    ids(&paged),
                    ids(&items),
                    "pages of order_by={field} order_dir={dir} join into the full list"
                );
            }
        }

        // Defaults: order_by company_name, order_dir asc.
        let (by_default, _) = ctx.list_ok(&format!("{BOTH}&limit=100&offset=0")).await;
        let names: Vec<&str> = by_default
            .iter()
            .map(|i| i["company_name"].as_str().unwrap())
            .collect();
        let mut sorted: Vec<&str> = rows.iter().map(|r| r.0).collect();
        sorted.sort();
        assert_eq!(names, sorted, "default order is company_name asc");
        let (asc, _) = ctx
            .list_ok(&format!("{BOTH}&order_by=sales_amount&limit=100&offset=0"))
            .await;
        let amounts: Vec<i64> = asc
            .iter()
            .map(|i| i["sales_amount"].as_i64().unwrap())
            .collect();
        let mut want: Vec<i64> = rows.iter().map(|r| r.2).collect();
        want.sort();
        assert_eq!(amounts, want, "order_dir defaults to asc");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_is_case_insensitive_beyond_ascii() {
    for_each_backend(|app| async move {
        let a = Org::create(&app, "unicode").await;
        let ctx = Ctx::new(&app, &a.owner.token, &a.uuid, &a.uuid);
        let upper = sid(&ctx
            .create_ok(&body("MÜLLER ÖL GMBH", "customer", "m@example.com"))
            .await);
        let lower = sid(&ctx
            .create_ok(&body("müller öl gmbh", "supplier", "n@example.com"))
            .await);
        ctx.create_ok(&body("Mueller", "customer", "o@example.com"))
            .await;
        let both = BTreeSet::from([upper, lower]);
        for needle in ["müller", "MÜLLER", "Müller", "ÖL"] {
            let (items, total) = ctx
                .list_ok(&format!(
                    "{BOTH}&search_text={}&limit=10&offset=0",
                    urlencode(needle)
                ))
                .await;
            assert_eq!(id_set(&items), both, "search_text={needle}");
            assert_eq!(total, 2, "search_text={needle}");
        }
    })
    .await;
}
