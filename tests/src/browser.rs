//! Real headless Chromium, driven over WebDriver (chromedriver from Debian's `chromium-driver`),
//! for tests of pages as a person sees them.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

use crate::TestApp;

/// A chromedriver process and a browser session; both end when this is dropped.
pub struct Browser {
    pub client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    pub async fn start() -> Browser {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver is installed (apt-get install chromium chromium-driver; .ci/run does)");
        for _ in 0..300 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let profile = tempfile::tempdir().expect("profile dir");
        let mut caps = serde_json::Map::new();
        // The flags keep Chromium off the network (this machine has none) and quiet.
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": "/usr/bin/chromium",
                "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--disable-quic", "--no-first-run", "--disable-background-networking",
                         "--disable-component-update", "--disable-sync", "--window-size=1024,900",
                         format!("--user-data-dir={}", profile.path().display())]
            }),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a Chromium session");
        Browser {
            client,
            driver,
            _profile: profile,
        }
    }

    /// The text of the page's body, as a person reads it.
    pub async fn body_text(&self) -> String {
        self.client
            .find(fantoccini::Locator::Css("body"))
            .await
            .expect("a page with a body")
            .text()
            .await
            .expect("its text")
    }

    /// Clicks the first element matching `css`.
    pub async fn click(&self, css: &str) {
        self.client
            .find(fantoccini::Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css} on the page: {e}"))
            .click()
            .await
            .unwrap_or_else(|e| panic!("{css} cannot be clicked: {e}"));
    }

    /// Closes the session (Chromium exits) and stops chromedriver.
    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
    }
}

/// Signs in through the console's form, as a person types, and waits for the answer.
pub async fn sign_in(c: &Client, app: &TestApp, email: &str, password: &str) {
    c.goto(&app.url("/console/sign-in")).await.unwrap();
    c.find(Locator::Id("email"))
        .await
        .unwrap()
        .send_keys(email)
        .await
        .unwrap();
    c.find(Locator::Id("password"))
        .await
        .unwrap()
        .send_keys(password)
        .await
        .unwrap();
    // Mark this document, so we can tell when the answer to the post has replaced it (an
    // alert left from the previous attempt must not be read as this one's).
    c.execute("document.body.dataset.submitted = '1';", vec![])
        .await
        .unwrap();
    c.find(Locator::Css("main form button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    for _ in 0..200 {
        let replaced = c
            .execute(
                "return document.readyState === 'complete' && !!document.body \
                 && !document.body.dataset.submitted;",
                vec![],
            )
            .await
            .unwrap_or(json!(false));
        if replaced == json!(true) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the sign-in form's answer never loaded");
}

/// Waits until the browser is on `path` (a form post and its redirect have finished).
pub async fn wait_for_path(c: &Client, path: &str) {
    for _ in 0..200 {
        if c.current_url().await.unwrap().path() == path {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "browser did not reach {path}; it is on {}",
        c.current_url().await.unwrap()
    );
}

/// The text of the first element matching `css`, waiting up to 10 s for it to appear (a
/// clicked form's answer may still be loading).
pub async fn text(c: &Client, css: &str) -> String {
    for _ in 0..400 {
        if let Ok(e) = c.find(Locator::Css(css)).await
            && let Ok(t) = e.text().await
        {
            return t;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("no {css}");
}
