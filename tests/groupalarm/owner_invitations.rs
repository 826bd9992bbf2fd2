//! Owner invitations: the lifecycle, who may accept, removal, and concurrent accepts.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owner_invitation_lifecycle() {
    for_each_backend(|app| async move {
        let owner = app.user("owner").await;
        let invitee = app.user("invitee").await;
        let id = id_of(&app.org(&owner.token, "Inviting").await);
        assert_eq!(app.invitations(&owner.token, id).await, json!([]));

        let r = app.invite(&owner.token, id, &invitee.email).await;
        expect_status(&r, 201, "invite");
        let inv = r.json.clone();
        for key in ["id", "email", "organizationID", "userID", "creationDate"] {
            assert!(inv.get(key).is_some(), "invitation lacks {key}: {inv}");
        }
        let inv_id = inv["id"].as_str().expect("id is a string").to_string();
        assert!(
            uuid::Uuid::parse_str(&inv_id).is_ok(),
            "id is a UUID: {inv_id}"
        );
        assert_eq!(inv["email"], json!(invitee.email));
        assert_eq!(inv["organizationID"], json!(id));
        assert_eq!(inv["userID"], json!(invitee.id));
        utc(&inv["creationDate"]);
        assert_eq!(app.invitations(&owner.token, id).await, json!([inv]));
        // Inviting changes no owners yet.
        assert_eq!(
            owner_ids(&app.org_json(&owner.token, id).await),
            vec![owner.id]
        );

        // Conflicts and bad input, none of which changes anything.
        expect_error(
            &app.invite(&owner.token, id, &invitee.email).await,
            409,
            "INVITATION_EXISTS",
            "second open invitation",
        );
        expect_error(
            &app.invite(&owner.token, id, &owner.email).await,
            409,
            "ALREADY_OWNER",
            "inviting an owner",
        );
        expect_error(
            &app.invite(&owner.token, id, "nobody-here@example.com")
                .await,
            404,
            "NOT_FOUND",
            "unknown email",
        );
        for (what, body) in [
            ("invalid email", json!({"email": "not-an-email"})),
            ("empty email", json!({"email": ""})),
            ("missing email", json!({})),
            ("email is a number", json!({"email": 5})),
        ] {
            let r = app
                .rest(
                    Method::POST,
                    &org_path(id, "/owner/invitations"),
                    Auth::Bearer(&owner.token),
                    Some(&body),
                )
                .await;
            expect_error(&r, 400, "INVALID_ARGUMENT", what);
        }
        assert_eq!(
            app.invitations(&owner.token, id).await,
            json!([inv]),
            "one open invitation"
        );

        // A second invitee, then the first accepts.
        let second = app.user("second").await;
        let inv2 = app.invite(&owner.token, id, &second.email).await;
        expect_status(&inv2, 201, "second invite");
        let listed = app.invitations(&owner.token, id).await;
        assert_eq!(listed.as_array().unwrap().len(), 2, "{listed}");

        let r = app.accept(Auth::Bearer(&invitee.token), id, &inv_id).await;
        assert_empty_200(&r, "accept");
        let org = app.org_json(&owner.token, id).await;
        assert_eq!(owner_ids(&org), sorted(vec![owner.id, invitee.id]));
        assert_eq!(
            app.invitations(&owner.token, id).await,
            json!([inv2.json]),
            "the accepted invitation is no longer listed"
        );
        // Accepting again: 200 and still one owner entry.
        assert_empty_200(
            &app.accept(Auth::Bearer(&invitee.token), id, &inv_id).await,
            "accept again",
        );
        let org = app.org_json(&owner.token, id).await;
        assert_eq!(owner_ids(&org), sorted(vec![owner.id, invitee.id]));
        // The new owner now manages the organization.
        assert_eq!(
            app.invitations(&invitee.token, id).await,
            json!([inv2.json])
        );
        // And is now ALREADY_OWNER.
        expect_error(
            &app.invite(&owner.token, id, &invitee.email).await,
            409,
            "ALREADY_OWNER",
            "inviting the new owner",
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_invited_user_accepts() {
    for_each_backend(|app| async move {
        let owner = app.user("owner").await;
        let invitee = app.user("invitee").await;
        let other = app.user("other").await;
        let id = id_of(&app.org(&owner.token, "Exclusive").await);
        let inv = app.invite(&owner.token, id, &invitee.email).await;
        expect_status(&inv, 201, "invite");
        let inv_id = inv.json["id"].as_str().unwrap().to_string();
        let api = app.organization_token(id).await;
        let service = app.service_token("svc").await;

        for (what, auth) in [
            ("another user", Auth::Bearer(&other.token)),
            ("the organization's API token", Auth::ApiToken(&api)),
            ("a service", Auth::Bearer(&service)),
        ] {
            expect_error(
                &app.accept(auth, id, &inv_id).await,
                403,
                "PERMISSION_DENIED",
                what,
            );
        }
        for (what, auth) in [
            ("no token", Auth::None),
            ("unknown token", Auth::Bearer("nope")),
        ] {
            expect_error(
                &app.accept(auth, id, &inv_id).await,
                401,
                "UNAUTHENTICATED",
                what,
            );
        }
        // The right invitation id under another organization is not it.
        let elsewhere = id_of(&app.org(&owner.token, "Elsewhere").await);
        let r = app
            .accept(Auth::Bearer(&invitee.token), elsewhere, &inv_id)
            .await;
        assert!(
            matches!(r.status.as_u16(), 403 | 404),
            "accepting under another organization: {} {}",
            r.status,
            r.text
        );

        // Nonexistent invitation: 403 for who cannot manage the org, 404 for an owner.
        let ghost = uuid::Uuid::new_v4().to_string();
        expect_error(
            &app.accept(Auth::Bearer(&other.token), id, &ghost).await,
            403,
            "PERMISSION_DENIED",
            "nonexistent invitation, outsider",
        );
        expect_error(
            &app.accept(Auth::Bearer(&invitee.token), id, &ghost).await,
            403,
            "PERMISSION_DENIED",
            "nonexistent invitation, invitee who cannot manage the org",
        );
        expect_error(
            &app.accept(Auth::Bearer(&owner.token), id, &ghost).await,
            404,
            "NOT_FOUND",
            "nonexistent invitation, owner",
        );
        let r = app
            .accept(Auth::Bearer(&owner.token), id, "not-a-uuid")
            .await;
        match r.status.as_u16() {
            404 => r.assert_error(404, "NOT_FOUND"),
            400 => r.assert_error(400, "INVALID_ARGUMENT"),
            s => panic!(
                "malformed invitation id: expected 404 or 400, got {s} {}",
                r.text
            ),
        }

        let org = app.org_json(&owner.token, id).await;
        assert_eq!(
            owner_ids(&org),
            vec![owner.id],
            "refused accepts made nobody an owner"
        );
        assert_eq!(app.invitations(&owner.token, id).await, json!([inv.json]));
        app.get_ok(&org_path(elsewhere, ""), &owner.token).await;
        assert_eq!(
            owner_ids(&app.org_json(&owner.token, elsewhere).await),
            vec![owner.id]
        );

        // The invited user still can.
        assert_empty_200(
            &app.accept(Auth::Bearer(&invitee.token), id, &inv_id).await,
            "accept",
        );
        assert_eq!(
            owner_ids(&app.org_json(&owner.token, id).await),
            sorted(vec![owner.id, invitee.id])
        );
        // With the Personal-Access-Token header form too (idempotent).
        assert_empty_200(
            &app.accept(Auth::PersonalAccessToken(&invitee.token), id, &inv_id)
                .await,
            "accept again with Personal-Access-Token",
        );

        // An owner cannot accept somebody else's invitation either.
        let third = app.user("third").await;
        let inv3 = app.invite(&owner.token, id, &third.email).await;
        expect_status(&inv3, 201, "invite third");
        let inv3_id = inv3.json["id"].as_str().unwrap().to_string();
        expect_error(
            &app.accept(Auth::Bearer(&owner.token), id, &inv3_id).await,
            403,
            "PERMISSION_DENIED",
            "an owner accepting another user's invitation",
        );
        assert!(!owner_ids(&app.org_json(&owner.token, id).await).contains(&third.id));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_an_owner_invitation() {
    for_each_backend(|app| async move {
        let owner = app.user("owner").await;
        let invitee = app.user("invitee").await;
        let keeper = app.user("keeper").await;
        let id = id_of(&app.org(&owner.token, "Withdrawing").await);
        let inv = app.invite(&owner.token, id, &invitee.email).await;
        expect_status(&inv, 201, "invite");
        let inv_id = inv.json["id"].as_str().unwrap().to_string();
        let kept = app.invite(&owner.token, id, &keeper.email).await;
        expect_status(&kept, 201, "invite keeper");

        let path = org_path(id, &format!("/owner/invitations/{}", invitee.id));
        assert_empty_200(
            &app.rest(Method::DELETE, &path, Auth::Bearer(&owner.token), None)
                .await,
            "remove invitation",
        );
        assert_eq!(app.invitations(&owner.token, id).await, json!([kept.json]));
        expect_error(
            &app.rest(Method::DELETE, &path, Auth::Bearer(&owner.token), None)
                .await,
            404,
            "NOT_FOUND",
            "removing it again",
        );
        expect_error(
            &app.rest(
                Method::DELETE,
                &org_path(id, &format!("/owner/invitations/{}", owner.id)),
                Auth::Bearer(&owner.token),
                None,
            )
            .await,
            404,
            "NOT_FOUND",
            "a user without an open invitation",
        );
        expect_error(
            &app.rest(
                Method::DELETE,
                &org_path(id, "/owner/invitations/987654"),
                Auth::Bearer(&owner.token),
                None,
            )
            .await,
            404,
            "NOT_FOUND",
            "an unknown user",
        );
        expect_error(
            &app.rest(
                Method::DELETE,
                &org_path(id, "/owner/invitations/abc"),
                Auth::Bearer(&owner.token),
                None,
            )
            .await,
            400,
            "INVALID_ARGUMENT",
            "non-numeric user id",
        );

        // The withdrawn invitation cannot be accepted any more.
        let r = app.accept(Auth::Bearer(&invitee.token), id, &inv_id).await;
        assert!(
            matches!(r.status.as_u16(), 403 | 404),
            "accepting a withdrawn invitation: {} {}",
            r.status,
            r.text
        );
        assert_eq!(
            owner_ids(&app.org_json(&owner.token, id).await),
            vec![owner.id]
        );

        // An accepted invitation is not open either: removing it is 404.
        let kept_id = kept.json["id"].as_str().unwrap().to_string();
        assert_empty_200(
            &app.accept(Auth::Bearer(&keeper.token), id, &kept_id).await,
            "accept",
        );
        expect_error(
            &app.rest(
                Method::DELETE,
                &org_path(id, &format!("/owner/invitations/{}", keeper.id)),
                Auth::Bearer(&owner.token),
                None,
            )
            .await,
            404,
            "NOT_FOUND",
            "an accepted invitation",
        );
        assert_eq!(
            owner_ids(&app.org_json(&owner.token, id).await),
            sorted(vec![owner.id, keeper.id])
        );

        // Invited again after the withdrawal: a fresh invitation works.
        let again = app.invite(&owner.token, id, &invitee.email).await;
        expect_status(&again, 201, "invite again");
        assert_ne!(again.json["id"], inv.json["id"], "a new invitation id");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_accepts_make_exactly_one_owner_entry() {
    for_each_backend(|app| async move {
        let owner = app.user("owner").await;
        let invitee = app.user("invitee").await;
        let id = id_of(&app.org(&owner.token, "Racing").await);
        let inv = app.invite(&owner.token, id, &invitee.email).await;
        expect_status(&inv, 201, "invite");
        let inv_id = inv.json["id"].as_str().unwrap().to_string();

        let mut set = tokio::task::JoinSet::new();
        for _ in 0..10 {
            let app = app.clone();
            let token = invitee.token.clone();
            let inv_id = inv_id.clone();
            set.spawn(async move { app.accept(Auth::Bearer(&token), id, &inv_id).await });
        }
        let mut n = 0;
        while let Some(r) = set.join_next().await {
            let r = r.expect("accept task");
            assert_empty_200(&r, "concurrent accept");
            n += 1;
        }
        assert_eq!(n, 10);
        let org = app.org_json(&owner.token, id).await;
        assert_eq!(
            owner_ids(&org),
            sorted(vec![owner.id, invitee.id]),
            "the invitee is an owner exactly once"
        );
        assert_eq!(app.invitations(&owner.token, id).await, json!([]));
        // Also exactly one membership: the member list of the org over the membership RPC
        // is not part of this slice; ownerIDs above is the contract.
    })
    .await;
}
