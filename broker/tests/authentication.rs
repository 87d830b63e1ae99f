//! Who gets in: the server's authenticator decides, and client ids are bound to identities.

mod helpers;

use helpers::{Login, SERVER_CLIENT_ID, TestClient, start_broker};
use rumqttc::{ConnectReturnCode, ConnectionError};
use sotto_broker::pharmacy_client_id;

fn refusal(result: Result<(TestClient, rumqttc::ConnAck), ConnectionError>) -> ConnectReturnCode {
    match result {
        Err(ConnectionError::ConnectionRefused(code)) => code,
        Err(other) => panic!("expected a CONNACK refusal, got {other:?}"),
        Ok(_) => panic!("expected a CONNACK refusal, got a connection"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_is_refused() {
    let broker = start_broker().await;
    let login = Login {
        credentials: Some(("p1", "guess")),
        ..Login::pharmacy("p1")
    };

    let code = refusal(TestClient::try_connect(broker.local_addr(), login).await);

    assert_eq!(code, ConnectReturnCode::BadUserNamePassword);
    broker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_user_is_refused() {
    let broker = start_broker().await;
    let login = Login {
        credentials: Some(("p9", "p9-secret")),
        ..Login::pharmacy("p9")
    };

    let code = refusal(TestClient::try_connect(broker.local_addr(), login).await);

    assert_eq!(code, ConnectReturnCode::BadUserNamePassword);
    broker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_anonymous_connection_is_refused() {
    let broker = start_broker().await;
    let login = Login {
        credentials: None,
        ..Login::pharmacy("p1")
    };

    let code = refusal(TestClient::try_connect(broker.local_addr(), login).await);

    assert_eq!(code, ConnectReturnCode::NotAuthorized);
    broker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pharmacy_cannot_use_another_pharmacys_or_the_servers_client_id() {
    let broker = start_broker().await;

    let mut codes = Vec::new();
    for client_id in [
        pharmacy_client_id("p2"),
        SERVER_CLIENT_ID.to_owned(),
        "anything".into(),
    ] {
        let login = Login {
            client_id,
            ..Login::pharmacy("p1")
        };
        codes.push(refusal(
            TestClient::try_connect(broker.local_addr(), login).await,
        ));
    }

    assert_eq!(codes, vec![ConnectReturnCode::NotAuthorized; 3]);
    broker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pharmacy_may_add_a_device_suffix_to_its_client_id() {
    let broker = start_broker().await;
    let login = Login {
        client_id: format!("{}/till-2", pharmacy_client_id("p1")),
        ..Login::pharmacy("p1")
    };

    let (_client, ack) = TestClient::connect(broker.local_addr(), login).await;

    assert_eq!(ack.code, ConnectReturnCode::Success);
    broker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_last_will_on_another_pharmacys_topic_is_refused() {
    let broker = start_broker().await;
    let login = Login::pharmacy("p1").with_will("sotto/v1/pharmacy/p2/state", "forged");

    let code = refusal(TestClient::try_connect(broker.local_addr(), login).await);

    assert_eq!(code, ConnectReturnCode::NotAuthorized);
    broker.shutdown().await;
}
