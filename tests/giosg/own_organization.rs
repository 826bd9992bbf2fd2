//! Your own organization and its users.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn own_organization_and_users() {
    for_each_backend(|app| async move {
        let a = Org::active(&app, "own").await;
        let m = member(&app, &a, "own-member", "member").await;
        let org = get(&app, &format!("/api/v5/orgs/{}", a.uuid), &m.token).await;
        org.assert_status(200);
        assert_keys(&org.json, ORG_KEYS);
        assert_eq!(org.json["id"], json!(a.uuid));
        assert_eq!(org.json["email"], json!(a.email()));
        assert_eq!(org.json["is_present"], json!(false));
        assert_eq!(org.json["is_online"], json!(false));
        utc(&org.json["created_at"]);
        // Trailing slash optional.
        get(&app, &format!("/api/v5/orgs/{}/", a.uuid), &m.token)
            .await
            .assert_status(200);

        let users = get(&app, &format!("/api/v5/orgs/{}/users", a.uuid), &m.token).await;
        users.assert_status(200);
        assert_eq!(
            ids(&users.json),
            vec![a.owner.uuid.clone(), m.uuid.clone()],
            "created_at order"
        );
        let desc = get(
            &app,
            &format!("/api/v5/orgs/{}/users?ordering=-created_at", a.uuid),
            &m.token,
        )
        .await;
        assert_eq!(ids(&desc.json), vec![m.uuid.clone(), a.owner.uuid.clone()]);
        let one = get(
            &app,
            &format!("/api/v5/orgs/{}/users/{}", a.uuid, a.owner.uuid),
            &m.token,
        )
        .await;
        one.assert_status(200);
        assert_keys(&one.json, USER_KEYS);
        assert_eq!(one.json["id"], json!(a.owner.uuid));
        assert_eq!(one.json["email"], json!(a.owner.email));

        let outsider = app.user("outsider").await;
        assert_detail(
            &get(
                &app,
                &format!("/api/v5/orgs/{}/users/{}", a.uuid, outsider.uuid),
                &m.token,
            )
            .await,
            404,
        );
        assert_detail(
            &get(
                &app,
                &format!("/api/v5/orgs/{}/users/not-a-uuid", a.uuid),
                &m.token,
            )
            .await,
            404,
        );
    })
    .await;
}
