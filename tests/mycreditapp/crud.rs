//! Creating, reading, updating and deleting partners: the 201 body, validation of every field
//! (lengths in characters), and the status codes of each operation.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_returns_201_with_every_key() {
    for_each_backend(|app| async move {
        let a = Org::create(&app, "create").await;
        let ctx = Ctx::new(&app, &a.owner.token, &a.uuid, &a.uuid);

        let full = json!({
            "company_name": "Müller Logistik GmbH",
            "sales_amount": 1073741823,
            "partner_type": "supplier",
            "email": "billing@mueller.example.com",
            "frequency": "monthly",
            "payment_terms": "net 30",
            "address": "Hauptstraße 1",
            "city": "Berlin",
            "state": "BE",
            "postal_code": "10115",
            "country_code": "DE",
            "company_registration_number": "HRB 12345",
        });
        let created = ctx.create_ok(&full).await;
        for (k, v) in full.as_object().unwrap() {
            assert_eq!(&created[k], v, "{k} round-trips: {created}");
        }
        assert_eq!(created["invitation_status"], Value::Null);
        assert_eq!(created["guest_organization_id"], Value::Null);
        let created_at = utc(&created["created_at"]);
        let updated_at = utc(&created["updated_at"]);
        assert!(updated_at >= created_at, "updated_at >= created_at");

        let got = ctx.get(&sid(&created)).await;
        got.assert_status(200);
        assert_partner_shape(&got.json);
        assert_eq!(got.json, created, "GET returns what POST returned");

        // Minimal body: defaults and nulls.
        let minimal = ctx
            .create_ok(&body("Tiny Co", "customer", "tiny@example.com"))
            .await;
        assert_eq!(minimal["company_name"], json!("Tiny Co"));
        assert_eq!(minimal["partner_type"], json!("customer"));
        assert_eq!(minimal["email"], json!("tiny@example.com"));
        assert_eq!(
            minimal["sales_amount"],
            json!(0),
            "sales_amount defaults to 0"
        );
        for key in [
            "address",
            "city",
            "state",
            "postal_code",
            "country_code",
            "company_registration_number",
            "invitation_status",
            "guest_organization_id",
        ] {
            assert_eq!(
                minimal[key],
                Value::Null,
                "{key} is null when unset: {minimal}"
            );
        }
        assert_ne!(minimal["id"], created["id"], "ids are distinct");

        // Explicit nulls for the optional fields are the same as leaving them out.
        let nulls = ctx
            .create_ok(&json!({
                "company_name": "Null Co",
                "partner_type": "supplier",
                "email": "null@example.com",
                "address": null,
                "city": null,
                "state": null,
                "postal_code": null,
                "country_code": null,
                "company_registration_number": null,
            }))
            .await;
        for key in [
            "address",
            "city",
            "state",
            "postal_code",
            "country_code",
            "company_registration_number",
        ] {
            assert_eq!(nulls[key], Value::Null, "{key}: {nulls}");
        }
        ctx.delete(&sid(&nulls)).await.assert_status(204);

        // Both are listed.
        let (items, total) = ctx.list_ok(&format!("{BOTH}&limit=10&offset=0")).await;
        assert_eq!(total, 2);
        assert_eq!(
            id_set(&items),
            BTreeSet::from([sid(&created), sid(&minimal)])
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_validation_lists_every_bad_field() {
    for_each_backend(|app| async move {
        let a = Org::create(&app, "validate").await;
        let ctx = Ctx::new(&app, &a.owner.token, &a.uuid, &a.uuid);

        // Every required field missing at once.
        let r = ctx.create(&json!({})).await;
        assert_422(
            &r,
            &[
                ["body", "company_name"],
                ["body", "partner_type"],
                ["body", "email"],
            ],
        );

        // Every value rule broken at once.
        let r = ctx
            .create(&json!({
                "company_name": "x".repeat(101),
                "sales_amount": -1,
                "partner_type": "customer",
                "email": "not-an-email",
                "country_code": "XX",
            }))
            .await;
        assert_422(
            &r,
            &[
                ["body", "company_name"],
                ["body", "sales_amount"],
                ["body", "email"],
                ["body", "country_code"],
            ],
        );

        // Wrong JSON types and unknown enum values.
        for (field, value) in [
            ("sales_amount", json!("x")),
            ("sales_amount", json!(1.5)),
            ("company_name", json!(42)),
            ("partner_type", json!("vendor")),
        ] {
            let mut b = body("Typed", "customer", "typed@example.com");
            b[field] = value.clone();
            let r = ctx.create(&b).await;
            assert_422(&r, &[["body", field]]);
        }

        // Malformed JSON.
        let r = send(
            app.http
                .post(app.url("/v1/partners"))
                .header("Authorization", format!("Bearer {}", a.owner.token))
                .header("Requester-Organization-ID", &a.uuid)
                .header("Target-Organization-ID", &a.uuid)
                .header("content-type", "application/json")
                .body("{not json"),
        )
        .await;
        detail(&r, 422);

        // Boundaries that are fine.
        let ok = ctx
            .create_ok(&json!({
                "company_name": "y".repeat(100),
                "sales_amount": 0,
                "partner_type": "supplier",
                "email": "edge@example.com",
                "country_code": "FR",
            }))
            .await;
        assert_eq!(ok["company_name"], json!("y".repeat(100)));
        assert_eq!(ok["country_code"], json!("FR"));

        // Nothing invalid was stored.
        let (_, total) = ctx.list_ok(&format!("{BOTH}&limit=10&offset=0")).await;
        assert_eq!(total, 1, "only the valid partner was created");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crud_status_codes() {
    for_each_backend(|app| async move {
        let a = Org::create(&app, "crud").await;
        let ctx = Ctx::new(&app, &a.owner.token, &a.uuid, &a.uuid);
        let created = ctx
            .create_ok(&json!({
                "company_name": "Patch Me",
                "sales_amount": 10,
                "partner_type": "customer",
                "email": "patch@example.com",
                "frequency": "weekly",
                "payment_terms": "net 14",
                "city": "Hamburg",
                "country_code": "DE",
            }))
            .await;
        let id = sid(&created);

        // PATCH changes only the fields present.
        let r = ctx
            .patch(&id, &json!({"sales_amount": 250, "city": "Bremen"}))
            .await;
        r.assert_status(200);
        assert_partner_shape(&r.json);
        let patched = r.json.clone();
        assert_eq!(patched["sales_amount"], json!(250));
        assert_eq!(patched["city"], json!("Bremen"));
        for key in [
            "id",
            "company_name",
            "partner_type",
            "email",
            "frequency",
            "payment_terms",
            "address",
            "state",
            "postal_code",
            "country_code",
            "company_registration_number",
            "created_at",
            "invitation_status",
            "guest_organization_id",
        ] {
            assert_eq!(patched[key], created[key], "{key} unchanged by PATCH");
        }
        assert!(utc(&patched["updated_at"]) >= utc(&created["updated_at"]));

        let r = ctx
            .patch(
                &id,
                &json!({"partner_type": "supplier", "company_name": "Patched"}),
            )
            .await;
        r.assert_status(200);
        assert_eq!(r.json["partner_type"], json!("supplier"));
        assert_eq!(r.json["company_name"], json!("Patched"));
        assert_eq!(r.json["sales_amount"], json!(250));

        // An empty PATCH changes nothing.
        let r = ctx.patch(&id, &json!({})).await;
        r.assert_status(200);
        for key in PARTNER_KEYS.iter().filter(|k| **k != "updated_at") {
            let before = ctx.get(&id).await;
            assert_eq!(
                r.json[*key], before.json[*key],
                "{key} unchanged by an empty PATCH"
            );
        }

        // PATCH with bad values: 422 listing each, nothing changes.
        let r = ctx
            .patch(
                &id,
                &json!({"sales_amount": -1, "country_code": "XX", "email": "nope"}),
            )
            .await;
        assert_422(
            &r,
            &[
                ["body", "sales_amount"],
                ["body", "country_code"],
                ["body", "email"],
            ],
        );
        assert_422(
            &ctx.patch(&id, &json!({"sales_amount": "x"})).await,
            &[["body", "sales_amount"]],
        );
        assert_422(
            &ctx.patch(&id, &json!({"partner_type": "vendor"})).await,
            &[["body", "partner_type"]],
        );
        assert_422(
            &ctx.patch(&id, &json!({"company_name": ""})).await,
            &[["body", "company_name"]],
        );
        let got = ctx.get(&id).await;
        got.assert_status(200);
        assert_eq!(got.json["sales_amount"], json!(250));
        assert_eq!(got.json["country_code"], json!("DE"));
        assert_eq!(got.json["partner_type"], json!("supplier"));
        assert_eq!(got.json["company_name"], json!("Patched"));

        // Unknown and malformed ids: 404 everywhere.
        let missing = uuid::Uuid::new_v4().to_string();
        for bad in [missing.as_str(), "nope"] {
            assert_plain_error(&ctx.get(bad).await, 404);
            assert_plain_error(&ctx.patch(bad, &json!({"city": "X"})).await, 404);
            assert_plain_error(&ctx.delete(bad).await, 404);
            assert_plain_error(&ctx.invite(bad).await, 404);
        }

        // DELETE: 204 with an empty body, then gone.
        let r = ctx.delete(&id).await;
        r.assert_status(204);
        assert!(r.text.is_empty(), "204 has an empty body: {:?}", r.text);
        assert_plain_error(&ctx.get(&id).await, 404);
        assert_plain_error(&ctx.delete(&id).await, 404);
        let (items, total) = ctx.list_ok(&format!("{BOTH}&limit=10&offset=0")).await;
        assert!(items.is_empty());
        assert_eq!(total, 0);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lengths_count_characters_not_bytes() {
    for_each_backend(|app| async move {
        let a = Org::create(&app, "chars").await;
        let ctx = Ctx::new(&app, &a.owner.token, &a.uuid, &a.uuid);
        let name = "ü".repeat(100);
        let p = ctx
            .create_ok(&body(&name, "customer", "u@example.com"))
            .await;
        assert_eq!(p["company_name"], json!(name));
        assert_422(
            &ctx.create(&body(&"ü".repeat(101), "customer", "v@example.com"))
                .await,
            &[["body", "company_name"]],
        );
        ctx.list_ok(&format!(
            "{BOTH}&search_text={}&limit=10&offset=0",
            urlencode(&"ü".repeat(255))
        ))
        .await;
        assert_422(
            &ctx.list(&format!(
                "{BOTH}&search_text={}&limit=10&offset=0",
                urlencode(&"ü".repeat(256))
            ))
            .await,
            &[["query", "search_text"]],
        );
    })
    .await;
}
