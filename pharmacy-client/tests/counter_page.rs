//! The counter page: finding a person, a discreet code, escaping, and the API's errors.

mod common;

use std::time::Duration;

use common::{assert_discreet, connected, person, snapshot};
use sotto_domain::HoldKind::{Attend, Safety};

/// A client holding three people: one under code D, one under E, one with a hostile name.
async fn counter_with_people() -> (common::TestClient, common::FakeServer, tempfile::TempDir) {
    let (client, server, dir) = connected(Duration::from_secs(900)).await;
    let id = server.pharmacy_id.clone();
    let mut hostile = person("u3", "SU-3", "<script>alert('x')</script>", 60, &[]);
    hostile.given_name = "\"><b>Bo".into();
    let people = vec![
        person("u1", "SU-1042", "Smith", 60, &[Attend]),
        person("u2", "SU-2", "O'Neill", 60, &[Safety]),
        hostile,
    ];
    server.send(snapshot(1, &id, people)).await;
    client.wait_for_code("SU-3", "A").await;
    (client, server, dir)
}

#[tokio::test]
async fn a_person_is_found_by_reference_and_shown_a_discreet_code() {
    let (client, _server, _dir) = counter_with_people().await;
    let (status, html) = client.get("/?reference=su-1042").await;
    assert_eq!(status, 200);
    assert!(html.contains("<html lang=\"en\">") && html.contains("name=\"viewport\""));
    assert!(
        html.contains("Sam Smith") && html.contains("12 Apr 1985"),
        "{html}"
    );
    assert!(html.contains("data-code=\"D\""), "{html}");
    assert!(html.contains("contact their service"), "{html}");
    assert!(
        html.contains("0161 496 0000"),
        "the service phone is shown with D"
    );
    assert!(!html.contains("class=\"stale\""));
    assert_discreet(&html);

    let (_, html) = client.get("/?reference=SU-2").await;
    assert!(html.contains("data-code=\"E\""), "{html}");
    assert_discreet(&html);
    client.stop().await;
}

#[tokio::test]
async fn a_person_is_found_by_family_name_and_date_of_birth() {
    let (client, _server, _dir) = counter_with_people().await;
    let (_, html) = client
        .get("/?family_name=smith&date_of_birth=1985-04-12")
        .await;
    assert!(
        html.contains("Sam Smith") && html.contains("data-code=\"D\""),
        "{html}"
    );
    let (_, html) = client
        .get("/?family_name=O%27NEILL&date_of_birth=12%2F04%2F1985")
        .await;
    assert!(html.contains("data-code=\"E\""), "{html}");
    let (_, html) = client
        .get("/?family_name=Smith&date_of_birth=1990-01-01")
        .await;
    assert!(
        html.contains("No one found with that name and date of birth"),
        "{html}"
    );
    assert!(!html.contains("data-code"));
    client.stop().await;
}

#[tokio::test]
async fn names_from_data_are_escaped() {
    let (client, _server, _dir) = counter_with_people().await;
    let (_, html) = client.get("/?reference=SU-3").await;
    assert!(
        html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"),
        "{html}"
    );
    assert!(html.contains("&quot;&gt;&lt;b&gt;Bo"), "{html}");
    assert!(
        !html.contains("<script>") && !html.contains("<b>"),
        "{html}"
    );
    assert!(html.contains("data-code=\"A\"") && html.contains("Supervised dose today: 60 mg"));
    // What was typed is escaped too.
    let (_, html) = client.get("/?reference=%22%3E%3Ci%3E").await;
    assert!(
        !html.contains("<i>") && html.contains("No one found with that reference"),
        "{html}"
    );
    client.stop().await;
}

#[tokio::test]
async fn the_page_has_a_reference_card_and_works_without_a_search() {
    let (client, _server, _dir) = counter_with_people().await;
    let (status, html) = client.get("/").await;
    assert_eq!(status, 200);
    assert!(html.contains("<details>") && html.contains("<label for=\"reference\">"));
    for code in ["<dt>A</dt>", "<dt>D</dt>", "<dt>F</dt>"] {
        assert!(
            html.contains(code),
            "{code} missing from the reference card"
        );
    }
    assert!(!html.contains("<script"), "no JavaScript needed");
    assert_discreet(&html);
    client.stop().await;
}

#[tokio::test]
async fn the_status_api_answers_problems_plainly() {
    let (client, _server, _dir) = counter_with_people().await;
    let (status, body) = client.json("/api/status").await;
    assert_eq!(status, 400);
    assert!(
        body["detail"].as_str().unwrap().contains("reference"),
        "{body}"
    );
    assert_eq!(body["errors"][0]["field"], "reference");
    let (status, body) = client.status("SU-404").await;
    assert_eq!(status, 404);
    assert_eq!(body["status"], 404);
    let (_, body) = client.status("SU-1042").await;
    assert_eq!(body["code"], "D");
    assert_eq!(body["reference"], "SU-1042");
    assert!(
        body["meaning"]
            .as_str()
            .unwrap()
            .contains("contact their service")
    );
    assert!(body.get("given_name").is_none() && body.get("family_name").is_none());
    client.stop().await;
}

#[tokio::test]
async fn the_code_is_read_out_as_a_code_and_the_not_supplying_choice_has_a_label() {
    let (client, _server, _dir) = counter_with_people().await;
    let (_, html) = client.get("/?reference=SU-3").await;
    // No aria-label on a role-less element: the letter is text, with "Code" for screen readers.
    assert!(!html.contains("aria-label"), "{html}");
    assert!(
        html.contains("<p class=\"code\"><span class=\"visually-hidden\">Code </span>"),
        "{html}"
    );
    let select = html
        .find("<select id=\"")
        .expect("a reason choice under code A");
    let id = &html[select + 12..];
    let id = &id[..id.find('"').unwrap()];
    assert!(
        html.contains(&format!(
            "<label for=\"{id}\">Not supplying today: why?</label>"
        )),
        "{html}"
    );
    client.stop().await;
}
