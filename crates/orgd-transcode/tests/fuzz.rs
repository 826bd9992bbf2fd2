//! Property-based fuzzing of request decoding: whatever a client sends in the path, query,
//! headers and body of any binding, the transcoder never panics, and a refusal is a 4xx.

mod toy;

use std::sync::LazyLock;

use axum::body::Body;
use http::{HeaderValue, Request, header};
use orgd_transcode::Transcoder;
use orgd_transcode::binding::{Binding, bindings};
use proptest::prelude::*;
use serde_json::Value;

static BINDINGS: LazyLock<Vec<Binding<toy::Toy>>> =
    LazyLock::new(|| bindings(&toy::POOL, &toy::options()));
static TRANSCODER: LazyLock<Transcoder<toy::Toy>> =
    LazyLock::new(|| toy::transcoder(&toy::options()));
static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
});

/// Field names clients might use, so generated input reaches real fields.
fn names() -> Vec<String> {
    let mut out: Vec<String> = BINDINGS
        .iter()
        .flat_map(|b| b.input().fields().collect::<Vec<_>>())
        .flat_map(|f| [f.name().to_string(), f.json_name().to_string()])
        .collect();
    out.extend(["book.id", "book.title", "min_year"].map(String::from));
    out.sort();
    out.dedup();
    out
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        "\\PC{0,24}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(names()), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..64),
        json_value().prop_map(|v| v.to_string().into_bytes()),
    ]
}

fn query() -> impl Strategy<Value = String> {
    prop::collection::vec(
        (
            prop_oneof![prop::sample::select(names()), "[a-z_.]{1,12}"],
            "[A-Za-z0-9%+._~-]{0,16}",
        ),
        0..6,
    )
    .prop_map(|pairs| {
        pairs
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&")
    })
}

/// The binding's route with each variable replaced by a generated segment.
fn path_of(binding: &Binding<toy::Toy>, vars: &[String]) -> String {
    let mut n = 0;
    binding
        .route
        .split('/')
        .map(|segment| {
            if segment.starts_with('{') {
                n += 1;
                percent_encoding::utf8_percent_encode(
                    &vars[(n - 1) % vars.len()],
                    percent_encoding::NON_ALPHANUMERIC,
                )
                .to_string()
            } else {
                segment.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 20_000, ..ProptestConfig::default() })]

    #[test]
    fn decoding_never_panics_and_refuses_with_4xx(
        index in any::<prop::sample::Index>(),
        vars in prop::collection::vec("\\PC{1,20}", 4),
        query in query(),
        header in "[ -~]{0,40}",
        form in any::<bool>(),
        authed in any::<bool>(),
        body in body(),
    ) {
        let binding = &BINDINGS[index.index(BINDINGS.len())];
        let uri = format!("{}?{query}", path_of(binding, &vars));
        let mut req = Request::builder()
            .method(binding.http_method.clone())
            .uri(uri)
            .body(Body::from(body))
            .unwrap();
        for (name, _) in &binding.headers {
            if let Ok(v) = HeaderValue::from_str(&header) {
                req.headers_mut().insert(name.clone(), v);
            }
        }
        if form {
            req.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/x-www-form-urlencoded"),
            );
        }
        if authed {
            req.extensions_mut().insert(toy::Authed);
        }
        let response = RUNTIME.block_on(TRANSCODER.clone().handle(req));
        let status = response.status();
        prop_assert!(
            status.is_success() || status.is_client_error(),
            "{} answered {status}", binding.grpc_path
        );
    }
}
