//! GroupAlarm's Go zero values: where the published schema types a field as non-nullable,
//! an unset value is written as its zero value (`parentID` 0, `avatarURL` "", `location`
//! the zero object), as the production service answers, and `parentID: 0` in a request
//! means "no parent". gRPC keeps the fields' presence.

use crate::common::*;
use orgd::proto::v1::*;
use reqwest::Method;
use serde_json::{Value, json};

/// The location of an organization without one, as GroupAlarm's production service sends it.
#[track_caller]
fn assert_zero_location(location: &Value, what: &str) {
    let obj = location
        .as_object()
        .unwrap_or_else(|| panic!("{what}: location is an object, got {location}"));
    assert_eq!(
        obj.len(),
        3,
        "{what}: exactly address, latitude, longitude: {location}"
    );
    assert_eq!(location["address"], json!(""), "{what}: {location}");
    for key in ["latitude", "longitude"] {
        assert_eq!(
            location[key].as_f64(),
            Some(0.0),
            "{what}: {key} is the number 0: {location}"
        );
    }
}

/// An organization with no parent, avatar or location, in every field that has no null.
#[track_caller]
fn assert_zero_values(org: &Value, what: &str) {
    assert_eq!(org["parentID"], json!(0), "{what}: parentID 0: {org}");
    assert_eq!(org["avatarURL"], json!(""), "{what}: avatarURL \"\": {org}");
    assert_zero_location(&org["location"], what);
}

