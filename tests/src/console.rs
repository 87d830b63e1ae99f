//! Helpers for console tests: a cookie-keeping HTTP client that does not follow redirects, and
//! setting staff passwords the way an operator would (`admin set-password`).

use std::collections::BTreeMap;
use std::sync::Mutex;

use reqwest::StatusCode;
use reqwest::header::{COOKIE, HeaderMap, LOCATION, SET_COOKIE};

use crate::{Staff, TestApp};

/// A password long enough for the console's rule.
pub const PASSWORD: &str = "a long enough password";

impl TestApp {
    /// Gives a staff member a console password through `sotto-server admin set-password`.
    pub async fn set_password(&self, staff: &Staff, password: &str) {
        let (ok, out) = self
            .admin_cli(sotto_server::cli::Admin::SetPassword {
                email: staff.email.clone(),
                password: Some(password.into()),
            })
            .await;
        assert!(ok, "set-password failed: {out}");
    }
}

/// One browser-like session against the console, over plain HTTP.
pub struct ConsoleClient {
    base: String,
    http: reqwest::Client,
    cookies: Mutex<BTreeMap<String, String>>,
}

/// What a console request answered.
pub struct Page {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Page {
    /// Where a redirect points.
    pub fn location(&self) -> Option<&str> {
        self.headers.get(LOCATION).and_then(|v| v.to_str().ok())
    }

    /// The first hidden `csrf` field's value.
    pub fn csrf(&self) -> String {
        hidden(&self.body, "csrf").expect("the page has a form with a csrf field")
    }
}

/// The value of the first `<input ... name="NAME" value="...">` in `html`.
pub fn hidden(html: &str, name: &str) -> Option<String> {
    let at = html.find(&format!("name=\"{name}\" value=\""))?;
    let rest = &html[at + name.len() + 15..];
    Some(rest[..rest.find('"')?].to_string())
}

impl ConsoleClient {
    pub fn new(app: &TestApp) -> ConsoleClient {
        ConsoleClient {
            base: format!("http://{}", app.addr),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            cookies: Mutex::new(BTreeMap::new()),
        }
    }

    /// The cookie header this client would send (to replay it later).
    pub fn cookie_header(&self) -> String {
        self.cookies
            .lock()
            .unwrap()
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub fn set_cookie_header(&self, header: &str) {
        let mut jar = self.cookies.lock().unwrap();
        jar.clear();
        for pair in header.split("; ").filter(|p| !p.is_empty()) {
            if let Some((k, v)) = pair.split_once('=') {
                jar.insert(k.into(), v.into());
            }
        }
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Page {
        let cookie = self.cookie_header();
        let req = if cookie.is_empty() {
            req
        } else {
            req.header(COOKIE, cookie)
        };
        let res = req.send().await.expect("request sent");
        let status = res.status();
        let headers = res.headers().clone();
        {
            let mut jar = self.cookies.lock().unwrap();
            for v in headers.get_all(SET_COOKIE) {
                let v = v.to_str().unwrap();
                let (k, val) = v.split(';').next().unwrap().split_once('=').unwrap();
                if val.is_empty() || v.contains("Max-Age=0") {
                    jar.remove(k);
                } else {
                    jar.insert(k.into(), val.into());
                }
            }
        }
        Page {
            status,
            headers,
            body: res.text().await.expect("body"),
        }
    }

    pub async fn get(&self, path: &str) -> Page {
        self.send(self.http.get(format!("{}{path}", self.base)))
            .await
    }

    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> Page {
        self.send(self.http.post(format!("{}{path}", self.base)).form(form))
            .await
    }

    /// Signs in through the form (CSRF cookie and field included); returns the answer.
    pub async fn sign_in(&self, email: &str, password: &str) -> Page {
        let form = self.get("/console/sign-in").await;
        let csrf = form.csrf();
        self.post(
            "/console/sign-in",
            &[("email", email), ("password", password), ("csrf", &csrf)],
        )
        .await
    }

    /// Signs in and asserts it worked.
    pub async fn signed_in(app: &TestApp, staff: &Staff) -> ConsoleClient {
        let c = ConsoleClient::new(app);
        let res = c.sign_in(&staff.email, PASSWORD).await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
        c
    }
}
