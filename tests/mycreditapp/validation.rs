//! Validation and the order of the checks: the 422 of each query parameter and header with its
//! `loc`, errors reported together, 401 before any validation, and 422 before 403.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_query_validation_names_each_parameter() {
    for_each_backend(|app| async move {
        let a = Org::create(&app, "query").await;
        let ctx = Ctx::new(&app, &a.owner.token, &a.uuid, &a.uuid);
        let ok = "limit=10&offset=0";

        // The three required parameters missing at once.
        assert_422(
            &ctx.list("").await,
            &[
                ["query", "partner_types"],
                ["query", "limit"],
                ["query", "offset"],
            ],
        );
        assert_422(&ctx.list(&format!("{BOTH}&offset=0")).await, &[["query", "limit"]]);
        assert_422(&ctx.list(&format!("{BOTH}&limit=10")).await, &[["query", "offset"]]);
        assert_422(&ctx.list(ok).await, &[["query", "partner_types"]]);

        let cases: Vec<(String, &str)> = vec![
            (format!("{BOTH}&limit=0&offset=0"), "limit"),
            (format!("{BOTH}&limit=101&offset=0"), "limit"),
            (format!("{BOTH}&limit=-1&offset=0"), "limit"),
            (format!("{BOTH}&limit=abc&offset=0"), "limit"),
            (format!("{BOTH}&limit=10&offset=-1"), "offset"),
            (format!("{BOTH}&limit=10&offset=x"), "offset"),
            (format!("partner_types=vendor&{ok}"), "partner_types"),
            (format!("partner_types=customer&partner_types=bogus&{ok}"), "partner_types"),
            (format!("{BOTH}&partner_ids=nope&{ok}"), "partner_ids"),
            (
                format!("{BOTH}&partner_ids={}&partner_ids=123&{ok}", uuid::Uuid::new_v4()),
                "partner_ids",
            ),
            (format!("{BOTH}&search_field=phone&{ok}"), "search_field"),
            (format!("{BOTH}&search_text=&{ok}"), "search_text"),
            (format!("{BOTH}&search_text={}&{ok}", "a".repeat(256)), "search_text"),
            (format!("{BOTH}&invitation_statuses=pending&{ok}"), "invitation_statuses"),
            (format!("{BOTH}&order_by=created_at&{ok}"), "order_by"),
            (format!("{BOTH}&order_dir=sideways&{ok}"), "order_dir"),
        ];
        for (query, field) in &cases {
            let r = ctx.list(query).await;
            assert!(
                r.status.as_u16() == 422,
                "{query}: expected 422, got {} {}",
                r.status,
                r.text
            );
            assert_422(&r, &[["query", field]]);
        }

        // Several bad parameters are all listed.
        assert_422(
            &ctx
                .list(&format!("{BOTH}&limit=0&offset=-1&search_text=&partner_ids=nope"))
                .await,
            &[
                ["query", "limit"],
                ["query", "offset"],
                ["query", "search_text"],
                ["query", "partner_ids"],
            ],
        );

        // Boundaries that are fine.
        for query in [
            format!("{BOTH}&limit=1&offset=0"),
            format!("{BOTH}&limit=100&offset=0"),
            "partner_types=customer&limit=100&offset=5".to_string(),
            format!("{BOTH}&search_field=email&search_text=a&order_by=payment_terms&order_dir=desc&invitation_statuses=invited&{ok}"),
        ] {
            ctx.list_ok(&query).await;
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers_are_required_and_must_be_uuids() {
    for_each_backend(|app| async move {
        let a = Org::create(&app, "headers").await;
        let t = Some(a.owner.token.as_str());
        let me = Some(a.uuid.as_str());
        let list = format!("/v1/partners?{BOTH}&limit=10&offset=0");
        let create = body("Header Co", "customer", "h@example.com");
        const REQ: [&str; 2] = ["header", "requester-organization-id"];
        const TGT: [&str; 2] = ["header", "target-organization-id"];

        for (method, path, b) in [
            (Method::GET, list.as_str(), None),
            (Method::POST, "/v1/partners", Some(&create)),
        ] {
            assert_422(
                &dir(&app, method.clone(), path, t, None, me, b).await,
                &[REQ],
            );
            assert_422(
                &dir(&app, method.clone(), path, t, me, None, b).await,
                &[TGT],
            );
            assert_422(
                &dir(&app, method.clone(), path, t, None, None, b).await,
                &[REQ, TGT],
            );

            for bad in ["not-a-uuid", "", "1234"] {
                assert_422(
                    &dir(&app, method.clone(), path, t, Some(bad), me, b).await,
                    &[REQ],
                );
                assert_422(
                    &dir(&app, method.clone(), path, t, me, Some(bad), b).await,
                    &[TGT],
                );
                assert_422(
                    &dir(&app, method.clone(), path, t, Some(bad), Some(bad), b).await,
                    &[REQ, TGT],
                );
            }
        }

        // Per-partner routes too.
        let ctx = Ctx::new(&app, &a.owner.token, &a.uuid, &a.uuid);
        let p = sid(&ctx.create_ok(&create).await);
        for (method, path) in [
            (Method::GET, format!("/v1/partners/{p}")),
            (Method::PATCH, format!("/v1/partners/{p}")),
            (Method::DELETE, format!("/v1/partners/{p}")),
            (Method::POST, format!("/v1/partners/{p}/invitation")),
        ] {
            let b = (method == Method::PATCH).then(|| json!({"city": "Köln"}));
            assert_422(
                &dir(&app, method.clone(), &path, t, None, me, b.as_ref()).await,
                &[REQ],
            );
            assert_422(
                &dir(&app, method.clone(), &path, t, me, Some("zzz"), b.as_ref()).await,
                &[TGT],
            );
        }
        // Nothing was changed by the rejected calls.
        let got = ctx.get(&p).await;
        got.assert_status(200);
        assert_eq!(got.json["city"], Value::Null);
        assert_eq!(got.json["invitation_status"], Value::Null);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn header_and_query_errors_are_reported_together() {
    for_each_backend(|app| async move {
        let a = Org::create(&app, "together").await;
        let t = Some(a.owner.token.as_str());
        let me = Some(a.uuid.as_str());
        const REQ: [&str; 2] = ["header", "requester-organization-id"];
        const TGT: [&str; 2] = ["header", "target-organization-id"];
        // Headers and query problems are reported together.
        let r = dir(
            &app,
            Method::GET,
            "/v1/partners?partner_types=customer&offset=0",
            t,
            None,
            me,
            None,
        )
        .await;
        assert_422(&r, &[REQ, ["query", "limit"]]);
        let r = dir(
            &app,
            Method::GET,
            "/v1/partners?partner_types=customer&limit=abc&offset=0",
            t,
            me,
            None,
            None,
        )
        .await;
        assert_422(&r, &[TGT, ["query", "limit"]]);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn header_and_body_errors_are_reported_together() {
    for_each_backend(|app| async move {
        let a = Org::create(&app, "together-body").await;
        let t = Some(a.owner.token.as_str());
        let me = Some(a.uuid.as_str());
        let r = dir(
            &app,
            Method::POST,
            "/v1/partners",
            t,
            None,
            me,
            Some(&json!({"partner_type": "customer", "email": "not-an-email", "sales_amount": -1})),
        )
        .await;
        assert_422(
            &r,
            &[
                ["header", "requester-organization-id"],
                ["body", "company_name"],
                ["body", "email"],
                ["body", "sales_amount"],
            ],
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthenticated_is_401_before_header_and_query_checks() {
    for_each_backend(|app| async move {
        let a = Org::create(&app, "order401").await;
        let good = format!("/v1/partners?{BOTH}&limit=10&offset=0");
        let me = Some(a.uuid.as_str());
        for token in [None, Some("not-a-token")] {
            assert_plain_error(
                &dir(&app, Method::GET, &good, token, me, me, None).await,
                401,
            );
            // Missing headers and query.
            assert_plain_error(
                &dir(
                    &app,
                    Method::GET,
                    "/v1/partners",
                    token,
                    None,
                    Some("x"),
                    None,
                )
                .await,
                401,
            );
            // Missing headers, valid body.
            assert_plain_error(
                &dir(
                    &app,
                    Method::POST,
                    "/v1/partners",
                    token,
                    None,
                    None,
                    Some(&body("Anon", "customer", "anon@example.com")),
                )
                .await,
                401,
            );
            assert_plain_error(
                &dir(
                    &app,
                    Method::DELETE,
                    &format!("/v1/partners/{}", uuid::Uuid::new_v4()),
                    token,
                    me,
                    me,
                    None,
                )
                .await,
                401,
            );
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthenticated_is_401_before_malformed_query_values() {
    for_each_backend(|app| async move {
        let a = Org::create(&app, "order401q").await;
        let me = Some(a.uuid.as_str());
        for token in [None, Some("not-a-token")] {
            let r = dir(
                &app,
                Method::GET,
                "/v1/partners?partner_types=vendor&limit=abc&offset=0",
                token,
                me,
                me,
                None,
            )
            .await;
            assert_plain_error(&r, 401);
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthenticated_is_401_before_body_type_errors() {
    for_each_backend(|app| async move {
        let a = Org::create(&app, "order401b").await;
        let me = Some(a.uuid.as_str());
        for token in [None, Some("not-a-token")] {
            let r = dir(
                &app,
                Method::POST,
                "/v1/partners",
                token,
                me,
                me,
                Some(&json!({"company_name": "Typed", "partner_type": "customer", "email": "t@example.com", "sales_amount": "x"})),
            )
            .await;
            assert_plain_error(&r, 401);
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validation_is_422_before_permission_403() {
    for_each_backend(|app| async move {
        let a = Org::create(&app, "order422").await;
        let stranger = app.user("stranger").await;
        let good = format!("/v1/partners?{BOTH}&limit=10&offset=0");
        let me = Some(a.uuid.as_str());
        let s = Some(stranger.token.as_str());

        // A stranger (not a member of the requester) with a bad query or missing headers.
        assert_422(
            &dir(
                &app,
                Method::GET,
                &format!("/v1/partners?{BOTH}&offset=0"),
                s,
                me,
                me,
                None,
            )
            .await,
            &[["query", "limit"]],
        );
        assert_422(
            &dir(
                &app,
                Method::GET,
                &format!("/v1/partners?{BOTH}&limit=500&offset=0"),
                s,
                me,
                me,
                None,
            )
            .await,
            &[["query", "limit"]],
        );
        assert_422(
            &dir(&app, Method::GET, &good, s, None, me, None).await,
            &[["header", "requester-organization-id"]],
        );
        assert_422(
            &dir(
                &app,
                Method::GET,
                "/v1/partners?offset=0",
                s,
                me,
                Some("bad"),
                None,
            )
            .await,
            &[
                ["header", "target-organization-id"],
                ["query", "partner_types"],
                ["query", "limit"],
            ],
        );
        // 403 once the request is well formed.
        assert_plain_error(&dir(&app, Method::GET, &good, s, me, me, None).await, 403);
        assert_plain_error(
            &dir(
                &app,
                Method::POST,
                "/v1/partners",
                s,
                me,
                me,
                Some(&body("Sneaky", "customer", "s@example.com")),
            )
            .await,
            403,
        );
        // The owner is fine.
        Ctx::new(&app, &a.owner.token, &a.uuid, &a.uuid)
            .list_ok(&good)
            .await;
    })
    .await;
}
