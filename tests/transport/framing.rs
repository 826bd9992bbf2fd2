//! Framing mistakes: the client's fault, so INVALID_ARGUMENT (or UNIMPLEMENTED for a
//! compression the server does not speak), never INTERNAL.

use super::*;

/// Sends `body` as is to `path` and returns the HTTP status and the grpc-status, from the
/// headers (a trailers-only reply) or a grpc-web trailer frame; `None` when the status is
/// in HTTP/2 trailers, which only a successful call has here.
async fn raw_grpc(
    client: &reqwest::Client,
    app: &App,
    path: &str,
    content_type: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
    token: &str,
) -> (u16, Option<i32>, Vec<u8>) {
    let mut req = client
        .post(app.url(path))
        .header("content-type", content_type)
        .header("te", "trailers")
        .header("accept", content_type)
        .header("authorization", format!("Bearer {token}"))
        .body(body);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.expect("raw gRPC request");
    let http_status = resp.status().as_u16();
    let mut grpc_status = resp
        .headers()
        .get("grpc-status")
        .and_then(|v| v.to_str().ok()?.trim().parse().ok());
    let reply_type = header_str(resp.headers(), "content-type");
    let mut body = resp.bytes().await.expect("body").to_vec();
    if content_type.starts_with("application/grpc-web") {
        if reply_type.starts_with("application/grpc-web-text") {
            body = decode_web_text(std::str::from_utf8(&body).expect("base64 is text"));
        }
        let (data, trailer) = parse_frames(&body);
        let reply = WebReply {
            http_status,
            headers: reqwest::header::HeaderMap::new(),
            data,
            trailer_text: trailer,
        };
        grpc_status = grpc_status.or(reply.grpc_status());
    }
    (http_status, grpc_status, body)
}

fn with_header(flag: u8, declared: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![flag];
    out.extend_from_slice(&declared.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_framing_mistakes_are_invalid_argument_not_internal() {
    for_each_backend(|app| async move {
        let owner = app.user("framing").await;
        let id = id_of(&app.org(&owner.token, "Framed").await);
        let get = GetOrganizationRequest {
            organization_id: id,
        };
        let good = frame(&get);
        let payload = get.encode_to_vec();
        let create = CreateOrganizationRequest {
            organization: Some(Organization {
                name: "Twice".into(),
                timezone: "Europe/Berlin".into(),
                ..Default::default()
            }),
        };
        const GRPC: &str = "application/grpc";
        let invalid = 3;
        // (what, path, extra headers, body, expected grpc-status)
        type Case<'a> = (&'a str, &'a str, Vec<(&'a str, &'a str)>, Vec<u8>, i32);
        let cases: Vec<Case> = vec![
            (
                "a truncated frame header",
                GET,
                vec![],
                vec![0, 0, 0],
                invalid,
            ),
            (
                "a frame shorter than it declares",
                GET,
                vec![],
                with_header(0, 100, &payload),
                invalid,
            ),
            (
                "a frame longer than it declares",
                GET,
                vec![],
                with_header(0, 1, &payload),
                invalid,
            ),
            (
                "the compressed flag without grpc-encoding",
                GET,
                vec![],
                with_header(1, payload.len() as u32, &payload),
                invalid,
            ),
            (
                "an unknown flag",
                GET,
                vec![],
                with_header(2, payload.len() as u32, &payload),
                invalid,
            ),
            (
                "undecodable protobuf",
                GET,
                vec![],
                with_header(0, 2, &[0xff, 0xff]),
                invalid,
            ),
            (
                "undecodable protobuf for a checked message",
                CREATE,
                vec![],
                with_header(0, 3, &[0x0a, 0x05, 0x01]),
                invalid,
            ),
            ("no message at all", GET, vec![], vec![], invalid),
            (
                "two messages on a unary call",
                CREATE,
                vec![],
                [frame(&create), frame(&create)].concat(),
                invalid,
            ),
            (
                "a compression the server does not speak",
                GET,
                vec![("grpc-encoding", "snappy")],
                with_header(1, payload.len() as u32, &payload),
                12,
            ),
        ];
        for (what, path, headers, body, expected) in cases {
            let (http, status, _) =
                raw_grpc(&app.h2, &app, path, GRPC, &headers, body, &owner.token).await;
            assert_eq!(http, 200, "{what}");
            assert_eq!(status, Some(expected), "{what}");
        }
        // The second message was refused, not half-served: nothing was created.
        let listed = app
            .rest(
                Method::GET,
                "/api/v1/organizations",
                Auth::Bearer(&owner.token),
                None,
            )
            .await;
        assert_eq!(ids_of(&listed.json), [id], "{}", listed.text);

        // The well-formed call on the same path works.
        let (http, status, body) =
            raw_grpc(&app.h2, &app, GET, GRPC, &[], good.clone(), &owner.token).await;
        assert_eq!((http, status), (200, None));
        let (data, _) = parse_frames(&body);
        let got = GetOrganizationResponse::decode(data[0].as_slice()).unwrap();
        assert_eq!(got.organization.unwrap().id, id);

        // grpc-web-text whose body is not base64, over HTTP/1.1.
        let (http, status, _) = raw_grpc(
            &app.http,
            &app,
            GET,
            "application/grpc-web-text",
            &[],
            b"!!not base64!!".to_vec(),
            &owner.token,
        )
        .await;
        assert_eq!((http, status), (200, Some(invalid)));
        let text = base64::engine::general_purpose::STANDARD.encode(&good);
        let (http, status, _) = raw_grpc(
            &app.http,
            &app,
            GET,
            "application/grpc-web-text",
            &[],
            text.into_bytes(),
            &owner.token,
        )
        .await;
        assert_eq!((http, status), (200, Some(0)));
    })
    .await;
}
