//! Quick actions: the list is replaced as a whole, invalid lists are refused and keep the old
//! one, and concurrent replaces are atomic.

use super::*;

const QUICK_ACTION_KEYS: &[&str] = &[
    "id",
    "organization_id",
    "name",
    "color",
    "icon",
    "one_click",
    "resource",
    "resource_id",
];

#[track_caller]
fn assert_quick_action_shape(qa: &Value, organization: i64) {
    let obj = qa
        .as_object()
        .unwrap_or_else(|| panic!("quick action is an object: {qa}"));
    for key in QUICK_ACTION_KEYS {
        assert!(obj.contains_key(*key), "quick action lacks {key:?}: {qa}");
    }
    assert!(
        qa["id"].as_i64().is_some_and(|i| i > 0),
        "id is a positive number: {qa}"
    );
    assert_eq!(qa["organization_id"], json!(organization), "{qa}");
    assert!(qa["name"].is_string(), "{qa}");
    assert!(qa["color"].is_string(), "{qa}");
    assert!(qa["icon"].is_string(), "{qa}");
    assert!(qa["one_click"].is_boolean(), "{qa}");
    assert!(qa["resource"].is_string(), "{qa}");
    assert!(qa["resource_id"].is_i64(), "{qa}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quick_actions_replace_the_whole_list() {
    for_each_backend(|app| async move {
        let owner = app.user("owner").await;
        let id = id_of(&app.org(&owner.token, "Quick").await);
        let other = id_of(&app.org(&owner.token, "Other").await);
        assert_eq!(app.quick_actions(&owner.token, id).await, json!([]));

        let body = json!([
            {"id": 424242, "organization_id": other, "name": "Alarm", "color": "#ff0000", "icon": "bell",
             "one_click": true, "resource": "alarm_template", "resource_id": 7},
            {"name": "Only a name"},
            {"id": 424243, "name": "Third", "color": "blue", "icon": "", "one_click": false,
             "resource": "scenario", "resource_id": 9_000_000_000_i64},
        ]);
        let r = app
            .rest(Method::PUT, &org_path(id, "/quick-actions"), Auth::Bearer(&owner.token), Some(&body))
            .await;
        expect_status(&r, 200, "set");
        let set = r.json.clone();
        let list = set.as_array().expect("an array");
        assert_eq!(list.len(), 3);
        for qa in list {
            assert_quick_action_shape(qa, id);
        }
        assert_eq!(names_of(&set), vec!["Alarm", "Only a name", "Third"], "order kept");
        let ids: HashSet<i64> = list.iter().map(|q| q["id"].as_i64().unwrap()).collect();
        assert_eq!(ids.len(), 3, "distinct ids");
        assert!(
            !ids.contains(&424242) && !ids.contains(&424243),
            "client ids are ignored: {set}"
        );
        assert_eq!(list[0]["color"], json!("#ff0000"));
        assert_eq!(list[0]["icon"], json!("bell"));
        assert_eq!(list[0]["one_click"], json!(true));
        assert_eq!(list[0]["resource"], json!("alarm_template"));
        assert_eq!(list[0]["resource_id"], json!(7));
        assert_eq!(
            list[1],
            json!({"id": list[1]["id"], "organization_id": id, "name": "Only a name", "color": "",
                   "icon": "", "one_click": false, "resource": "", "resource_id": 0}),
            "every key present with its default"
        );
        assert_eq!(list[2]["resource_id"], json!(9_000_000_000_i64));
        assert_eq!(app.quick_actions(&owner.token, id).await, set, "GET shows the set list");
        assert_eq!(app.quick_actions(&owner.token, other).await, json!([]), "other org untouched");

        // Replace: the old entries are gone.
        let r = app
            .rest(
                Method::PUT,
                &org_path(id, "/quick-actions"),
                Auth::Bearer(&owner.token),
                Some(&json!([quick_action("New")])),
            )
            .await;
        expect_status(&r, 200, "replace");
        assert_eq!(names_of(&r.json), vec!["New"]);
        assert_quick_action_shape(&r.json[0], id);
        assert_eq!(app.quick_actions(&owner.token, id).await, r.json);

        // Readers.
        let member = app.user("member").await;
        app.member_add(id, &member.email, "member").await;
        assert_eq!(app.quick_actions(&member.token, id).await, r.json);
        let service = app.service_token("svc").await;
        assert_eq!(app.quick_actions(&service, id).await, r.json);
        expect_error(
            &app.get(&org_path(MISSING, "/quick-actions"), Auth::Bearer(&service)).await,
            404,
            "NOT_FOUND",
            "service, missing organization",
        );

        // [] clears.
        let r = app
            .rest(Method::PUT, &org_path(id, "/quick-actions"), Auth::Bearer(&owner.token), Some(&json!([])))
            .await;
        expect_status(&r, 200, "clear");
        assert_eq!(r.json, json!([]));
        assert_eq!(app.quick_actions(&owner.token, id).await, json!([]));

        // Exactly 100 actions is allowed, with the maximal lengths.
        let hundred: Vec<Value> = (0..100)
            .map(|i| {
                json!({"name": format!("{i:03}{}", "n".repeat(252)), "color": "c".repeat(32),
                       "icon": "i".repeat(255), "resource": "r".repeat(255), "one_click": i % 2 == 0,
                       "resource_id": i})
            })
            .collect();
        let r = app
            .rest(Method::PUT, &org_path(id, "/quick-actions"), Auth::Bearer(&owner.token), Some(&Value::Array(hundred.clone())))
            .await;
        expect_status(&r, 200, "100 actions");
        assert_eq!(r.json.as_array().unwrap().len(), 100);
        let names: Vec<String> = hundred.iter().map(|q| q["name"].as_str().unwrap().to_string()).collect();
        assert_eq!(names_of(&r.json), names);
        assert_eq!(app.quick_actions(&owner.token, id).await, r.json);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_quick_actions_are_400_and_keep_the_old_list() {
    for_each_backend(|app| async move {
        let owner = app.user("owner").await;
        let id = id_of(&app.org(&owner.token, "Guarded").await);
        let r = app
            .rest(
                Method::PUT,
                &org_path(id, "/quick-actions"),
                Auth::Bearer(&owner.token),
                Some(&json!([quick_action("Old 1"), quick_action("Old 2")])),
            )
            .await;
        expect_status(&r, 200, "baseline");
        let before = r.json;

        let good = quick_action("Fine");
        let with = |field: &str, value: Value| {
            let mut q = quick_action("X");
            q[field] = value;
            q
        };
        let mut no_name = quick_action("X");
        no_name.as_object_mut().unwrap().remove("name");
        let cases: Vec<(&str, String)> = vec![
            ("name missing", json!([good, no_name]).to_string()),
            (
                "name empty",
                json!([good, with("name", json!(""))]).to_string(),
            ),
            (
                "name of 256",
                json!([good, with("name", json!("n".repeat(256)))]).to_string(),
            ),
            (
                "color of 33",
                json!([good, with("color", json!("c".repeat(33)))]).to_string(),
            ),
            (
                "icon of 256",
                json!([good, with("icon", json!("i".repeat(256)))]).to_string(),
            ),
            (
                "resource of 256",
                json!([good, with("resource", json!("r".repeat(256)))]).to_string(),
            ),
            (
                "name is a number",
                json!([with("name", json!(5))]).to_string(),
            ),
            (
                "one_click is a string",
                json!([with("one_click", json!("yes"))]).to_string(),
            ),
            (
                "101 actions",
                Value::Array((0..101).map(|i| quick_action(&format!("a{i}"))).collect())
                    .to_string(),
            ),
            ("an object, not an array", good.to_string()),
            ("malformed JSON", "[{\"name\": ".to_string()),
        ];
        for (what, body) in cases {
            let r = app
                .rest_raw(
                    Method::PUT,
                    &org_path(id, "/quick-actions"),
                    Auth::Bearer(&owner.token),
                    &body,
                )
                .await;
            expect_error(&r, 400, "INVALID_ARGUMENT", what);
            assert_eq!(
                app.quick_actions(&owner.token, id).await,
                before,
                "{what}: the old list is unchanged"
            );
        }
        expect_error(
            &app.get(
                "/api/v1/organization/abc/quick-actions",
                Auth::Bearer(&owner.token),
            )
            .await,
            400,
            "INVALID_ARGUMENT",
            "non-numeric id",
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_quick_action_replaces_are_atomic() {
    for_each_backend(|app| async move {
        const N: usize = 6;
        const WRITERS: usize = 6;
        const ROUNDS: usize = 3;
        const READERS: usize = 4;
        const READS: usize = 15;
        let owner = app.user("owner").await;
        let id = id_of(&app.org(&owner.token, "Atomic").await);
        let list_of = |k: &str| Value::Array((0..N).map(|_| quick_action(k)).collect());
        let r = app
            .rest(
                Method::PUT,
                &org_path(id, "/quick-actions"),
                Auth::Bearer(&owner.token),
                Some(&list_of("set-init")),
            )
            .await;
        expect_status(&r, 200, "initial");

        #[track_caller]
        fn check_complete(list: &Value, what: &str) -> String {
            let names = names_of(list);
            assert_eq!(names.len(), N, "{what}: a complete list of {N}: {list}");
            assert!(
                names.iter().all(|n| *n == names[0]),
                "{what}: names all equal (never a mix): {names:?}"
            );
            let ids: HashSet<i64> = list
                .as_array()
                .unwrap()
                .iter()
                .map(|q| q["id"].as_i64().unwrap())
                .collect();
            assert_eq!(ids.len(), N, "{what}: distinct ids: {list}");
            names[0].clone()
        }

        let mut set = tokio::task::JoinSet::new();
        for w in 0..WRITERS {
            let app = app.clone();
            let token = owner.token.clone();
            set.spawn(async move {
                for round in 0..ROUNDS {
                    let name = format!("set-{w}-{round}");
                    let body = Value::Array((0..N).map(|_| quick_action(&name)).collect());
                    let r = app
                        .rest(
                            Method::PUT,
                            &org_path(id, "/quick-actions"),
                            Auth::Bearer(&token),
                            Some(&body),
                        )
                        .await;
                    assert_eq!(
                        r.status.as_u16(),
                        200,
                        "concurrent PUT: {} {}",
                        r.status,
                        r.text
                    );
                    let got = check_complete(&r.json, "PUT response");
                    assert_eq!(got, name, "the PUT answers its own list");
                }
            });
        }
        for _ in 0..READERS {
            let app = app.clone();
            let token = owner.token.clone();
            set.spawn(async move {
                for _ in 0..READS {
                    let r = app
                        .get(&org_path(id, "/quick-actions"), Auth::Bearer(&token))
                        .await;
                    assert_eq!(
                        r.status.as_u16(),
                        200,
                        "concurrent GET: {} {}",
                        r.status,
                        r.text
                    );
                    check_complete(&r.json, "concurrent GET");
                }
            });
        }
        while let Some(res) = set.join_next().await {
            if let Err(e) = res {
                std::panic::resume_unwind(e.into_panic());
            }
        }
        let last = app.quick_actions(&owner.token, id).await;
        let name = check_complete(&last, "final GET");
        assert!(
            name.starts_with("set-") && name != "set-init",
            "a writer's list won: {name}"
        );
        assert_quick_action_shape(&last[0], id);
    })
    .await;
}
