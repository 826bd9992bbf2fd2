//! Expired rows (access tokens, presence clients) are purged in the background.

use super::*;

/// Expired access tokens and presence clients are deleted by a background task started
/// with the server; live ones stay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_rows_are_purged_in_the_background() {
    use orgd::entity::{api_token, user_client};
    use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, Set};
    for_each_backend_with(
        |c| c.purge_interval = std::time::Duration::from_millis(50),
        |app| async move {
            let owner = app.user("purged").await;
            let db = sea_orm::Database::connect(app.database_url.as_str())
                .await
                .unwrap();
            let conn = &db;
            let past = chrono::Utc::now() - chrono::Duration::hours(1);
            let future = chrono::Utc::now() + chrono::Duration::hours(1);
            let principal = orgd::auth::Principal::User { user_id: owner.id };
            let expired = orgd::domain::token::issue(conn, &principal, Some(past))
                .await
                .unwrap();
            let live = orgd::domain::token::issue(conn, &principal, Some(future))
                .await
                .unwrap();
            for (client_id, expires_at) in [("gone", past), ("here", future)] {
                user_client::ActiveModel {
                    user_id: Set(owner.id),
                    client_id: Set(client_id.into()),
                    expires_at: Set(expires_at),
                    created_at: Set(past),
                    ..Default::default()
                }
                .insert(conn)
                .await
                .unwrap();
            }
            let hash = orgd::auth::token::hash(&expired);

            // Eventually gone (the deadline is only there to end a failing run).
            let mut purged = false;
            for _ in 0..400 {
                let tokens = api_token::Entity::find()
                    .filter(api_token::Column::TokenHash.eq(hash.clone()))
                    .count(conn)
                    .await
                    .unwrap();
                let clients = user_client::Entity::find()
                    .filter(user_client::Column::ClientId.eq("gone"))
                    .count(conn)
                    .await
                    .unwrap();
                if tokens == 0 && clients == 0 {
                    purged = true;
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(25)).await;
            }
            assert!(purged, "expired rows are still there");
            // The live ones stay, and still work.
            let left = user_client::Entity::find()
                .filter(user_client::Column::ClientId.eq("here"))
                .count(conn)
                .await
                .unwrap();
            assert_eq!(left, 1);
            for token in [&live, &owner.token] {
                app.rest(
                    Method::GET,
                    "/api/v1/organizations",
                    Auth::Bearer(token),
                    None,
                )
                .await
                .assert_status(200);
            }
        },
    )
    .await;
}