fn find(list: &Value, id: i64) -> Value {
    list.as_array()
        .unwrap_or_else(|| panic!("a JSON array: {list}"))
        .iter()
        .find(|o| o["id"] == json!(id))
        .unwrap_or_else(|| panic!("organization {id} in {list}"))
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unset_fields_are_written_as_go_zero_values_on_every_read() {
    for_each_backend(|app| async move {
        let owner = app.user("owner").await;
        let created = app.org(&owner.token, "Zero").await;
        assert_zero_values(&created, "create answer");
        let id = id_of(&created);
        let token = owner.token.clone();
        let auth = || Auth::Bearer(&token);

        let got = app.get_org(auth(), id).await;
        got.assert_status(200);
        assert_zero_values(&got.json, "GET organization");
        // No field of the organization is null except those the schema leaves untyped.
        for (key, value) in got.json.as_object().unwrap() {
            if key != "trialEndDate" {
                assert!(!value.is_null(), "{key} is not null: {}", got.json);
            }
        }

        let all = app
            .rest(Method::GET, "/api/v1/organizations", auth(), None)
            .await;
        all.assert_status(200);
        assert_zero_values(&find(&all.json, id), "GET organizations");

        let paged = app
            .rest(Method::GET, "/api/v1/organizations/paginated", auth(), None)
            .await;
        paged.assert_status(200);
        assert_zero_values(&find(&paged.json["organizations"], id), "paginated");

        let child = app.child_org(&owner.token, id, "Zero child").await;
        assert_eq!(
            child["parentID"],
            json!(id),
            "a child's parentID is its parent"
        );
        assert_eq!(child["avatarURL"], json!(""));
        assert_zero_location(&child["location"], "child");
        let children = app
            .rest(
                Method::GET,
                &format!("/api/v1/organization/{id}/children"),
                auth(),
                None,
            )
            .await;
        children.assert_status(200);
        assert_zero_values(&children.json["path"][0], "children path root");
        assert_eq!(children.json["childs"][0]["parentID"], json!(id));

        // A location set is written as stored; removed, it is the zero object again.
        let loc = json!({"address": "Hauptstr. 1", "latitude": 52.5, "longitude": 13.4});
        let r = app
            .rest(
                Method::PUT,
                &format!("/api/v1/organization/{id}/location"),
                auth(),
                Some(&loc),
            )
            .await;
        r.assert_status(200);
        assert_eq!(app.get_org_json(&owner.token, id).await["location"], loc);
        let r = app
            .rest(
                Method::DELETE,
                &format!("/api/v1/organization/{id}/location"),
                auth(),
                None,
            )
            .await;
        r.assert_status(200);
        assert_zero_location(
            &app.get_org_json(&owner.token, id).await["location"],
            "after DELETE location",
        );

        // gRPC keeps presence: unset stays unset, not 0 or "".
        let mut grpc = app.organizations().await;
        let org = grpc
            .get_organization(bearer(
                GetOrganizationRequest {
                    organization_id: id,
                },
                &owner.token,
            ))
            .await
            .expect("gRPC GetOrganization")
            .into_inner()
            .organization
            .unwrap();
        assert_eq!(org.parent_id, None);
        assert_eq!(org.avatar_url, None);
        assert_eq!(org.location, None);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parent_id_zero_in_a_request_means_no_parent() {
    for_each_backend(|app| async move {
        let owner = app.user("owner").await;
        let token = owner.token.clone();
        let auth = || Auth::Bearer(&token);
        // The seed's own request sample: every field present, parentID 0.
        let sample = json!({
            "name": "From the sample", "description": "string", "parentID": 0,
            "avatarURL": "", "location": {"address": "", "latitude": 0, "longitude": 0},
            "language": "de", "timezone": "Europe/Berlin", "tags": [],
            "enforcesTwoFactorAuth": false, "dataRetentionPeriod": 0, "id": 0,
            "ownerIDs": [], "hasChildren": false, "creationDate": null, "trialEndDate": null,
        });
        let r = app
            .rest(Method::POST, "/api/v1/organization", auth(), Some(&sample))
            .await;
        assert_eq!(r.status.as_u16(), 201, "create with parentID 0: {}", r.text);
        assert_zero_values(&r.json, "created with parentID 0");
        let id = id_of(&r.json);
        let top = app
            .rest(Method::GET, "/api/v1/organizations/paginated", auth(), None)
            .await;
        assert!(
            ids_of(&top.json["organizations"]).contains(&id),
            "a top-level organization: {}",
            top.json
        );

        // Updating a top-level organization with parentID 0 keeps it top-level.
        let mut update = r.json.clone();
        update["name"] = json!("Renamed");
        update["parentID"] = json!(0);
        let r = app
            .rest(Method::PUT, "/api/v1/organization", auth(), Some(&update))
            .await;
        assert_eq!(r.status.as_u16(), 200, "update with parentID 0: {}", r.text);
        assert_eq!(r.json["name"], json!("Renamed"));
        assert_zero_values(&r.json, "updated with parentID 0");

        // On a child, 0 is "absent" as in Go: the parent is kept, never dropped by a client
        // that writes back what it read with a zero it did not mean.
        let child = app.child_org(&owner.token, id, "Child").await;
        let mut update = child.clone();
        update["parentID"] = json!(0);
        update["description"] = json!("still a child");
        let r = app
            .rest(Method::PUT, "/api/v1/organization", auth(), Some(&update))
            .await;
        assert_eq!(r.status.as_u16(), 200, "{}", r.text);
        assert_eq!(r.json["parentID"], json!(id), "the parent is kept");
        assert_eq!(r.json["description"], json!("still a child"));

        // A parent that is not the caller's is still refused, as before.
        let other = app.user("other").await;
        let foreign = id_of(&app.org(&other.token, "Foreign").await);
        let r = app
            .rest(
                Method::POST,
                "/api/v1/organization",
                auth(),
                Some(&json!({"name": "Intruder", "parentID": foreign})),
            )
            .await;
        r.assert_error(403, "PERMISSION_DENIED");
        // A zero-valued field of the wrong type is still a type error.
        let r = app
            .rest(
                Method::POST,
                "/api/v1/organization",
                auth(),
                Some(&json!({"name": "Typed", "parentID": "zero"})),
            )
            .await;
        r.assert_error(400, "INVALID_ARGUMENT");
        // null is "unset" where the schema allows it (parentID, location, timestamps), and
        // the wrong type where it does not: refused, and nothing is created.
        let before = app
            .rest(Method::GET, "/api/v1/organizations", auth(), None)
            .await
            .json;
        // A location in the organization is not stored (the location endpoints set it) but
        // is checked like any input.
        let out_of_range = json!({"address": "", "latitude": 0, "longitude": -181});
        for (key, value) in [
            ("uuid", json!(null)),
            ("name", json!(null)),
            ("tags", json!(null)),
            ("location", out_of_range),
        ] {
            let mut body = json!({"name": "Nullish", "parentID": null, "location": null});
            body[key] = value;
            let r = app
                .rest(Method::POST, "/api/v1/organization", auth(), Some(&body))
                .await;
            assert_eq!(r.status.as_u16(), 400, "{key}: null: {}", r.text);
            r.assert_error(400, "INVALID_ARGUMENT");
        }
        let after = app
            .rest(Method::GET, "/api/v1/organizations", auth(), None)
            .await
            .json;
        assert_eq!(after, before, "nothing was created");
        let r = app
            .rest(
                Method::POST,
                "/api/v1/organization",
                auth(),
                Some(&json!({"name": "Null parent", "parentID": null, "location": null})),
            )
            .await;
        assert_eq!(r.status.as_u16(), 201, "{}", r.text);
        assert_zero_values(&r.json, "created with parentID null");
    })
    .await;
}

#[tokio::test]
async fn openapi_types_the_zero_valued_fields_as_non_nullable() {
    for_each_backend(|app| async move {
        let doc: Value = app
            .http
            .get(app.url("/openapi.json"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let schemas = &doc["components"]["schemas"];
        let org = &schemas["orgd.v1.Organization"]["properties"];
        assert_eq!(
            org["parentID"]["type"],
            json!("integer"),
            "{}",
            org["parentID"]
        );
        assert_eq!(
            org["avatarURL"]["type"],
            json!("string"),
            "{}",
            org["avatarURL"]
        );
        assert_eq!(
            org["location"],
            json!({"$ref": "#/components/schemas/orgd.v1.OrganizationLocation"})
        );
        // Fields without the option keep their null.
        assert_eq!(org["trialEndDate"]["type"], json!(["string", "null"]));
        // A request may send null (or 0) for "no parent".
        let input = &schemas["orgd.v1.Organization-input"]["properties"];
        assert_eq!(
            input["parentID"]["type"],
            json!(["integer", "null"]),
            "{}",
            input["parentID"]
        );
    })
    .await;
}
