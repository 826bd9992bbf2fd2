//! Pagination: every item exactly once, and an offset without upper bound.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pagination_covers_every_item_exactly_once() {
    for_each_backend(|app| async move {
        let a = Org::create(&app, "pages").await;
        let ctx = Ctx::new(&app, &a.owner.token, &a.uuid, &a.uuid);
        // Many ties on every field: only the internal id tells them apart.
        let mut created = BTreeSet::new();
        for i in 0..23 {
            let kind = if i % 3 == 0 { "supplier" } else { "customer" };
            let p = ctx
                .create_ok(&json!({
                    "company_name": format!("Same Name {}", i % 2),
                    "partner_type": kind,
                    "sales_amount": (i % 4) * 100,
                    "email": format!("p{i}@example.com"),
                    "frequency": "monthly",
                    "payment_terms": if i % 5 == 0 { "cash" } else { "net 30" },
                }))
                .await;
            created.insert(sid(&p));
        }
        let n = created.len() as i64;
        for order in [
            "company_name",
            "sales_amount",
            "partner_type",
            "email",
            "frequency",
            "payment_terms",
        ] {
            for dir in ["asc", "desc"] {
                for limit in [1, 4, 7, 23, 100] {
                    let query = format!("{BOTH}&order_by={order}&order_dir={dir}");
                    let (items, total) = all_pages(&ctx, &query, limit).await;
                    assert_eq!(total, n, "total_items for {query}");
                    let list = ids(&items);
                    let unique: HashSet<&String> = list.iter().collect();
                    assert_eq!(
                        unique.len(),
                        list.len(),
                        "pages of {limit} overlap for {query}"
                    );
                    assert_eq!(
                        id_set(&items),
                        created,
                        "pages of {limit} skip items for {query}"
                    );
                }
            }
        }

        // Past the end: no items, total still counts every match.
        let (items, total) = ctx.list_ok(&format!("{BOTH}&limit=10&offset=23")).await;
        assert!(items.is_empty());
        assert_eq!(total, n);
        let (items, total) = ctx.list_ok(&format!("{BOTH}&limit=10&offset=1000")).await;
        assert!(items.is_empty());
        assert_eq!(total, n);
        let (items, total) = ctx.list_ok(&format!("{BOTH}&limit=10&offset=20")).await;
        assert_eq!(items.len(), 3);
        assert_eq!(total, n);
        // Filtered totals.
        let (items, total) = ctx.list_ok("partner_types=supplier&limit=2&offset=0").await;
        assert_eq!(items.len(), 2);
        assert_eq!(total, 8, "suppliers: i % 3 == 0 for i in 0..23");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offset_has_no_upper_bound() {
    for_each_backend(|app| async move {
        let a = Org::create(&app, "bigoffset").await;
        let ctx = Ctx::new(&app, &a.owner.token, &a.uuid, &a.uuid);
        ctx.create_ok(&body("Only", "customer", "only@example.com"))
            .await;
        for offset in ["1", "2147483647", "3000000000"] {
            let (items, total) = ctx
                .list_ok(&format!("{BOTH}&limit=10&offset={offset}"))
                .await;
            assert!(items.is_empty(), "offset={offset}");
            assert_eq!(total, 1, "offset={offset}");
        }
    })
    .await;
}

/// `total_items` is kept per directory and type (migration m0014), not counted: through
/// creates, type changes and deletes, in two directories side by side, it stays the number
/// of records each type filter lists, and a filter the kept totals cannot answer (an
/// invitation status) still counts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn total_items_follows_every_write() {
    for_each_backend(|app| async move {
        let a = Org::create(&app, "totals-a").await;
        let b = Org::create(&app, "totals-b").await;
        let ctx = Ctx::new(&app, &a.owner.token, &a.uuid, &a.uuid);
        let other = Ctx::new(&app, &b.owner.token, &b.uuid, &b.uuid);
        let mut ids = Vec::new();
        for i in 0..6 {
            let kind = if i % 2 == 0 { "customer" } else { "supplier" };
            ids.push(sid(&ctx
                .create_ok(&body(&format!("T{i}"), kind, &format!("t{i}@x.example")))
                .await));
        }
        other
            .create_ok(&body("Elsewhere", "customer", "e@x.example"))
            .await;
        // A supplier becomes a customer, a customer is deleted, a PATCH keeps the type.
        ctx.patch(&ids[1], &json!({"partner_type": "customer"}))
            .await
            .assert_status(200);
        ctx.patch(
            &ids[2],
            &json!({"partner_type": "customer", "city": "Kiel"}),
        )
        .await
        .assert_status(200);
        ctx.delete(&ids[0]).await.assert_status(204);
        for (directory, want) in [(&ctx, [3, 2, 5]), (&other, [1, 0, 1])] {
            for (types, want) in [
                ("partner_types=customer", want[0]),
                ("partner_types=supplier", want[1]),
                (BOTH, want[2]),
            ] {
                let (items, total) = all_pages(directory, types, 2).await;
                assert_eq!(items.len() as i64, want, "{types}: records listed");
                assert_eq!(total, want, "{types}: total_items");
            }
        }
        let (items, total) = ctx
            .list_ok(&format!(
                "{BOTH}&invitation_statuses=invited&limit=10&offset=0"
            ))
            .await;
        assert_eq!((items.len(), total), (0, 0), "a counted filter");
    })
    .await;
}
