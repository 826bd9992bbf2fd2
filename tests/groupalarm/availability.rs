//! Availability: the counts of an organization and its subtree, the reports the
//! AvailabilityService refuses, and the fourteen-day history.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn availability_counts_the_organization_and_its_subtree() {
    for_each_backend(|app| async move {
        let owner = app.user("owner").await;
        let r_org = app.org(&owner.token, "Root").await;
        let r = id_of(&r_org);
        let c_org = app.child_org(&owner.token, r, "Child").await;
        let c = id_of(&c_org);
        let g = id_of(&app.child_org(&owner.token, c, "Grandchild").await);
        let service = app.service_token("alarming").await;

        // Nobody has a status yet.
        for id in [r, c, g] {
            let body = app
                .get_ok(&org_path(id, "/availability"), &owner.token)
                .await;
            assert_eq!(
                body,
                json!({"countInRoot": counts(0, 0, 0), "countTotal": counts(0, 0, 0)}),
                "no statuses yet in {id}"
            );
        }

        let a1 = app.user("a1").await;
        let a2 = app.user("a2").await;
        let a3 = app.user("a3").await;
        let c1 = app.user("c1").await;
        let c2 = app.user("c2").await;
        let g1 = app.user("g1").await;
        for (org, u) in [(r, &a1), (r, &a2), (r, &a3), (c, &c1), (c, &c2), (g, &g1)] {
            app.member_add(org, &u.email, "member").await;
        }
        let rs = r.to_string();
        let cu = c_org["uuid"].as_str().unwrap().to_string();
        let gs = g.to_string();
        use AvailabilityStatus::*;
        // Users by email, int64 id and UUID; organizations by id and UUID.
        ok(
            set_status(&app, &service, &rs, &a1.email, Available).await,
            "a1",
        );
        ok(
            set_status(&app, &service, &rs, &a2.id.to_string(), InEvent).await,
            "a2",
        );
        ok(
            set_status(&app, &service, &rs, &a3.uuid, NotAvailable).await,
            "a3",
        );
        // A second report replaces the first.
        ok(
            set_status(&app, &service, &rs, &a3.email, Available).await,
            "a3 again",
        );
        ok(
            set_status(&app, &service, &cu, &c1.email, NotAvailable).await,
            "c1",
        );
        ok(
            set_status(&app, &service, &cu, &c2.uuid, InEvent).await,
            "c2",
        );
        ok(
            set_status(&app, &service, &gs, &g1.email, Available).await,
            "g1",
        );

        let expected = [
            (r, counts(2, 1, 0), counts(3, 2, 1)),
            (c, counts(0, 1, 1), counts(1, 1, 1)),
            (g, counts(1, 0, 0), counts(1, 0, 0)),
        ];
        for (id, in_root, total) in &expected {
            let body = app
                .get_ok(&org_path(id, "/availability"), &owner.token)
                .await;
            assert_eq!(
                body,
                json!({"countInRoot": in_root, "countTotal": total}),
                "availability of {id}"
            );
            let org = app.org_json(&owner.token, *id).await;
            assert_eq!(&org["availableUsers"], in_root, "availableUsers of {id}");
            assert_eq!(
                &org["availableUsersTotal"], total,
                "availableUsersTotal of {id}"
            );
        }

        // Readers: a member (of the root), the API token, the service; outsiders are refused.
        let body = app.get_ok(&org_path(r, "/availability"), &a1.token).await;
        assert_eq!(body["countTotal"], counts(3, 2, 1));
        let body = app.get_ok(&org_path(c, "/availability"), &service).await;
        assert_eq!(body["countInRoot"], counts(0, 1, 1));
        let api = app.organization_token(c).await;
        let rr = app
            .get(&org_path(g, "/availability"), Auth::ApiToken(&api))
            .await;
        expect_status(&rr, 200, "API token of the parent");
        assert_eq!(rr.json["countInRoot"], counts(1, 0, 0));
        expect_error(
            &app.get(&org_path(MISSING, "/availability"), Auth::Bearer(&service))
                .await,
            404,
            "NOT_FOUND",
            "service, missing organization",
        );
        let outsider = app.user("outsider").await;
        for id in [r, MISSING] {
            expect_error(
                &app.get(
                    &org_path(id, "/availability"),
                    Auth::Bearer(&outsider.token),
                )
                .await,
                403,
                "PERMISSION_DENIED",
                "outsider",
            );
        }
        // g1 (member of the grandchild only) cannot read the root.
        expect_error(
            &app.get(&org_path(r, "/availability"), Auth::Bearer(&g1.token))
                .await,
            403,
            "PERMISSION_DENIED",
            "member of a descendant",
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn availability_service_rejects_bad_reports_and_changes_nothing() {
    for_each_backend(|app| async move {
        let owner = app.user("owner").await;
        let org = id_of(&app.org(&owner.token, "Reported").await);
        let other = id_of(&app.org(&owner.token, "Other").await);
        let member = app.user("member").await;
        app.member_add(org, &member.email, "member").await;
        let stranger = app.user("stranger").await;
        let service = app.service_token("alarming").await;
        let api = app.organization_token(org).await;
        let os = org.to_string();
        use AvailabilityStatus::*;

        ok(
            set_status(&app, &service, &os, &member.email, InEvent).await,
            "baseline",
        );
        let before = app
            .get_ok(&org_path(org, "/availability"), &owner.token)
            .await;
        assert_eq!(before["countInRoot"], counts(0, 1, 0));

        // User tokens (even the owner's) and API tokens may not report.
        assert_code(
            set_status(&app, &owner.token, &os, &member.email, Available).await,
            Code::PermissionDenied,
        );
        assert_code(
            set_status(&app, &member.token, &os, &member.email, Available).await,
            Code::PermissionDenied,
        );
        assert_code(
            set_status(&app, &api, &os, &member.email, Available).await,
            Code::PermissionDenied,
        );
        // No or an unknown token.
        let mut client = availability_client(&app).await;
        assert_code(
            client
                .set_user_availability(SetUserAvailabilityRequest {
                    organization: os.clone(),
                    user: member.email.clone(),
                    status: Available as i32,
                })
                .await,
            Code::Unauthenticated,
        );
        assert_code(
            set_status(&app, "not-a-token", &os, &member.email, Available).await,
            Code::Unauthenticated,
        );
        // Unspecified status.
        assert_code(
            set_status(&app, &service, &os, &member.email, Unspecified).await,
            Code::InvalidArgument,
        );
        // Unknown users.
        assert_code(
            set_status(&app, &service, &os, "nobody@example.com", Available).await,
            Code::NotFound,
        );
        assert_code(
            set_status(&app, &service, &os, "987654321", Available).await,
            Code::NotFound,
        );
        assert_code(
            set_status(
                &app,
                &service,
                &os,
                &uuid::Uuid::new_v4().to_string(),
                Available,
            )
            .await,
            Code::NotFound,
        );
        // A user who is not a member of that organization.
        assert_code(
            set_status(&app, &service, &os, &stranger.email, Available).await,
            Code::FailedPrecondition,
        );
        assert_code(
            set_status(&app, &service, &other.to_string(), &member.email, Available).await,
            Code::FailedPrecondition,
        );

        let after = app
            .get_ok(&org_path(org, "/availability"), &owner.token)
            .await;
        assert_eq!(after, before, "rejected reports changed nothing");
        let after = app
            .get_ok(&org_path(other, "/availability"), &owner.token)
            .await;
        assert_eq!(after["countTotal"], counts(0, 0, 0));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn availability_history_covers_fourteen_days_ending_today() {
    for_each_backend(|app| async move {
        let owner = app.user("owner").await;
        let org = id_of(&app.org(&owner.token, "Historic").await);
        let service = app.service_token("alarming").await;
        let users = [
            app.user("x1").await,
            app.user("x2").await,
            app.user("x3").await,
            app.user("x4").await,
        ];
        for u in &users {
            app.member_add(org, &u.email, "member").await;
        }
        let os = org.to_string();
        use AvailabilityStatus::*;
        ok(
            set_status(&app, &service, &os, &users[0].email, Available).await,
            "x1",
        );
        ok(
            set_status(&app, &service, &os, &users[1].email, InEvent).await,
            "x2",
        );
        ok(
            set_status(&app, &service, &os, &users[2].email, NotAvailable).await,
            "x3",
        );
        ok(
            set_status(&app, &service, &os, &users[2].email, InEvent).await,
            "x3 again",
        );
        ok(
            set_status(&app, &service, &os, &users[3].email, Available).await,
            "x4",
        );

        let today_before = chrono::Utc::now().date_naive();
        let body = app
            .get_ok(&org_path(org, "/availability-history"), &owner.token)
            .await;
        let today_after = chrono::Utc::now().date_naive();
        let obj = body.as_object().expect("object");
        for key in ["start_date", "end_date", "entries"] {
            assert!(obj.contains_key(key), "history lacks {key}: {body}");
        }
        let entries = body["entries"].as_array().expect("entries");
        assert_eq!(entries.len(), 14, "14 entries by default: {body}");
        let dates: Vec<_> = entries.iter().map(|e| utc(&e["date"])).collect();
        for d in &dates {
            assert_eq!(
                d.time(),
                chrono::NaiveTime::MIN,
                "entry dates are midnight UTC: {d}"
            );
        }
        for w in dates.windows(2) {
            assert_eq!(
                w[1] - w[0],
                chrono::Duration::days(1),
                "one entry per day, oldest first"
            );
        }
        let last = dates[13].date_naive();
        assert!(
            last == today_before || last == today_after,
            "the last entry is today: {last}"
        );
        assert_eq!(
            utc(&body["start_date"]).date_naive(),
            dates[0].date_naive(),
            "start_date is the first day"
        );
        assert_eq!(
            utc(&body["end_date"]).date_naive(),
            last,
            "end_date is the last day"
        );
        for e in entries {
            for key in [
                "date",
                "countAvailable",
                "countInEvent",
                "countNotAvailable",
            ] {
                assert!(e.get(key).is_some(), "entry lacks {key}: {e}");
            }
        }
        // Today counts the statuses as of now; the earlier days had none.
        let today = &entries[13];
        assert_eq!(
            json!({
                "countAvailable": today["countAvailable"],
                "countInEvent": today["countInEvent"],
                "countNotAvailable": today["countNotAvailable"],
            }),
            counts(2, 2, 0),
            "today's entry: {today}"
        );
        for e in &entries[..13] {
            assert_eq!(
                (
                    &e["countAvailable"],
                    &e["countInEvent"],
                    &e["countNotAvailable"]
                ),
                (&json!(0), &json!(0), &json!(0)),
                "no statuses before today: {e}"
            );
        }

        // Pages are windows of the same list; the window's bounds do not move.
        for (q, len) in [
            ("?limit=5", 5),
            ("?limit=14&offset=0", 14),
            ("?limit=3&offset=4", 3),
            ("?offset=13", 1),
            ("?limit=1", 1),
        ] {
            let page = app
                .get_ok(
                    &org_path(org, &format!("/availability-history{q}")),
                    &owner.token,
                )
                .await;
            let got = page["entries"].as_array().expect("entries");
            assert_eq!(got.len(), len, "{q}: {page}");
            assert_eq!(page["start_date"], body["start_date"], "{q}");
            assert_eq!(page["end_date"], body["end_date"], "{q}");
            let pos = entries
                .iter()
                .position(|e| e == &got[0])
                .unwrap_or_else(|| panic!("{q}: entries come from the window: {page}"));
            assert_eq!(
                &entries[pos..pos + len],
                got.as_slice(),
                "{q}: a contiguous slice"
            );
        }
        let page = app
            .get_ok(
                &org_path(org, "/availability-history?limit=14&offset=0"),
                &owner.token,
            )
            .await;
        assert_eq!(page, body, "limit=14&offset=0 is the default");

        for q in [
            "?limit=0",
            "?limit=15",
            "?limit=-1",
            "?offset=-1",
            "?limit=x",
        ] {
            expect_error(
                &app.get(
                    &org_path(org, &format!("/availability-history{q}")),
                    Auth::Bearer(&owner.token),
                )
                .await,
                400,
                "INVALID_ARGUMENT",
                q,
            );
        }

        // Readers and outsiders.
        let page = app
            .get_ok(&org_path(org, "/availability-history"), &users[0].token)
            .await;
        assert_eq!(
            page["entries"].as_array().unwrap().len(),
            14,
            "a member reads it"
        );
        app.get_ok(&org_path(org, "/availability-history"), &service)
            .await;
        expect_error(
            &app.get(
                &org_path(MISSING, "/availability-history"),
                Auth::Bearer(&service),
            )
            .await,
            404,
            "NOT_FOUND",
            "service, missing organization",
        );
        let outsider = app.user("outsider").await;
        for id in [org, MISSING] {
            expect_error(
                &app.get(
                    &org_path(id, "/availability-history"),
                    Auth::Bearer(&outsider.token),
                )
                .await,
                403,
                "PERMISSION_DENIED",
                "outsider",
            );
        }
    })
    .await;
}
