//! The toy app of the crate's tests: its protos (`tests/proto/toy`), two surfaces, a host,
//! and an echo service answering in real gRPC frames, served with the transcoder in front
//! on a real port.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::{Arc, LazyLock};

use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use bytes::{BufMut, Bytes};
use http::{StatusCode, header};
use http_body_util::BodyExt;
use orgd_transcode::{
    Annotations, Dialect, FieldNaming, Host, Options, RequestContext, RestError, Transcoder,
    Violation,
};
use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage, Value as PValue};
use serde_json::{Value, json};

pub static POOL: LazyLock<DescriptorPool> = LazyLock::new(|| {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/proto");
    let files = ["toy/options.proto", "toy/v1/toy.proto"];
    let mut compiler = protox::Compiler::new([dir]).expect("proto dir");
    compiler.include_imports(true);
    compiler.open_files(files).expect("toy protos compile");
    DescriptorPool::decode(compiler.encode_file_descriptor_set().as_slice()).expect("pool")
});

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Toy {
    /// `{"code": <http status>, "message", "fields": [...]}`, JSON names.
    Plain,
    /// `{"error": <reason>}`, proto names, a bad path value is 404.
    Other,
}

impl Dialect for Toy {
    fn all() -> Vec<Toy> {
        vec![Toy::Plain, Toy::Other]
    }
    fn from_option(number: i32) -> Toy {
        if number == 2 { Toy::Other } else { Toy::Plain }
    }
    fn naming(self) -> FieldNaming {
        match self {
            Toy::Plain => FieldNaming::JsonName,
            Toy::Other => FieldNaming::ProtoName,
        }
    }
    fn bad_path_status(self) -> StatusCode {
        match self {
            Toy::Plain => StatusCode::BAD_REQUEST,
            Toy::Other => StatusCode::NOT_FOUND,
        }
    }
    fn error_body(self, err: &RestError, status: StatusCode) -> Value {
        match self {
            Toy::Plain => json!({
                "code": status.as_u16(),
                "message": err.message,
                "fields": err.issues.iter().map(|i| json!({
                    "in": i.location.as_str(), "path": i.path, "kind": i.kind,
                })).collect::<Vec<_>>(),
            }),
            Toy::Other => json!({"error": err.reason}),
        }
    }
    fn error_schema_name(self) -> String {
        format!("toy.{self:?}Error")
    }
    fn error_schema(self) -> Value {
        json!({"type": "object"})
    }
}

/// Put on a request by the toy's auth layer when it has an `Authorization` header.
#[derive(Clone, Copy)]
pub struct Authed;

/// The toy's bound on every request string.
pub const MAX_CHARS: usize = 40;

pub struct ToyHost;

impl Host for ToyHost {
    fn authenticated(&self, extensions: &http::Extensions) -> bool {
        extensions.get::<Authed>().is_some()
    }
    fn violations(&self, message: &DynamicMessage) -> Vec<Violation> {
        message
            .fields()
            .filter_map(|(f, v)| match v {
                PValue::String(s) if s.chars().count() > MAX_CHARS => Some(Violation {
                    field: f.name().to_string(),
                    description: format!("at most {MAX_CHARS} characters"),
                }),
                _ => None,
            })
            .collect()
    }
    fn max_string_chars(&self) -> Option<usize> {
        Some(MAX_CHARS)
    }
}

pub fn options() -> Options {
    Options {
        annotations: Annotations {
            surface: "toy.surface".into(),
            success_code: "toy.success_code".into(),
            created_when: "toy.created_when".into(),
            public: "toy.public".into(),
            header: "toy.header".into(),
            zero_when_unset: String::new(),
            stream_id: "toy.stream_id".into(),
            stream_heartbeat: "toy.stream_heartbeat".into(),
        },
        max_body_bytes: 1024,
        max_bytes_body_bytes: 4096,
        max_response_bytes: 64 * 1024,
        aliases: Vec::new(),
    }
}

fn frame(message: &DynamicMessage) -> Bytes {
    let mut out = Vec::new();
    out.put_u8(0);
    out.put_u32(message.encoded_len() as u32);
    message.encode(&mut out).expect("Vec grows");
    out.into()
}

fn grpc_response(body: Bytes, status: i32, message: &str) -> Response {
    let mut r = Response::new(Body::from(body));
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, "application/grpc".parse().unwrap());
    h.insert("grpc-status", status.to_string().parse().unwrap());
    if !message.is_empty() {
        h.insert("grpc-message", message.replace(' ', "%20").parse().unwrap());
    }
    r
}

