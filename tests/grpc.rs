//! Native gRPC (tonic clients over h2c): organization CRUD, status codes, metadata token
//! forms, the membership rules and billing.

mod common;

use common::*;
use orgd::proto::v1::*;
use reqwest::Method;
use serde_json::json;
use tonic::Code;

fn org_input(name: &str) -> Organization {
    Organization {
        name: name.to_string(),
        timezone: "Europe/Berlin".into(),
        language: "de".into(),
        ..Default::default()
    }
}

async fn grpc_create(app: &App, token: &str, org: Organization) -> Organization {
    let mut client = app.organizations().await;
    client
        .create_organization(bearer(
            CreateOrganizationRequest {
                organization: Some(org),
            },
            token,
        ))
        .await
        .expect("CreateOrganization")
        .into_inner()
        .organization
        .expect("response carries the organization")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn organization_crud_over_grpc() {
    for_each_backend(|app| async move {
        let owner = app.user("owner").await;
        let mut client = app.organizations().await;

        let created = grpc_create(
            &app,
            &owner.token,
            Organization {
                description: "over gRPC".into(),
                data_retention_period: 3,
                tags: vec!["x".into()],
                ..org_input("Grpc Org")
            },
        )
        .await;
        assert!(created.id > 0);
        assert!(uuid::Uuid::parse_str(&created.uuid).is_ok());
        assert_eq!(created.name, "Grpc Org");
        assert_eq!(created.description, "over gRPC");
        assert_eq!(created.timezone, "Europe/Berlin");
        assert_eq!(created.language, "de");
        assert_eq!(created.data_retention_period, 3);
        assert_eq!(created.tags, vec!["x".to_string()]);
        assert_eq!(created.owner_ids, vec![owner.id]);
        assert_eq!(created.parent_id, None);
        assert!(!created.has_children);
        assert_eq!(created.state(), OrganizationState::Trial);
        let creation = created.creation_date.expect("creation_date");
        let trial_end = created.trial_end_date.expect("trial_end_date");
        assert!(
            (trial_end.seconds - creation.seconds - 14 * 24 * 3600).abs() <= 1,
            "trial ends 14 days after creation"
        );

        let got = client
            .get_organization(bearer(
                GetOrganizationRequest {
                    organization_id: created.id,
                },
                &owner.token,
            ))
            .await
            .expect("GetOrganization")
            .into_inner()
            .organization
            .expect("organization");
        assert_eq!(got, created);

        let updated = client
            .update_organization(bearer(
                UpdateOrganizationRequest {
                    organization: Some(Organization {
                        id: created.id,
                        name: "Grpc Renamed".into(),
                        timezone: "Asia/Tokyo".into(),
                        language: "ja".into(),
                        // read-only, ignored:
                        owner_ids: vec![12345],
                        state: OrganizationState::Active as i32,
                        has_children: true,
                        ..Default::default()
                    }),
                },
                &owner.token,
            ))
            .await
            .expect("UpdateOrganization")
            .into_inner()
            .organization
            .expect("organization");
        assert_eq!(updated.id, created.id);
        assert_eq!(updated.uuid, created.uuid);
        assert_eq!(updated.name, "Grpc Renamed");
        assert_eq!(updated.timezone, "Asia/Tokyo");
        assert_eq!(updated.language, "ja");
        assert_eq!(updated.owner_ids, vec![owner.id]);
        assert_eq!(updated.state(), OrganizationState::Trial);
        assert!(!updated.has_children);
        assert_eq!(updated.creation_date, created.creation_date);

        let child = grpc_create(
            &app,
            &owner.token,
            Organization {
                parent_id: Some(created.id),
                ..org_input("Grpc Child")
            },
        )
        .await;
        assert_eq!(child.parent_id, Some(created.id));

        let list = client
            .get_organizations(bearer(GetOrganizationsRequest {}, &owner.token))
            .await
            .expect("GetOrganizations")
            .into_inner()
            .organizations;
        let mut ids: Vec<i64> = list.iter().map(|o| o.id).collect();
        ids.sort();
        assert_eq!(ids, vec![created.id, child.id]);
        let parent_in_list = list.iter().find(|o| o.id == created.id).unwrap();
        assert!(parent_in_list.has_children);

        // Delete with a child: FAILED_PRECONDITION; child first, then parent.
        assert_code(
            client
                .delete_organization(bearer(
                    DeleteOrganizationRequest {
                        organization_id: created.id,
                    },
                    &owner.token,
                ))
                .await,
            Code::FailedPrecondition,
        );
        for id in [child.id, created.id] {
            client
                .delete_organization(bearer(
                    DeleteOrganizationRequest {
                        organization_id: id,
                    },
                    &owner.token,
                ))
                .await
                .expect("DeleteOrganization");
        }
        let service = app.service_token("svc").await;
        assert_code(
            client
                .get_organization(bearer(
                    GetOrganizationRequest {
                        organization_id: created.id,
                    },
                    &service,
                ))
                .await,
            Code::NotFound,
        );
        let list = client
            .get_organizations(bearer(GetOrganizationsRequest {}, &owner.token))
            .await
            .expect("GetOrganizations")
            .into_inner()
            .organizations;
        assert!(list.is_empty());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_and_rest_see_the_same_organization() {
    for_each_backend(|app| async move {
        let owner = app.user("owner").await;
        let created = grpc_create(&app, &owner.token, org_input("Both ways")).await;
        let rest = app.get_org(Auth::Bearer(&owner.token), created.id).await;
        rest.assert_status(200);
        assert_organization_shape(&rest.json);
        assert_eq!(rest.json["id"], json!(created.id));
        assert_eq!(rest.json["uuid"], json!(created.uuid));
        assert_eq!(rest.json["name"], json!(created.name));
        assert_eq!(rest.json["ownerIDs"], json!(created.owner_ids));
        assert_eq!(rest.json["state"], json!("trial"));
        let rest_created = utc(&rest.json["creationDate"]);
        assert_eq!(
            rest_created.timestamp(),
            created.creation_date.unwrap().seconds,
            "the same creation date"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_status_codes() {
    for_each_backend(|app| async move {
        let owner = app.user("owner").await;
        let outsider = app.user("outsider").await;
        let service = app.service_token("svc").await;
        let org = grpc_create(&app, &owner.token, org_input("Codes")).await;
        let mut client = app.organizations().await;
        let get = |id: i64| GetOrganizationRequest {
            organization_id: id,
        };

        // UNAUTHENTICATED: missing and unknown tokens.
        assert_code(
            client
                .get_organization(tonic::Request::new(get(org.id)))
                .await,
            Code::Unauthenticated,
        );
        assert_code(
            client
                .get_organization(bearer(get(org.id), "no-such-token"))
                .await,
            Code::Unauthenticated,
        );
        assert_code(
            client
                .get_organizations(tonic::Request::new(GetOrganizationsRequest {}))
                .await,
            Code::Unauthenticated,
        );
        assert_code(
            client
                .create_organization(tonic::Request::new(CreateOrganizationRequest {
                    organization: Some(org_input("anon")),
                }))
                .await,
            Code::Unauthenticated,
        );

        // PERMISSION_DENIED: an outsider, existing or not.
        assert_code(
            client
                .get_organization(bearer(get(org.id), &outsider.token))
                .await,
            Code::PermissionDenied,
        );
        assert_code(
            client
                .get_organization(bearer(get(999_999), &outsider.token))
                .await,
            Code::PermissionDenied,
        );
        assert_code(
            client
                .update_organization(bearer(
                    UpdateOrganizationRequest {
                        organization: Some(Organization {
                            id: org.id,
                            ..org_input("Hijack")
                        }),
                    },
                    &outsider.token,
                ))
                .await,
            Code::PermissionDenied,
        );
        assert_code(
            client
                .delete_organization(bearer(
                    DeleteOrganizationRequest {
                        organization_id: org.id,
                    },
                    &outsider.token,
                ))
                .await,
            Code::PermissionDenied,
        );
        // Services: read yes, write no.
        client
            .get_organization(bearer(get(org.id), &service))
            .await
            .expect("a service reads any organization");
        assert_code(
            client
                .create_organization(bearer(
                    CreateOrganizationRequest {
                        organization: Some(org_input("By a service")),
                    },
                    &service,
                ))
                .await,
            Code::PermissionDenied,
        );
        assert_code(
            client
                .delete_organization(bearer(
                    DeleteOrganizationRequest {
                        organization_id: org.id,
                    },
                    &service,
                ))
                .await,
            Code::PermissionDenied,
        );

        // NOT_FOUND: a service asking for a missing organization.
        assert_code(
            client
                .get_organization(bearer(get(999_999), &service))
                .await,
            Code::NotFound,
        );

        // INVALID_ARGUMENT.
        for bad in [
            Organization {
                timezone: "Mars/Olympus".into(),
                ..org_input("Bad tz")
            },
            Organization {
                name: String::new(),
                ..org_input("")
            },
            Organization {
                name: "n".repeat(256),
                ..org_input("")
            },
            Organization {
                data_retention_period: -1,
                ..org_input("Negative")
            },
            Organization {
                language: "not a language!".into(),
                ..org_input("Bad language")
            },
        ] {
            assert_code(
                client
                    .create_organization(bearer(
                        CreateOrganizationRequest {
                            organization: Some(bad),
                        },
                        &owner.token,
                    ))
                    .await,
                Code::InvalidArgument,
            );
        }
        assert_code(
            client
                .create_organization(bearer(
                    CreateOrganizationRequest { organization: None },
                    &owner.token,
                ))
                .await,
            Code::InvalidArgument,
        );

        // Nothing of that changed the organization or created another one.
        let list = client
            .get_organizations(bearer(GetOrganizationsRequest {}, &owner.token))
            .await
            .unwrap()
            .into_inner()
            .organizations;
        assert_eq!(list, vec![org]);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_metadata_form_is_accepted() {
    for_each_backend(|app| async move {
        let owner = app.user("owner").await;
        let org = grpc_create(&app, &owner.token, org_input("Metadata")).await;
        let api = app.organization_token(org.id).await;
        let mut client = app.organizations().await;
        let get = || GetOrganizationRequest {
            organization_id: org.id,
        };
        let forms: Vec<(&str, tonic::Request<GetOrganizationRequest>)> = vec![
            (
                "authorization: Token",
                with_metadata(get(), "authorization", &format!("Token {}", owner.token)),
            ),
            ("authorization: Bearer", bearer(get(), &owner.token)),
            (
                "personal-access-token",
                with_metadata(get(), "personal-access-token", &owner.token),
            ),
            ("api-token", with_metadata(get(), "api-token", &api)),
        ];
        for (what, req) in forms {
            let got = client
                .get_organization(req)
                .await
                .unwrap_or_else(|s| panic!("{what}: {s:?}"))
                .into_inner()
                .organization
                .unwrap();
            assert_eq!(got, org, "{what}");
        }
        assert_code(
            client
                .get_organization(with_metadata(get(), "api-token", "unknown"))
                .await,
            Code::Unauthenticated,
        );
        assert_code(
            client
                .get_organization(with_metadata(get(), "personal-access-token", "unknown"))
                .await,
            Code::Unauthenticated,
        );
    })
    .await;
}

fn role_req(org: &str, user: &str, role: MembershipRole) -> SetMembershipRequest {
    SetMembershipRequest {
        organization: org.to_string(),
        user: user.to_string(),
        role: role as i32,
    }
}

fn remove_req(org: &str, user: &str) -> RemoveMembershipRequest {
    RemoveMembershipRequest {
        organization: org.to_string(),
        user: user.to_string(),
    }
}

fn list_req(org: &str) -> ListMembershipsRequest {
    ListMembershipsRequest {
        organization: org.to_string(),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owners_manage_memberships() {
    for_each_backend(|app| async move {
        let owner = app.user("owner").await;
        let newcomer = app.user("newcomer").await;
        let org = grpc_create(&app, &owner.token, org_input("Memberships")).await;
        let org_id = org.id.to_string();
        let mut ms = app.memberships().await;

        // By email.
        let m = ms
            .set_membership(bearer(
                role_req(&org_id, &newcomer.email, MembershipRole::Member),
                &owner.token,
            ))
            .await
            .expect("SetMembership")
            .into_inner()
            .membership
            .expect("membership");
        assert_eq!(m.organization_id, org.id);
        assert_eq!(m.organization_uuid, org.uuid);
        assert_eq!(m.user_id, newcomer.id);
        assert_eq!(m.user_uuid, newcomer.uuid);
        assert_eq!(m.email, newcomer.email);
        assert_eq!(m.role(), MembershipRole::Member);
        assert!(m.created_at.is_some());

        // Role change by user id, organization by UUID.
        let m = ms
            .set_membership(bearer(
                role_req(&org.uuid, &newcomer.id.to_string(), MembershipRole::Admin),
                &owner.token,
            ))
            .await
            .expect("SetMembership by id and UUID")
            .into_inner()
            .membership
            .unwrap();
        assert_eq!(m.role(), MembershipRole::Admin);
        assert_eq!(m.user_id, newcomer.id);

        // By user UUID.
        let m = ms
            .set_membership(bearer(
                role_req(&org_id, &newcomer.uuid, MembershipRole::Member),
                &owner.token,
            ))
            .await
            .expect("SetMembership by user UUID")
            .into_inner()
            .membership
            .unwrap();
        assert_eq!(m.role(), MembershipRole::Member);

        let list = ms
            .list_memberships(bearer(list_req(&org_id), &owner.token))
            .await
            .expect("ListMemberships")
            .into_inner()
            .memberships;
        let mut roles: Vec<(i64, MembershipRole)> =
            list.iter().map(|m| (m.user_id, m.role())).collect();
        roles.sort_by_key(|(id, _)| *id);
        let mut expected = vec![
            (owner.id, MembershipRole::Owner),
            (newcomer.id, MembershipRole::Member),
        ];
        expected.sort_by_key(|(id, _)| *id);
        assert_eq!(roles, expected);
        assert!(list.iter().all(|m| m.organization_id == org.id));

        // The member can now read the organization over REST.
        app.get_org(Auth::Bearer(&newcomer.token), org.id)
            .await
            .assert_status(200);

        // Unspecified role is invalid.
        assert_code(
            ms.set_membership(bearer(
                role_req(&org_id, &newcomer.email, MembershipRole::Unspecified),
                &owner.token,
            ))
            .await,
            Code::InvalidArgument,
        );

        // Promote to owner: both are owners.
        ms.set_membership(bearer(
            role_req(&org_id, &newcomer.email, MembershipRole::Owner),
            &owner.token,
        ))
        .await
        .expect("owners make owners");
        let r = app.get_org(Auth::Bearer(&owner.token), org.id).await;
        let mut owners: Vec<i64> = r.json["ownerIDs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_i64().unwrap())
            .collect();
        owners.sort();
        let mut expected = vec![owner.id, newcomer.id];
        expected.sort();
        assert_eq!(owners, expected);

        // Remove the first owner (no longer the last one).
        ms.remove_membership(bearer(remove_req(&org_id, &owner.email), &newcomer.token))
            .await
            .expect("RemoveMembership");
        let list = ms
            .list_memberships(bearer(list_req(&org_id), &newcomer.token))
            .await
            .unwrap()
            .into_inner()
            .memberships;
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].user_id, newcomer.id);
        assert_eq!(list[0].role(), MembershipRole::Owner);
        app.get_org(Auth::Bearer(&owner.token), org.id)
            .await
            .assert_error(403, "PERMISSION_DENIED");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_owner_stays() {
    for_each_backend(|app| async move {
        let owner = app.user("owner").await;
        let org = grpc_create(&app, &owner.token, org_input("Last owner")).await;
        let org_id = org.id.to_string();
        let mut ms = app.memberships().await;
        let service = app.service_token("svc").await;

        for token in [&owner.token, &service] {
            assert_code(
                ms.remove_membership(bearer(remove_req(&org_id, &owner.email), token))
                    .await,
                Code::FailedPrecondition,
            );
            for role in [MembershipRole::Admin, MembershipRole::Member] {
                assert_code(
                    ms.set_membership(bearer(role_req(&org_id, &owner.email, role), token))
                        .await,
                    Code::FailedPrecondition,
                );
            }
        }
        // REST shows the owner unchanged.
        let r = app.get_org(Auth::Bearer(&owner.token), org.id).await;
        r.assert_status(200);
        assert_eq!(r.json["ownerIDs"], json!([owner.id]));

        // The CLI refuses too.
        let out = app
            .cli(&[
                "member",
                "remove",
                "--organization",
                &org_id,
                "--email",
                &owner.email,
            ])
            .await;
        assert!(
            !out.status.success(),
            "removing the last owner by CLI must fail"
        );
        assert!(!out.stderr.trim().is_empty());
        let r = app.get_org(Auth::Bearer(&owner.token), org.id).await;
        assert_eq!(r.json["ownerIDs"], json!([owner.id]));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_manage_members_but_not_owners() {
    for_each_backend(|app| async move {
        let owner = app.user("owner").await;
        let admin = app.user("admin").await;
        let member = app.user("member").await;
        let newcomer = app.user("newcomer").await;
        let org = grpc_create(&app, &owner.token, org_input("Admins")).await;
        let org_id = org.id.to_string();
        app.member_add(org.id, &admin.email, "admin").await;
        app.member_add(org.id, &member.email, "member").await;
        let mut ms = app.memberships().await;

        // Admins add members and admins, change and remove them.
        let m = ms
            .set_membership(bearer(
                role_req(&org_id, &newcomer.email, MembershipRole::Member),
                &admin.token,
            ))
            .await
            .expect("admin adds a member")
            .into_inner()
            .membership
            .unwrap();
        assert_eq!(m.role(), MembershipRole::Member);
        ms.set_membership(bearer(
            role_req(&org_id, &newcomer.email, MembershipRole::Admin),
            &admin.token,
        ))
        .await
        .expect("admin makes an admin");
        ms.set_membership(bearer(
            role_req(&org_id, &newcomer.email, MembershipRole::Member),
            &admin.token,
        ))
        .await
        .expect("admin demotes an admin");
        let list = ms
            .list_memberships(bearer(list_req(&org_id), &admin.token))
            .await
            .expect("admins list memberships")
            .into_inner()
            .memberships;
        assert_eq!(list.len(), 4);

        // ...but neither grant nor change the owner role.
        assert_code(
            ms.set_membership(bearer(
                role_req(&org_id, &newcomer.email, MembershipRole::Owner),
                &admin.token,
            ))
            .await,
            Code::PermissionDenied,
        );
        assert_code(
            ms.set_membership(bearer(
                role_req(&org_id, &admin.email, MembershipRole::Owner),
                &admin.token,
            ))
            .await,
            Code::PermissionDenied,
        );
        assert_code(
            ms.set_membership(bearer(
                role_req(&org_id, &owner.email, MembershipRole::Member),
                &admin.token,
            ))
            .await,
            Code::PermissionDenied,
        );
        assert_code(
            ms.remove_membership(bearer(remove_req(&org_id, &owner.email), &admin.token))
                .await,
            Code::PermissionDenied,
        );
        let r = app.get_org(Auth::Bearer(&owner.token), org.id).await;
        assert_eq!(
            r.json["ownerIDs"],
            json!([owner.id]),
            "refused changes kept the owner"
        );

        // Admins remove members.
        ms.remove_membership(bearer(remove_req(&org_id, &newcomer.email), &admin.token))
            .await
            .expect("admin removes a member");
        app.get_org(Auth::Bearer(&newcomer.token), org.id)
            .await
            .assert_error(403, "PERMISSION_DENIED");

        // Plain members may do none of it.
        assert_code(
            ms.set_membership(bearer(
                role_req(&org_id, &newcomer.email, MembershipRole::Member),
                &member.token,
            ))
            .await,
            Code::PermissionDenied,
        );
        assert_code(
            ms.set_membership(bearer(
                role_req(&org_id, &member.email, MembershipRole::Admin),
                &member.token,
            ))
            .await,
            Code::PermissionDenied,
        );
        assert_code(
            ms.remove_membership(bearer(remove_req(&org_id, &admin.email), &member.token))
                .await,
            Code::PermissionDenied,
        );
        assert_code(
            ms.list_memberships(bearer(list_req(&org_id), &member.token))
                .await,
            Code::PermissionDenied,
        );

        let list = ms
            .list_memberships(bearer(list_req(&org_id), &owner.token))
            .await
            .unwrap()
            .into_inner()
            .memberships;
        let mut roles: Vec<(i64, MembershipRole)> =
            list.iter().map(|m| (m.user_id, m.role())).collect();
        roles.sort_by_key(|(id, _)| *id);
        let mut expected = vec![
            (owner.id, MembershipRole::Owner),
            (admin.id, MembershipRole::Admin),
            (member.id, MembershipRole::Member),
        ];
        expected.sort_by_key(|(id, _)| *id);
        assert_eq!(roles, expected, "refused calls changed nothing");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outsiders_and_anonymous_callers_cannot_touch_memberships() {
    for_each_backend(|app| async move {
        let owner = app.user("owner").await;
        let outsider = app.user("outsider").await;
        let org = grpc_create(&app, &owner.token, org_input("Closed")).await;
        let org_id = org.id.to_string();
        let mut ms = app.memberships().await;

        for target in [org_id.as_str(), "999999"] {
            assert_code(
                ms.list_memberships(bearer(list_req(target), &outsider.token))
                    .await,
                Code::PermissionDenied,
            );
            assert_code(
                ms.set_membership(bearer(
                    role_req(target, &outsider.email, MembershipRole::Owner),
                    &outsider.token,
                ))
                .await,
                Code::PermissionDenied,
            );
            assert_code(
                ms.remove_membership(bearer(remove_req(target, &owner.email), &outsider.token))
                    .await,
                Code::PermissionDenied,
            );
        }
        assert_code(
            ms.list_memberships(tonic::Request::new(list_req(&org_id)))
                .await,
            Code::Unauthenticated,
        );
        assert_code(
            ms.set_membership(tonic::Request::new(role_req(
                &org_id,
                &outsider.email,
                MembershipRole::Owner,
            )))
            .await,
            Code::Unauthenticated,
        );
        assert_code(
            ms.list_memberships(bearer(list_req(&org_id), "unknown-token"))
                .await,
            Code::Unauthenticated,
        );
        app.get_org(Auth::Bearer(&outsider.token), org.id)
            .await
            .assert_error(403, "PERMISSION_DENIED");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_manage_memberships_of_any_organization() {
    for_each_backend(|app| async move {
        let owner = app.user("owner").await;
        let staff = app.user("staff").await;
        let org = grpc_create(&app, &owner.token, org_input("Serviced")).await;
        let service = app.service_token("directory").await;
        let mut ms = app.memberships().await;

        let m = ms
            .set_membership(bearer(
                role_req(&org.uuid, &staff.email, MembershipRole::Owner),
                &service,
            ))
            .await
            .expect("a service sets memberships")
            .into_inner()
            .membership
            .unwrap();
        assert_eq!(m.role(), MembershipRole::Owner);
        let list = ms
            .list_memberships(bearer(list_req(&org.id.to_string()), &service))
            .await
            .expect("a service lists memberships")
            .into_inner()
            .memberships;
        assert_eq!(list.len(), 2);
        ms.remove_membership(bearer(
            remove_req(&org.id.to_string(), &staff.email),
            &service,
        ))
        .await
        .expect("a service removes memberships");

        assert_code(
            ms.list_memberships(bearer(list_req("999999"), &service))
                .await,
            Code::NotFound,
        );
        assert_code(
            ms.set_membership(bearer(
                role_req("999999", &staff.email, MembershipRole::Member),
                &service,
            ))
            .await,
            Code::NotFound,
        );

        // An organization API token is no user: it may not list another organization's
        // memberships.
        let other = grpc_create(&app, &owner.token, org_input("Other")).await;
        let api = app.organization_token(org.id).await;
        assert_code(
            ms.list_memberships(with_metadata(
                list_req(&other.id.to_string()),
                "api-token",
                &api,
            ))
            .await,
            Code::PermissionDenied,
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn billing_sets_state_with_a_service_token_only() {
    for_each_backend(|app| async move {
        let owner = app.user("owner").await;
        let org = grpc_create(&app, &owner.token, org_input("Billing")).await;
        let service = app.service_token("billing").await;
        let mut billing = app.billing().await;
        let req = |org: &str, state: OrganizationState| SetOrganizationStateRequest {
            organization: org.to_string(),
            state: state as i32,
        };

        // Users, even owners, may not.
        assert_code(
            billing
                .set_organization_state(bearer(
                    req(&org.id.to_string(), OrganizationState::Active),
                    &owner.token,
                ))
                .await,
            Code::PermissionDenied,
        );
        let api = app.organization_token(org.id).await;
        assert_code(
            billing
                .set_organization_state(with_metadata(
                    req(&org.id.to_string(), OrganizationState::Active),
                    "api-token",
                    &api,
                ))
                .await,
            Code::PermissionDenied,
        );
        assert_code(
            billing
                .set_organization_state(tonic::Request::new(req(
                    &org.id.to_string(),
                    OrganizationState::Active,
                )))
                .await,
            Code::Unauthenticated,
        );
        let r = app.get_org(Auth::Bearer(&owner.token), org.id).await;
        assert_eq!(
            r.json["state"],
            json!("trial"),
            "refused calls changed nothing"
        );

        let updated = billing
            .set_organization_state(bearer(
                req(&org.id.to_string(), OrganizationState::Inactive),
                &service,
            ))
            .await
            .expect("SetOrganizationState")
            .into_inner()
            .organization
            .unwrap();
        assert_eq!(updated.id, org.id);
        assert_eq!(updated.state(), OrganizationState::Inactive);
        let r = app.get_org(Auth::Bearer(&owner.token), org.id).await;
        r.assert_status(200);
        assert_eq!(r.json["state"], json!("inactive"));

        // By UUID.
        let updated = billing
            .set_organization_state(bearer(req(&org.uuid, OrganizationState::Active), &service))
            .await
            .expect("SetOrganizationState by UUID")
            .into_inner()
            .organization
            .unwrap();
        assert_eq!(updated.state(), OrganizationState::Active);
        let r = app.get_org(Auth::Bearer(&owner.token), org.id).await;
        assert_eq!(r.json["state"], json!("active"));

        assert_code(
            billing
                .set_organization_state(bearer(req("999999", OrganizationState::Active), &service))
                .await,
            Code::NotFound,
        );
        assert_code(
            billing
                .set_organization_state(bearer(
                    req(&org.id.to_string(), OrganizationState::Unspecified),
                    &service,
                ))
                .await,
            Code::InvalidArgument,
        );
        let r = app.get_org(Auth::Bearer(&owner.token), org.id).await;
        assert_eq!(r.json["state"], json!("active"));

        // The service reads the new state over REST as well.
        let r = app
            .rest(
                Method::GET,
                &format!("/api/v1/organization/{}", org.id),
                Auth::Bearer(&service),
                None,
            )
            .await;
        r.assert_status(200);
        assert_eq!(r.json["state"], json!("active"));
    })
    .await;
}
