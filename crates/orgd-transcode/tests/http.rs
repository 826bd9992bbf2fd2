//! Every google.api.http feature the transcoder supports, over HTTP against the toy app.

mod toy;

use serde_json::{Value, json};

async fn get(url: String) -> (u16, Value) {
    let r = reqwest::Client::new()
        .get(url)
        .header("authorization", "yes")
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn echo(body: &Value) -> Value {
    serde_json::from_str(body["echo"].as_str().expect("an echo")).unwrap()
}

#[tokio::test]
async fn path_templates_additional_bindings_headers_and_query_by_kind() {
    let addr = toy::serve(toy::options()).await;
    let r = reqwest::Client::new()
        .get(format!(
            "http://{addr}/v1/shelves/s%201/books/7/?verbose=true&pages=3&pages=4\
             &genre=poetry&minYear=1999&page_size=5&unknown=x"
        ))
        .header("authorization", "yes")
        .header("x-tenant", "acme")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["id"], 7, "{body}");
    assert_eq!(
        echo(&body),
        json!({"shelf": "s 1", "book": {"id": "7"}, "verbose": true, "pages": [3, 4],
               "genre": "GENRE_POETRY", "minYear": "1999", "tenant": "acme", "pageSize": 5})
    );
    // The request context carries the URL the client called.
    assert!(
        body["url"].as_str().unwrap().starts_with(&format!(
            "http://{addr}/v1/shelves/s%201/books/7/?verbose=true"
        )),
        "{body}"
    );
    // The additional binding reaches the same RPC.
    let (status, body) = get(format!("http://{addr}/v1/books/8")).await;
    assert_eq!((status, &body["id"]), (200, &json!(8)));
}

#[tokio::test]
async fn bad_values_are_4xx_in_the_surface_dialect() {
    let addr = toy::serve(toy::options()).await;
    let (status, body) = get(format!("http://{addr}/v1/books/8?verbose=maybe&pages=x")).await;
    assert_eq!(status, 400, "{body}");
    let fields: Vec<&str> = body["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"][0].as_str().unwrap())
        .collect();
    // A missing header is named beside the other issues.
    assert_eq!(fields, ["verbose", "pages", "x-tenant"], "{body}");
    assert_eq!(body["fields"][0]["in"], "query");
    // A path value that does not parse: the dialect's status (400 here, 404 on Other).
    let (status, body) = get(format!("http://{addr}/v1/books/abc")).await;
    assert_eq!((status, &body["fields"][0]["in"]), (400, &json!("path")));
    // The app's bound on every value (Host::violations).
    let long = "x".repeat(toy::MAX_CHARS + 1);
    let (status, body) = get(format!("http://{addr}/v1/shelves/{long}/books/1")).await;
    assert_eq!(status, 400, "{body}");
    // A failed RPC answers the status of its code from the one table.
    let (status, body) = get(format!("http://{addr}/v1/shelves/missing/books/1")).await;
    assert_eq!(
        (status, &body["message"]),
        (404, &json!("no shelf missing"))
    );
}

