//! The same operations over native gRPC: the happy path of each RPC, and a fetched
//! organization equal to its listed self.

use super::*;

/// One of the codes the REST surface answers with 409.
#[track_caller]
fn assert_conflict<T: std::fmt::Debug>(r: Result<tonic::Response<T>, tonic::Status>, what: &str) {
    match r {
        Ok(r) => panic!("{what}: expected a conflict, got OK: {:?}", r.get_ref()),
        Err(s) => assert!(
            matches!(
                s.code(),
                Code::FailedPrecondition | Code::AlreadyExists | Code::Aborted
            ),
            "{what}: expected FAILED_PRECONDITION, ALREADY_EXISTS or ABORTED, got {:?}: {}",
            s.code(),
            s.message()
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_new_rpc_over_grpc() {
    for_each_backend(|app| async move {
        let owner = app.user("owner").await;
        let invitee = app.user("invitee").await;
        let extra = app.user("extra").await;
        let root = id_of(&app.org(&owner.token, "gRPC root").await);
        let child = id_of(&app.child_org(&owner.token, root, "gRPC child").await);
        let service = app.service_token("alarming").await;
        let t = owner.token.as_str();
        let mut client = app.organizations().await;

        // Children.
        let resp = ok(
            client
                .get_child_organizations(bearer(
                    GetChildOrganizationsRequest {
                        organization_id: root,
                        limit: Some(10),
                        offset: Some(0),
                    },
                    t,
                ))
                .await,
            "GetChildOrganizations",
        );
        assert_eq!(
            resp.childs.iter().map(|o| o.id).collect::<Vec<_>>(),
            vec![child]
        );
        assert_eq!(
            resp.path.iter().map(|o| o.id).collect::<Vec<_>>(),
            vec![root]
        );
        assert_eq!(resp.total_childs, 1);

        // Availability.
        app.member_add(child, &extra.email, "member").await;
        ok(
            set_status(
                &app,
                &service,
                &child.to_string(),
                &extra.email,
                AvailabilityStatus::InEvent,
            )
            .await,
            "SetUserAvailability",
        );
        let resp = ok(
            client
                .get_available_users(bearer(
                    GetAvailableUsersRequest {
                        organization_id: root,
                    },
                    t,
                ))
                .await,
            "GetAvailableUsers",
        );
        assert_eq!(
            resp.count_in_root.unwrap_or_default(),
            AvailableUsersCount::default()
        );
        assert_eq!(
            resp.count_total.expect("count_total"),
            AvailableUsersCount {
                count_available: 0,
                count_in_event: 1,
                count_not_available: 0
            }
        );
        let resp = ok(
            client
                .get_availability_history(bearer(
                    GetAvailabilityHistoryRequest {
                        organization_id: child,
                        limit: None,
                        offset: None,
                    },
                    t,
                ))
                .await,
            "GetAvailabilityHistory",
        );
        assert_eq!(resp.entries.len(), 14);
        assert_eq!(resp.entries[13].count_in_event, 1);
        assert!(resp.start_date.is_some() && resp.end_date.is_some());

        // Avatar.
        ok(
            client
                .set_avatar(bearer(
                    SetAvatarRequest {
                        organization_id: root,
                        avatar: png(),
                    },
                    t,
                ))
                .await,
            "SetAvatar",
        );
        let resp = ok(
            client
                .get_avatar(bearer(
                    GetAvatarRequest {
                        organization_id: root,
                        v: 0,
                    },
                    t,
                ))
                .await,
            "GetAvatar",
        );
        let image = resp.image.expect("image");
        assert_eq!(image.data, png());
        assert_eq!(image.content_type, "image/png");
        let org = ok(
            client
                .get_organization(bearer(
                    GetOrganizationRequest {
                        organization_id: root,
                    },
                    t,
                ))
                .await,
            "GetOrganization",
        )
        .organization
        .unwrap();
        assert!(
            org.avatar_url
                .as_deref()
                .is_some_and(|u| u.starts_with(&format!("/api/v1/avatars/{root}-"))),
            "{:?}",
            org.avatar_url
        );

        // Location.
        let loc = OrganizationLocation {
            address: "Marienplatz".into(),
            latitude: 48.137,
            longitude: 11.575,
        };
        let resp = ok(
            client
                .upsert_organization_location(bearer(
                    UpsertOrganizationLocationRequest {
                        organization_id: root,
                        location: Some(loc.clone()),
                    },
                    t,
                ))
                .await,
            "UpsertOrganizationLocation",
        );
        assert_eq!(resp.location, Some(loc.clone()));
        ok(
            client
                .delete_organization_location(bearer(
                    DeleteOrganizationLocationRequest {
                        organization_id: root,
                    },
                    t,
                ))
                .await,
            "DeleteOrganizationLocation",
        );
        let org = ok(
            client
                .get_organization(bearer(
                    GetOrganizationRequest {
                        organization_id: root,
                    },
                    t,
                ))
                .await,
            "GetOrganization",
        )
        .organization
        .unwrap();
        assert_eq!(org.location, None);

        // Owner invitations.
        let inv = ok(
            client
                .invite_owner(bearer(
                    InviteOwnerRequest {
                        organization_id: root,
                        email: invitee.email.clone(),
                    },
                    t,
                ))
                .await,
            "InviteOwner",
        )
        .invitation
        .expect("invitation");
        assert_eq!(inv.user_id, invitee.id);
        assert_eq!(inv.organization_id, root);
        assert_eq!(inv.email, invitee.email);
        assert!(uuid::Uuid::parse_str(&inv.id).is_ok());
        let listed = ok(
            client
                .list_owner_invitations(bearer(
                    ListOwnerInvitationsRequest {
                        organization_id: root,
                        ..Default::default()
                    },
                    t,
                ))
                .await,
            "ListOwnerInvitations",
        );
        assert_eq!(listed.invitations, vec![inv.clone()]);
        ok(
            client
                .accept_owner_invitation(bearer(
                    AcceptOwnerInvitationRequest {
                        organization_id: root,
                        invitation_id: inv.id.clone(),
                    },
                    &invitee.token,
                ))
                .await,
            "AcceptOwnerInvitation",
        );
        let inv2 = ok(
            client
                .invite_owner(bearer(
                    InviteOwnerRequest {
                        organization_id: root,
                        email: extra.email.clone(),
                    },
                    t,
                ))
                .await,
            "InviteOwner 2",
        )
        .invitation
        .unwrap();
        assert_eq!(inv2.user_id, extra.id);
        ok(
            client
                .remove_owner_invitation(bearer(
                    RemoveOwnerInvitationRequest {
                        organization_id: root,
                        user_id: extra.id,
                    },
                    t,
                ))
                .await,
            "RemoveOwnerInvitation",
        );
        let listed = ok(
            client
                .list_owner_invitations(bearer(
                    ListOwnerInvitationsRequest {
                        organization_id: root,
                        ..Default::default()
                    },
                    t,
                ))
                .await,
            "ListOwnerInvitations",
        );
        assert!(listed.invitations.is_empty());

        // Owners.
        ok(
            client
                .add_owner(bearer(
                    AddOwnerRequest {
                        organization_id: child,
                        user_id: extra.id,
                    },
                    t,
                ))
                .await,
            "AddOwner",
        );
        let top = ok(
            client
                .get_owner_in_parent_organization(bearer(
                    GetOwnerInParentOrganizationRequest {
                        organization_id: child,
                        user_id: extra.id,
                    },
                    t,
                ))
                .await,
            "GetOwnerInParentOrganization",
        )
        .organization
        .unwrap();
        assert_eq!(top.id, child);
        let top = ok(
            client
                .get_owner_in_parent_organization(bearer(
                    GetOwnerInParentOrganizationRequest {
                        organization_id: child,
                        user_id: invitee.id,
                    },
                    t,
                ))
                .await,
            "GetOwnerInParentOrganization (invitee)",
        )
        .organization
        .unwrap();
        assert_eq!(
            top.id, root,
            "the accepted invitation made the invitee an owner of the root"
        );
        ok(
            client
                .remove_owner(bearer(
                    RemoveOwnerRequest {
                        organization_id: child,
                        user_id: extra.id,
                    },
                    t,
                ))
                .await,
            "RemoveOwner",
        );
        assert_conflict(
            client
                .remove_owner(bearer(
                    RemoveOwnerRequest {
                        organization_id: child,
                        user_id: owner.id,
                    },
                    t,
                ))
                .await,
            "RemoveOwner of the last owner",
        );
        let org = ok(
            client
                .get_organization(bearer(
                    GetOrganizationRequest {
                        organization_id: child,
                    },
                    t,
                ))
                .await,
            "GetOrganization child",
        )
        .organization
        .unwrap();
        assert_eq!(org.owner_ids, vec![owner.id]);

        // Quick actions.
        let set = ok(
            client
                .set_organization_quick_actions(bearer(
                    SetOrganizationQuickActionsRequest {
                        organization_id: root,
                        quick_actions: vec![QuickAction {
                            name: "Alarm".into(),
                            color: "red".into(),
                            icon: "bell".into(),
                            one_click: true,
                            resource: "alarm_template".into(),
                            resource_id: 3,
                            ..Default::default()
                        }],
                    },
                    t,
                ))
                .await,
            "SetOrganizationQuickActions",
        )
        .quick_actions;
        assert_eq!(set.len(), 1);
        assert!(set[0].id > 0);
        assert_eq!(set[0].organization_id, root);
        assert_eq!(set[0].name, "Alarm");
        let got = ok(
            client
                .get_organization_quick_actions(bearer(
                    GetOrganizationQuickActionsRequest {
                        organization_id: root,
                    },
                    t,
                ))
                .await,
            "GetOrganizationQuickActions",
        )
        .quick_actions;
        assert_eq!(got, set);

        // Paginated.
        let resp = ok(
            client
                .get_paginated_organizations(bearer(
                    GetPaginatedOrganizationsRequest {
                        limit: Some(10),
                        offset: Some(0),
                        all: false,
                    },
                    t,
                ))
                .await,
            "GetPaginatedOrganizations",
        );
        assert_eq!(
            resp.organizations.iter().map(|o| o.id).collect::<Vec<_>>(),
            vec![root]
        );
        assert_eq!(resp.total_organizations, 1);

        // Trial.
        let status = ok(
            client
                .get_trial_status(bearer(GetTrialStatusRequest {}, t))
                .await,
            "GetTrialStatus",
        )
        .trial
        .expect("trial");
        assert!(!status.active);
        assert_eq!(status.start, None);
        assert_eq!(status.user_id, owner.id);
        let started = ok(
            client.start_trial(bearer(StartTrialRequest {}, t)).await,
            "StartTrial",
        )
        .trial
        .expect("trial");
        assert!(started.active);
        assert!(started.start.is_some());
        assert_eq!(started.user_id, owner.id);
        assert_conflict(
            client.start_trial(bearer(StartTrialRequest {}, t)).await,
            "StartTrial again",
        );
    })
    .await;
}

/// GetOrganization reads its row its own way (one statement; on an SQLite file, rusqlite on
/// the calling thread): every field must come back as the lists, read through SeaORM,
/// show it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fetched_organization_equals_its_listed_self() {
    for_each_backend(|app| async move {
        let owner = app.user("owner").await;
        let member = app.user("member").await;
        let service = app.service_token("alarming").await;
        let t = owner.token.as_str();
        let root = id_of(
            &app.create_org(
                t,
                json!({
                    "name": "Every field", "description": "ünïcödé ✓", "timezone": "Asia/Tokyo",
                    "language": "en-GB", "enforcesTwoFactorAuth": true,
                    "dataRetentionPeriod": 7, "tags": ["a", "b,c", "\"q\""]
                }),
            )
            .await,
        );
        let child = id_of(&app.child_org(t, root, "Child").await);
        app.member_add(root, &member.email, "member").await;
        ok(
            set_status(
                &app,
                &service,
                &root.to_string(),
                &member.email,
                AvailabilityStatus::InEvent,
            )
            .await,
            "SetUserAvailability",
        );
        let mut client = app.organizations().await;
        ok(
            client
                .set_avatar(bearer(
                    SetAvatarRequest {
                        organization_id: root,
                        avatar: png(),
                    },
                    t,
                ))
                .await,
            "SetAvatar",
        );
        ok(
            client
                .upsert_organization_location(bearer(
                    UpsertOrganizationLocationRequest {
                        organization_id: root,
                        location: Some(OrganizationLocation {
                            address: "Marienplatz 1".into(),
                            latitude: 48.137_154,
                            longitude: -11.575_382,
                        }),
                    },
                    t,
                ))
                .await,
            "UpsertOrganizationLocation",
        );

        let listed = ok(
            client
                .get_organizations(bearer(GetOrganizationsRequest {}, t))
                .await,
            "GetOrganizations",
        )
        .organizations;
        assert_eq!(listed.len(), 2);
        for org in listed {
            let fetched = ok(
                client
                    .get_organization(bearer(
                        GetOrganizationRequest {
                            organization_id: org.id,
                        },
                        t,
                    ))
                    .await,
                "GetOrganization",
            )
            .organization
            .expect("organization");
            assert_eq!(fetched, org, "organization {}", org.id);
            if org.id == root {
                assert!(fetched.has_children);
                assert_eq!(fetched.owner_ids, vec![owner.id]);
                assert_eq!(fetched.tags, vec!["a", "b,c", "\"q\""]);
                assert!(fetched.avatar_url.is_some());
                assert_eq!(fetched.location.as_ref().unwrap().longitude, -11.575_382);
                assert_eq!(fetched.available_users.unwrap().count_in_event, 1);
                assert!(fetched.trial_end_date.is_some());
            } else {
                assert_eq!(org.id, child);
                assert_eq!(fetched.parent_id, Some(root));
                assert!(!fetched.has_children);
            }
        }
    })
    .await;
}
