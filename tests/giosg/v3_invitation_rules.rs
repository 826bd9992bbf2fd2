//! giosg's v3 network invitations, their rules: the accept/reject 404/403 split, the status
//! filter, orderings and page numbers, and concurrent accepts (the published attributes and
//! the overwrite from an existing partner are in `v3_invitations`). Each test runs on SQLite
//! and (when configured) PostgreSQL.

use super::v3::*;
use crate::common::*;
use reqwest::Method;
use serde_json::{Value, json};
// The v3 fixtures' own member (of their own Org), not the shared library's.
use super::v3::member;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accept_and_reject_answer_404_or_403_as_published() {
    for_each_backend(|app| async move {
        let a = active_org(&app, "split-a").await;
        let b = active_org(&app, "split-b").await;

        // Not found.
        for path in [accept_path("nosuchkey"), reject_path("nosuchkey")] {
            assert_detail(
                &call(
                    &app,
                    Method::POST,
                    &path,
                    &b.owner.token,
                    Some(json!({"visible_to_everyone": true})),
                )
                .await,
                404,
            );
        }

        // Cancelled: 404 to accept and reject, and to a second cancel.
        let sent = invite(&app, &a, &b.email, true).await;
        let id = sent["id"].as_i64().unwrap();
        let key = key_of(&app, &b.owner.token, id).await;
        call(
            &app,
            Method::DELETE,
            &format!("{OUTGOING}{id}"),
            &a.owner.token,
            None,
        )
        .await
        .assert_status(204);
        assert_detail(
            &call(
                &app,
                Method::DELETE,
                &format!("{OUTGOING}{id}"),
                &a.owner.token,
                None,
            )
            .await,
            404,
        );
        assert_detail(
            &call(
                &app,
                Method::POST,
                &accept_path(&key),
                &b.owner.token,
                Some(json!({"visible_to_everyone": true})),
            )
            .await,
            404,
        );
        assert_detail(
            &call(&app, Method::POST, &reject_path(&key), &b.owner.token, None).await,
            404,
        );

        // Created by you: 403 to the sender's people, whatever the key.
        let sent = invite(&app, &a, &b.email, true).await;
        let id = sent["id"].as_i64().unwrap();
        let key = key_of(&app, &b.owner.token, id).await;
        assert_detail(
            &call(
                &app,
                Method::POST,
                &accept_path(&key),
                &a.owner.token,
                Some(json!({"visible_to_everyone": true})),
            )
            .await,
            403,
        );
        assert_detail(
            &call(&app, Method::POST, &reject_path(&key), &a.owner.token, None).await,
            403,
        );

        // Resolved by your own company: 403 to accept and reject again, and to cancel.
        let rejected = call(&app, Method::POST, &reject_path(&key), &b.owner.token, None).await;
        rejected.assert_status(200);
        assert_eq!(rejected.json["status"], json!(2));
        assert_eq!(rejected.json["resolver_company_id"], json!(b.id));
        assert_detail(
            &call(
                &app,
                Method::POST,
                &accept_path(&key),
                &b.owner.token,
                Some(json!({"visible_to_everyone": true})),
            )
            .await,
            403,
        );
        assert_detail(
            &call(&app, Method::POST, &reject_path(&key), &b.owner.token, None).await,
            403,
        );
        assert_detail(
            &call(
                &app,
                Method::DELETE,
                &format!("{OUTGOING}{id}"),
                &a.owner.token,
                None,
            )
            .await,
            403,
        );
        // It stays in B's incoming list: B resolved it.
        assert_eq!(
            get(&app, &format!("{INCOMING}{key}"), &b.owner.token)
                .await
                .json["status"],
            json!(2)
        );

        // Resolved by another company: a person in two organizations is invited by email,
        // answers for X; answering for Y is then 404.
        let x = active_org(&app, "split-x").await;
        let y = active_org(&app, "split-y").await;
        let person = member(&app, &x, "split-person", "admin").await;
        app.member_add(y.id, &person.email, "admin").await;
        let sent = invite(&app, &a, &person.email, true).await;
        let key = key_of(&app, &person.token, sent["id"].as_i64().unwrap()).await;
        // Belonging to several, the person names the organization answering.
        assert_field_error(
            &call(
                &app,
                Method::POST,
                &accept_path(&key),
                &person.token,
                Some(json!({"visible_to_everyone": true})),
            )
            .await,
            "organization_id",
        );
        let accepted = call(
            &app,
            Method::POST,
            &format!("{}?organization_id={}", accept_path(&key), x.id),
            &person.token,
            Some(json!({"visible_to_everyone": true})),
        )
        .await;
        accepted.assert_status(200);
        assert_eq!(accepted.json["resolver_company_id"], json!(x.id));
        assert_detail(
            &call(
                &app,
                Method::POST,
                &format!("{}?organization_id={}", accept_path(&key), y.id),
                &person.token,
                Some(json!({"visible_to_everyone": true})),
            )
            .await,
            404,
        );
        assert_detail(
            &call(
                &app,
                Method::POST,
                &format!("{}?organization_id={}", reject_path(&key), y.id),
                &person.token,
                None,
            )
            .await,
            404,
        );
        assert_detail(
            &call(
                &app,
                Method::POST,
                &format!("{}?organization_id={}", reject_path(&key), x.id),
                &person.token,
                None,
            )
            .await,
            403,
        );
        // Y's owner is not its addressee: 404, and Y has no partnership.
        assert_eq!(
            get(&app, PARTNERSHIPS, &y.owner.token).await.json["count"],
            json!(0)
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_filter_by_status_order_and_number_their_pages() {
    for_each_backend(|app| async move {
        let a = active_org(&app, "list-a").await;
        let b = active_org(&app, "list-b").await;
        let c = active_org(&app, "list-c").await;
        let to_b = invite(&app, &a, &b.email, true).await;
        let to_c = invite(&app, &a, &c.email, true).await;
        let mut pending = Vec::new();
        for label in ["zed", "amy", "kim"] {
            let email = format!(
                "{label}-{}@elsewhere.example",
                &uuid::Uuid::new_v4().simple().to_string()[..6]
            );
            pending.push(invite(&app, &a, &email, true).await);
        }
        let key_b = key_of(&app, &b.owner.token, to_b["id"].as_i64().unwrap()).await;
        let key_c = key_of(&app, &c.owner.token, to_c["id"].as_i64().unwrap()).await;
        call(
            &app,
            Method::POST,
            &reject_path(&key_c),
            &c.owner.token,
            None,
        )
        .await
        .assert_status(200);
        call(
            &app,
            Method::POST,
            &accept_path(&key_b),
            &b.owner.token,
            Some(json!({"visible_to_everyone": true})),
        )
        .await
        .assert_status(200);
        let token = &a.owner.token;

        // The status filter.
        for (status, want) in [(0, 3), (1, 1), (2, 1)] {
            let page = get(&app, &format!("{OUTGOING}?status={status}"), token).await;
            page.assert_status(200);
            assert_eq!(
                page.json["count"],
                json!(want),
                "status {status}: {}",
                page.text
            );
            assert!(
                page.json["results"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|i| i["status"] == json!(status))
            );
        }
        assert_field_error(
            &get(&app, &format!("{OUTGOING}?status=7"), token).await,
            "status",
        );
        assert_field_error(
            &get(&app, &format!("{OUTGOING}?status=x"), token).await,
            "status",
        );
        assert_eq!(
            get(&app, &format!("{INCOMING}?status=1"), &b.owner.token)
                .await
                .json["count"],
            json!(1)
        );
        assert_eq!(
            get(&app, &format!("{INCOMING}?status=0"), &b.owner.token)
                .await
                .json["count"],
            json!(0)
        );

        // Orderings, ascending and descending.
        let order = |q: &'static str| {
            let app = app.clone();
            let token = token.clone();
            async move {
                let page = get(&app, &format!("{OUTGOING}?ordering={q}"), &token).await;
                page.assert_status(200);
                page.json["results"].as_array().unwrap().clone()
            }
        };
        let emails: Vec<String> = order("email")
            .await
            .iter()
            .map(|i| i["email"].as_str().unwrap().to_string())
            .collect();
        let mut sorted = emails.clone();
        sorted.sort();
        assert_eq!(emails, sorted);
        let mut reversed: Vec<String> = order("-email")
            .await
            .iter()
            .map(|i| i["email"].as_str().unwrap().to_string())
            .collect();
        reversed.reverse();
        assert_eq!(reversed, sorted);
        let statuses: Vec<i64> = order("status")
            .await
            .iter()
            .map(|i| i["status"].as_i64().unwrap())
            .collect();
        assert_eq!(statuses, vec![0, 0, 0, 1, 2]);
        let statuses: Vec<i64> = order("-status")
            .await
            .iter()
            .map(|i| i["status"].as_i64().unwrap())
            .collect();
        assert_eq!(statuses, vec![2, 1, 0, 0, 0]);
        // Resolved ones by when (C rejected before B accepted), the pending ones after.
        let resolved: Vec<Value> = order("resolved_at")
            .await
            .iter()
            .map(|i| i["id"].clone())
            .collect();
        assert_eq!(resolved[..2], [to_c["id"].clone(), to_b["id"].clone()]);
        let created: Vec<Value> = order("-created_at")
            .await
            .iter()
            .map(|i| i["id"].clone())
            .collect();
        assert_eq!(created[0], pending[2]["id"]);
        assert_eq!(created[4], to_b["id"]);
        assert_field_error(
            &get(&app, &format!("{OUTGOING}?ordering=name"), token).await,
            "ordering",
        );

        // Page numbers: count, next and previous links, 404 past the end, size bounds.
        let first = get(&app, &format!("{OUTGOING}?page_size=2"), token).await;
        first.assert_status(200);
        assert_eq!(first.json["count"], json!(5));
        assert_eq!(first.json["previous"], Value::Null);
        assert_eq!(ids(&first.json).len(), 2);
        let second = get(&app, &local(&app, &first.json["next"]), token).await;
        second.assert_status(200);
        assert_eq!(ids(&second.json).len(), 2);
        let third = get(&app, &local(&app, &second.json["next"]), token).await;
        assert_eq!(ids(&third.json).len(), 1);
        assert_eq!(third.json["next"], Value::Null);
        let mut all = ids(&first.json);
        all.extend(ids(&second.json));
        all.extend(ids(&third.json));
        let mut unique = all.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), 5, "every invitation once: {all:?}");
        let back = get(&app, &local(&app, &second.json["previous"]), token).await;
        assert_eq!(ids(&back.json), ids(&first.json));
        assert_detail(
            &get(&app, &format!("{OUTGOING}?page_size=2&page=4"), token).await,
            404,
        );
        assert_detail(&get(&app, &format!("{OUTGOING}?page=0"), token).await, 404);
        assert_field_error(
            &get(&app, &format!("{OUTGOING}?page_size=201"), token).await,
            "page_size",
        );
        assert_field_error(
            &get(&app, &format!("{OUTGOING}?page_size=0"), token).await,
            "page_size",
        );
        get(&app, &format!("{OUTGOING}?page_size=200"), token)
            .await
            .assert_status(200);
        // An empty list has its page 1.
        let empty = get(&app, OUTGOING, &c.owner.token).await;
        empty.assert_status(200);
        assert_eq!(
            empty.json,
            json!({"count": 0, "next": null, "previous": null, "results": []})
        );

        // Default page size 50.
        for i in 0..46 {
            invite(&app, &a, &format!("bulk-{i}@elsewhere.example"), false).await;
        }
        let page = get(&app, OUTGOING, token).await;
        assert_eq!(page.json["count"], json!(51));
        assert_eq!(ids(&page.json).len(), 50);
        assert!(
            page.json["next"].as_str().unwrap().ends_with("page=2"),
            "{}",
            page.json["next"]
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_accepts_make_one_partnership() {
    for_each_backend(|app| async move {
        let a = active_org(&app, "race3-a").await;
        let b = active_org(&app, "race3-b").await;
        let sent = invite(&app, &a, &b.email, true).await;
        let key = key_of(&app, &b.owner.token, sent["id"].as_i64().unwrap()).await;
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..8 {
            let (app, key, token) = (app.clone(), key.clone(), b.owner.token.clone());
            set.spawn(async move {
                call(
                    &app,
                    Method::POST,
                    &accept_path(&key),
                    &token,
                    Some(json!({"visible_to_everyone": true})),
                )
                .await
                .status
                .as_u16()
            });
        }
        let mut codes = Vec::new();
        while let Some(code) = set.join_next().await {
            codes.push(code.unwrap());
        }
        assert_eq!(codes.iter().filter(|c| **c == 200).count(), 1, "{codes:?}");
        assert!(codes.iter().all(|c| *c == 200 || *c == 403), "{codes:?}");
        for org in [&a, &b] {
            assert_eq!(
                get(&app, PARTNERSHIPS, &org.owner.token).await.json["count"],
                json!(1)
            );
        }

        // Two organizations accepting each other's invitation at the same moment.
        let c = active_org(&app, "race3-c").await;
        let d = active_org(&app, "race3-d").await;
        let to_d = invite(&app, &c, &d.email, true).await;
        let to_c = invite(&app, &d, &c.email, false).await;
        let key_d = key_of(&app, &d.owner.token, to_d["id"].as_i64().unwrap()).await;
        let key_c = key_of(&app, &c.owner.token, to_c["id"].as_i64().unwrap()).await;
        let mut set = tokio::task::JoinSet::new();
        for (key, token) in [
            (key_d, d.owner.token.clone()),
            (key_c, c.owner.token.clone()),
        ] {
            let app = app.clone();
            set.spawn(async move {
                call(
                    &app,
                    Method::POST,
                    &accept_path(&key),
                    &token,
                    Some(json!({"visible_to_everyone": true})),
                )
                .await
                .status
                .as_u16()
            });
        }
        while let Some(code) = set.join_next().await {
            assert_eq!(code.unwrap(), 200);
        }
        for (org, partner) in [(&c, &d), (&d, &c)] {
            let list = get(&app, PARTNERSHIPS, &org.owner.token).await;
            assert_eq!(list.json["count"], json!(1), "{}", list.text);
            assert_eq!(
                list.json["results"][0]["partner_company_id"],
                json!(partner.id)
            );
        }
    })
    .await;
}
