//! Health and reflection (v1 and v1alpha).

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_reports_serving() {
    use tonic_health::pb::HealthCheckRequest;
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::health_client::HealthClient;
    for_each_backend(|app| async move {
        let mut health = HealthClient::new(app.channel().await);
        let reply = health
            .check(HealthCheckRequest {
                service: String::new(),
            })
            .await
            .expect("Health/Check needs no token")
            .into_inner();
        assert_eq!(reply.status(), ServingStatus::Serving);

        let unknown = health
            .check(HealthCheckRequest {
                service: "no.such.Service".into(),
            })
            .await;
        assert_code(unknown, tonic::Code::NotFound);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reflection_lists_the_services() {
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    for_each_backend(|app| async move {
        let mut client = ServerReflectionClient::new(app.channel().await);
        let requests = vec![
            ServerReflectionRequest {
                host: String::new(),
                message_request: Some(MessageRequest::ListServices(String::new())),
            },
            ServerReflectionRequest {
                host: String::new(),
                message_request: Some(MessageRequest::FileContainingSymbol(
                    "orgd.v1.OrganizationService".into(),
                )),
            },
        ];
        let mut stream = client
            .server_reflection_info(tokio_stream::iter(requests))
            .await
            .expect("ServerReflectionInfo needs no token")
            .into_inner();

        let first = stream
            .message()
            .await
            .unwrap()
            .expect("a ListServices reply");
        let names: Vec<String> = match first.message_response {
            Some(MessageResponse::ListServicesResponse(list)) => {
                list.service.into_iter().map(|s| s.name).collect()
            }
            other => panic!("expected ListServicesResponse, got {other:?}"),
        };
        for expected in [
            "orgd.v1.OrganizationService",
            "orgd.v1.MembershipService",
            "orgd.v1.BillingService",
        ] {
            assert!(
                names.iter().any(|n| n == expected),
                "reflection lists {expected}: {names:?}"
            );
        }

        let second = stream.message().await.unwrap().expect("a file reply");
        match second.message_response {
            Some(MessageResponse::FileDescriptorResponse(files)) => {
                assert!(!files.file_descriptor_proto.is_empty());
                let decoded: Vec<prost_types::FileDescriptorProto> = files
                    .file_descriptor_proto
                    .iter()
                    .map(|b| prost_types::FileDescriptorProto::decode(b.as_slice()).unwrap())
                    .collect();
                assert!(
                    decoded
                        .iter()
                        .any(|f| f.service.iter().any(|s| s.name() == "OrganizationService")),
                    "the file declares OrganizationService"
                );
            }
            other => panic!("expected FileDescriptorResponse, got {other:?}"),
        }
    })
    .await;
}

/// The stock grpcio-reflection and older grpcurl clients ask v1alpha.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reflection_v1alpha_lists_the_services() {
    use tonic_reflection::pb::v1alpha::ServerReflectionRequest;
    use tonic_reflection::pb::v1alpha::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1alpha::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1alpha::server_reflection_response::MessageResponse;
    for_each_backend(|app| async move {
        let mut client = ServerReflectionClient::new(app.channel().await);
        let requests = vec![
            ServerReflectionRequest {
                host: String::new(),
                message_request: Some(MessageRequest::ListServices(String::new())),
            },
            ServerReflectionRequest {
                host: String::new(),
                message_request: Some(MessageRequest::FileContainingSymbol(
                    "orgd.v1.MembershipService".into(),
                )),
            },
        ];
        let mut stream = client
            .server_reflection_info(tokio_stream::iter(requests))
            .await
            .expect("v1alpha ServerReflectionInfo is served")
            .into_inner();
        let first = stream
            .message()
            .await
            .unwrap()
            .expect("a ListServices reply");
        let names: Vec<String> = match first.message_response {
            Some(MessageResponse::ListServicesResponse(list)) => {
                list.service.into_iter().map(|s| s.name).collect()
            }
            other => panic!("expected ListServicesResponse, got {other:?}"),
        };
        for expected in ["orgd.v1.OrganizationService", "grpc.health.v1.Health"] {
            assert!(
                names.iter().any(|n| n == expected),
                "v1alpha reflection lists {expected}: {names:?}"
            );
        }
        let second = stream.message().await.unwrap().expect("a file reply");
        match second.message_response {
            Some(MessageResponse::FileDescriptorResponse(files)) => {
                let declares = files.file_descriptor_proto.iter().any(|b| {
                    prost_types::FileDescriptorProto::decode(b.as_slice())
                        .unwrap()
                        .service
                        .iter()
                        .any(|s| s.name() == "MembershipService")
                });
                assert!(declares, "the file declares MembershipService");
            }
            other => panic!("expected FileDescriptorResponse, got {other:?}"),
        }
    })
    .await;
}