/// The toy's gRPC service: decodes the request frame and answers from it.
async fn echo(req: Request) -> Response {
    let path = req.uri().path().to_string();
    let url = req
        .extensions()
        .get::<RequestContext>()
        .and_then(|c| c.url.clone())
        .unwrap_or_default();
    let (service, method) = path[1..].split_once('/').expect("gRPC path");
    let method = POOL
        .get_service_by_name(service)
        .and_then(|s| s.methods().find(|m| m.name() == method))
        .expect("a toy method");
    let data = req.into_body().collect().await.unwrap().to_bytes();
    let input = DynamicMessage::decode(method.input(), &data[5..]).expect("a request frame");
    let echo = serde_json::to_string(&input).unwrap();
    let mut out = DynamicMessage::new(method.output());
    let s = |m: &DynamicMessage, name: &str| {
        m.get_field_by_name(name)
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    };
    match method.name() {
        "WatchShelf" => return watch_shelf(input),
        "GetBook" => {
            if s(&input, "shelf") == "missing" {
                return grpc_response(Bytes::new(), 5, "no shelf missing");
            }
            let book = input.get_field_by_name("book").unwrap();
            let id = book.as_message().unwrap().get_field_by_name("id").unwrap();
            out.set_field_by_name("id", id.into_owned());
            out.set_field_by_name("echo", PValue::String(echo));
            out.set_field_by_name("url", PValue::String(url));
        }
        "CreateBook" => {
            out = input
                .get_field_by_name("book")
                .unwrap()
                .as_message()
                .unwrap()
                .clone();
            out.set_field_by_name("echo", PValue::String(echo));
        }
        "PutBook" => {
            let mut book = DynamicMessage::new(POOL.get_message_by_name("toy.v1.Book").unwrap());
            book.set_field_by_name("title", PValue::String(s(&input, "title")));
            book.set_field_by_name("echo", PValue::String(echo));
            out.set_field_by_name("book", PValue::Message(book));
            out.set_field_by_name("created", PValue::Bool(s(&input, "id") == "new"));
        }
        "DeleteBook" => {}
        "GetCover" => {
            out.set_field_by_name("content_type", PValue::String("image/png".into()));
            out.set_field_by_name("data", PValue::Bytes(Bytes::from_static(b"PNG")));
        }
        "Token" => {
            let token = format!("t-{}", s(&input, "client_id"));
            out.set_field_by_name("access_token", PValue::String(token));
        }
        "GetThing" => {
            out.set_field_by_name("id", PValue::String(s(&input, "id")));
            out.set_field_by_name("echo", PValue::String(echo));
        }
        other => panic!("toy method {other}"),
    }
    grpc_response(frame(&out), 0, "")
}

pub fn transcoder(options: &Options) -> Transcoder<Toy> {
    let grpc = axum::Router::new().fallback(echo);
    Transcoder::new(&POOL, grpc, options, Arc::new(ToyHost))
}

/// The transcoder in front of the echo service on a port of its own; the toy's auth layer
/// marks requests with an `Authorization` header.
pub async fn serve(options: Options) -> SocketAddr {
    let transcoder = transcoder(&options);
    let app = axum::Router::new().fallback(move |mut req: Request| {
        let transcoder = transcoder.clone();
        async move {
            if req.headers().contains_key(header::AUTHORIZATION) {
                req.extensions_mut().insert(Authed);
            }
            transcoder.handle(req).await
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// Streams the toy watch ended by a client going away, so far.
pub static WATCHES_CANCELLED: std::sync::atomic::AtomicUsize =
    std::sync::atomic::AtomicUsize::new(0);

/// A response body fed from a channel: frames as the service sends them.
struct ChannelBody(tokio::sync::mpsc::Receiver<http_body::Frame<Bytes>>);

impl http_body::Body for ChannelBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;
    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        self.0.poll_recv(cx).map(|f| f.map(Ok))
    }
}

/// The toy's server stream: `count` events after `after` (a heartbeat after the first),
/// then its status in trailers, or heartbeats until the client goes away.
fn watch_shelf(input: DynamicMessage) -> Response {
    let get = |name: &str| input.get_field_by_name(name).unwrap().into_owned();
    if get("shelf").as_str() == Some("missing") {
        return grpc_response(Bytes::new(), 5, "no shelf missing");
    }
    let after = get("after").as_i64().unwrap();
    let count = get("count").as_i32().unwrap() as i64;
    let fail = get("fail").as_bool().unwrap();
    let forever = get("forever").as_bool().unwrap();
    let output = POOL
        .get_message_by_name("toy.v1.WatchShelfResponse")
        .unwrap();
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tokio::spawn(async move {
        let message = |field: &str, value: Option<DynamicMessage>| {
            let mut m = DynamicMessage::new(output.clone());
            let kind = output.get_field_by_name(field).unwrap();
            let inner = value
                .unwrap_or_else(|| DynamicMessage::new(kind.kind().as_message().unwrap().clone()));
            m.set_field(&kind, PValue::Message(inner));
            http_body::Frame::data(frame(&m))
        };
        let event_desc = POOL.get_message_by_name("toy.v1.ShelfEvent").unwrap();
        for (i, position) in (after + 1..=after + count).enumerate() {
            let mut event = DynamicMessage::new(event_desc.clone());
            event.set_field_by_name("position", PValue::I64(position));
            event.set_field_by_name("title", PValue::String(format!("line\nbreak {position}")));
            if tx.send(message("event", Some(event))).await.is_err() {
                return;
            }
            if i == 0 && tx.send(message("heartbeat", None)).await.is_err() {
                return;
            }
        }
        if forever {
            loop {
                if tx.send(message("heartbeat", None)).await.is_err() {
                    WATCHES_CANCELLED.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    return;
                }
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        }
        let mut trailers = http::HeaderMap::new();
        if fail {
            trailers.insert("grpc-status", "8".parse().unwrap());
            trailers.insert("grpc-message", "too%20slow".parse().unwrap());
        } else {
            trailers.insert("grpc-status", "0".parse().unwrap());
        }
        let _ = tx.send(http_body::Frame::trailers(trailers)).await;
    });
    let mut r = Response::new(Body::new(ChannelBody(rx)));
    r.headers_mut()
        .insert(header::CONTENT_TYPE, "application/grpc".parse().unwrap());
    r
}