#[tokio::test]
async fn bodies_success_codes_and_response_body() {
    let addr = toy::serve(toy::options()).await;
    let client = reqwest::Client::new();
    // body: "book", success code 201.
    let r = client
        .post(format!("http://{addr}/v1/shelves/a/books"))
        .header("authorization", "yes")
        .json(&json!({"id": 3, "title": "T", "genre": "novel"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        (&body["title"], &body["genre"]),
        (&json!("T"), &json!("novel"))
    );
    assert_eq!(echo(&body)["shelf"], "a");
    // body: "*" with response_body; 201 only when the response says it created.
    for (id, want) in [("new", 201), ("old", 200)] {
        let r = client
            .put(format!("http://{addr}/v1/books/{id}"))
            .header("authorization", "yes")
            .json(&json!({"title": "U"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), want, "{id}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["title"], "U");
        assert_eq!(echo(&body), json!({"id": id, "title": "U"}));
    }
    // An empty response with 204.
    let r = client
        .delete(format!("http://{addr}/v1/books/1"))
        .header("authorization", "yes")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert!(r.bytes().await.unwrap().is_empty());
    // A body over the limit is 413, before the RPC.
    let r = client
        .put(format!("http://{addr}/v1/books/1"))
        .header("authorization", "yes")
        .body(vec![b' '; 2048])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
}

#[tokio::test]
async fn http_body_is_raw_bytes_under_its_content_type() {
    let addr = toy::serve(toy::options()).await;
    let r = reqwest::Client::new()
        .get(format!("http://{addr}/v1/books/1/cover"))
        .header("authorization", "yes")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/png");
    assert_eq!(&r.bytes().await.unwrap()[..], b"PNG");
}

#[tokio::test]
async fn who_is_calling_is_checked_before_what_they_sent() {
    let addr = toy::serve(toy::options()).await;
    let client = reqwest::Client::new();
    let r = client
        .get(format!("http://{addr}/v1/books/abc"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // A public binding, with a form body read as the whole message.
    let r = client
        .post(format!("http://{addr}/v1/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials&client_id=c%201")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["accessToken"], "t-c 1");
}

#[tokio::test]
async fn unrouted_paths_answer_in_their_surface_dialect() {
    let addr = toy::serve(toy::options()).await;
    let client = reqwest::Client::new();
    let (status, body) = get(format!("http://{addr}/v1/nothing")).await;
    assert_eq!((status, &body["code"]), (404, &json!(404)));
    let r = client
        .post(format!("http://{addr}/v1/books/1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(r.headers()["allow"], "DELETE, GET, PUT");
    // The other surface, its own names and bad-path status.
    let (status, body) = get(format!("http://{addr}/other/v2/things/x?id=y")).await;
    assert_eq!((status, &body["id"]), (200, &json!("x")));
    let (status, body) = get(format!("http://{addr}/other/v2/things/x/y")).await;
    assert_eq!((status, &body["error"]), (404, &json!("NOT_FOUND")));
    // Outside every surface: plain text.
    let r = client
        .get(format!("http://{addr}/elsewhere"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(r.text().await.unwrap(), "not found\n");
}

#[tokio::test]
async fn an_alias_prefix_serves_every_binding_under_it() {
    let addr = toy::serve(toy::options().alias_prefix("/v1/", "/v1-beta/")).await;
    for path in ["shelves/s/books/7?verbose=true", "books/8", "books/1/cover"] {
        let a = reqwest::get(format!("http://{addr}/v1/{path}"))
            .await
            .unwrap();
        let b = reqwest::get(format!("http://{addr}/v1-beta/{path}"))
            .await
            .unwrap();
        assert_eq!(a.status(), b.status(), "{path}");
    }
    let (status, body) = get(format!("http://{addr}/v1-beta/books/8")).await;
    assert_eq!((status, &body["id"]), (200, &json!(8)));
    let (status, body) = get(format!("http://{addr}/v1-beta/nothing")).await;
    assert_eq!((status, &body["code"]), (404, &json!(404)));
    let r = reqwest::Client::new()
        .put(format!("http://{addr}/v1-beta/books/new"))
        .header("authorization", "yes")
        .json(&json!({"title": "U"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    // Without the alias there is no such path.
    let plain = toy::serve(toy::options()).await;
    let r = reqwest::get(format!("http://{plain}/v1-beta/books/8"))
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[test]
fn the_document_describes_every_binding_once() {
    let doc = orgd_transcode::openapi::document::<toy::Toy>(
        &toy::POOL,
        &toy::options().alias_prefix("/v1/", "/v1-beta/"),
        &toy::ToyHost,
    );
    let paths: Vec<&String> = doc["paths"].as_object().unwrap().keys().collect();
    assert_eq!(
        paths,
        [
            "/other/v2/things/{id}",
            "/v1/books/{book.id}",
            "/v1/books/{id}",
            "/v1/books/{id}/cover",
            "/v1/shelves/{shelf}/books",
            "/v1/shelves/{shelf}/books/{book.id}",
            "/v1/shelves/{shelf}/events",
            "/v1/token",
        ]
    );
    // A server-streaming binding is an event stream of its response messages.
    let watch = &doc["paths"]["/v1/shelves/{shelf}/events"]["get"]["responses"]["200"];
    let stream = &watch["content"]["text/event-stream"];
    assert_eq!(stream["schema"]["type"], "string", "{watch}");
    assert_eq!(
        stream["x-event-schema"]["$ref"],
        "#/components/schemas/toy.v1.WatchShelfResponse"
    );
    let create = &doc["paths"]["/v1/shelves/{shelf}/books"]["post"];
    assert!(create["responses"]["201"].is_object(), "{create}");
    assert_eq!(
        create["responses"]["400"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/toy.PlainError"
    );
    assert!(doc["components"]["schemas"]["toy.OtherError"].is_object());
    let book = &doc["components"]["schemas"]["toy.v1.Book"]["properties"];
    assert_eq!(book["genre"]["enum"], json!(["novel", "poetry", null]));
}
