//! The OAuth2 client-credentials token endpoint: JSON and form bodies, a wrong secret, and an
//! expired token.

use super::*;

async fn token_json(app: &App, body: &Value) -> Resp {
    app.rest(Method::POST, "/v1/oauth2/token", Auth::None, Some(body))
        .await
}

async fn token_form(app: &App, form: &str) -> Resp {
    send(
        app.http
            .post(app.url("/v1/oauth2/token"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form.to_string()),
    )
    .await
}

#[track_caller]
fn access_token(r: &Resp) -> String {
    r.assert_status(200);
    assert_eq!(r.json["expires_in"], json!(3600), "{}", r.text);
    assert_eq!(r.json["token_type"], json!("bearer"), "{}", r.text);
    let t = r.json["access_token"].as_str().expect("access_token");
    assert!(!t.is_empty());
    t.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth_token_json_form_and_wrong_secret() {
    for_each_backend(|app| async move {
        let a = Org::create(&app, "oauth").await;
        let other = Org::create(&app, "oauth-other").await;
        let OAuthClient { id, secret } = OAuthClient::create(&app, &a.id.to_string()).await;
        let OAuthClient {
            id: id2,
            secret: secret2,
        } = OAuthClient::create(&app, &a.uuid).await;

        let t1 = access_token(
            &token_json(&app, &json!({"client_id": id, "client_secret": secret})).await,
        );
        let t2 = access_token(
            &token_form(
                &app,
                &format!("grant_type=client_credentials&client_id={id2}&client_secret={secret2}"),
            )
            .await,
        );
        assert_ne!(t1, t2);

        // The tokens act for A.
        for t in [&t1, &t2] {
            let ctx = Ctx::new(&app, t, &a.uuid, &a.uuid);
            let p = ctx
                .create_ok(&body("Via OAuth", "customer", "oauth@example.com"))
                .await;
            let (items, _) = ctx
                .list_ok(&format!("{BOTH}&partner_ids={}&limit=10&offset=0", sid(&p)))
                .await;
            assert_eq!(items.len(), 1);
            ctx.get(&sid(&p)).await.assert_status(200);
            // Not for another organization.
            assert_plain_error(
                &Ctx::new(&app, t, &other.uuid, &other.uuid)
                    .list(&format!("{BOTH}&limit=10&offset=0"))
                    .await,
                403,
            );
        }

        // grant_type in a JSON body is accepted too.
        access_token(
            &token_json(
                &app,
                &json!({"grant_type": "client_credentials", "client_id": id, "client_secret": secret}),
            )
            .await,
        );

        // Acting for A, the token reads an organization connected to A.
        let b = Org::create(&app, "oauth-connected").await;
        partner_up(&app, &a, &b).await;
        let b_id = sid(
            &Ctx::new(&app, &b.owner.token, &b.uuid, &b.uuid)
                .create_ok(&body("B Via OAuth", "customer", "bo@example.com"))
                .await,
        );
        let (items, _) = Ctx::new(&app, &t1, &a.uuid, &b.uuid)
            .list_ok(&format!("{BOTH}&limit=10&offset=0"))
            .await;
        assert_eq!(ids(&items), vec![b_id]);

        // Wrong secret, unknown client: 401 in both body forms.
        assert_plain_error(
            &token_json(&app, &json!({"client_id": id, "client_secret": "wrong"})).await,
            401,
        );
        assert_plain_error(
            &token_json(&app, &json!({"client_id": id, "client_secret": secret2})).await,
            401,
        );
        assert_plain_error(
            &token_json(
                &app,
                &json!({"client_id": uuid::Uuid::new_v4().to_string(), "client_secret": secret}),
            )
            .await,
            401,
        );
        assert_plain_error(
            &token_form(
                &app,
                &format!("grant_type=client_credentials&client_id={id}&client_secret=wrong"),
            )
            .await,
            401,
        );
        assert_plain_error(
            &token_form(
                &app,
                &format!(
                    "grant_type=client_credentials&client_id={}&client_secret={secret}",
                    uuid::Uuid::new_v4()
                ),
            )
            .await,
            401,
        );
        // The secret is not a token.
        assert_plain_error(
            &Ctx::new(&app, &secret, &a.uuid, &a.uuid)
                .list(&format!("{BOTH}&limit=10&offset=0"))
                .await,
            401,
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_oauth_token_is_401() {
    for_each_backend(|app| async move {
        use orgd::entity::api_token;
        use sea_orm::sea_query::Expr;
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

        let a = Org::create(&app, "expiry").await;
        let OAuthClient { id, secret } = OAuthClient::create(&app, &a.uuid).await;
        let token = access_token(
            &token_json(&app, &json!({"client_id": id, "client_secret": secret})).await,
        );
        let ctx = Ctx::new(&app, &token, &a.uuid, &a.uuid);
        let q = format!("{BOTH}&limit=10&offset=0");
        ctx.list_ok(&q).await;

        let conn = sea_orm::Database::connect(app.database_url.as_str())
            .await
            .expect("connect to the test database");
        let past = chrono::Utc::now() - chrono::Duration::hours(2);
        let updated = api_token::Entity::update_many()
            .col_expr(api_token::Column::ExpiresAt, Expr::value(past))
            .filter(api_token::Column::TokenHash.eq(orgd::auth::token::hash(&token)))
            .exec(&conn)
            .await
            .expect("expire the token");
        assert_eq!(updated.rows_affected, 1, "the access token row exists");
        let _ = conn.close().await;

        // A running server trusts a token it resolved for a few seconds (the token
        // cache); past that, a row changed behind its back is seen.
        let deadline =
            std::time::Instant::now() + orgd::auth::cache::TTL + std::time::Duration::from_secs(2);
        while ctx.list(&q).await.status != 401 {
            assert!(
                std::time::Instant::now() < deadline,
                "the expired token still works after the cache TTL"
            );
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        assert_plain_error(&ctx.list(&q).await, 401);
        assert_plain_error(
            &ctx.create(&body("Late", "customer", "late@example.com"))
                .await,
            401,
        );
        // A new token works again.
        let fresh = access_token(
            &token_json(&app, &json!({"client_id": id, "client_secret": secret})).await,
        );
        Ctx::new(&app, &fresh, &a.uuid, &a.uuid).list_ok(&q).await;
        // The owner's personal token is unaffected.
        Ctx::new(&app, &a.owner.token, &a.uuid, &a.uuid)
            .list_ok(&q)
            .await;
    })
    .await;
}
