//! The web pages in a real headless Chromium (Debian's `chromium`, driven
//! through `chromedriver`'s WebDriver HTTP API) against the real `deckhand
//! serve` with a temporary database and the render executor: sign in, search
//! the catalogue, open authentik and see its graph, chat "install redis",
//! confirm, and watch the intent complete. Screenshots of each page are kept
//! under `target/browser-screenshots/`. Skipped with a message when Chromium
//! or chromedriver is missing; a failure under `DECKHAND_CI=1`.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use common::server::{ADMIN_TOKEN, Server};
use serde_json::{Value, json};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

struct Browser {
    driver: Child,
    base: String,
    session: String,
    client: reqwest::blocking::Client,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self
            .client
            .delete(format!("{}/session/{}", self.base, self.session))
            .send();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Browser {
    fn start(chromium: &str, chromedriver: &str) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let base = format!("http://127.0.0.1:{port}");
        let client = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while client.get(format!("{base}/status")).send().is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not answer");
            std::thread::sleep(Duration::from_millis(100));
        }
        let profile = tempfile::tempdir().unwrap();
        let capabilities = json!({"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
            "binary": chromium,
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                     "--disable-sync", "--disable-quic", "--no-first-run", "--window-size=1200,1000",
                     format!("--user-data-dir={}", profile.path().display())]
        }}}});
        let session: Value = client
            .post(format!("{base}/session"))
            .json(&capabilities)
            .send()
            .unwrap()
            .json()
            .unwrap();
        let id = session["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {session}"))
            .to_string();
        Self {
            driver,
            base,
            session: id,
            client,
            _profile: profile,
        }
    }

    fn call(&self, method: &str, path: &str, body: Value) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let request = match method {
            "GET" => self.client.get(url),
            _ => self.client.post(url).json(&body),
        };
        let answer: Value = request.send().unwrap().json().unwrap();
        assert!(
            answer["value"].get("error").is_none(),
            "{method} {path}: {answer}"
        );
        answer["value"].clone()
    }

    fn go(&self, url: &str) {
        self.call("POST", "/url", json!({"url": url}));
    }

    fn find(&self, css: &str) -> String {
        let found = self.call(
            "POST",
            "/element",
            json!({"using": "css selector", "value": css}),
        );
        found[ELEMENT].as_str().unwrap().to_string()
    }

    fn type_into(&self, css: &str, text: &str) {
        let element = self.find(css);
        self.call("POST", &format!("/element/{element}/clear"), json!({}));
        self.call(
            "POST",
            &format!("/element/{element}/value"),
            json!({"text": text}),
        );
    }

    fn click(&self, css: &str) {
        let element = self.find(css);
        self.call("POST", &format!("/element/{element}/click"), json!({}));
    }

    #[allow(dead_code)]
    fn source(&self) -> String {
        self.call("GET", "/source", json!(null))
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    fn text(&self, css: &str) -> String {
        let element = self.find(css);
        self.call("GET", &format!("/element/{element}/text"), json!(null))
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Waits until the page holds `marker` (navigation after a click is asynchronous).
    fn wait_for(&self, marker: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let url = format!("{}/session/{}/source", self.base, self.session);
            let page: Value = self.client.get(url).send().unwrap().json().unwrap();
            if let Some(text) = page["value"].as_str().filter(|t| t.contains(marker)) {
                return text.to_string();
            }
            assert!(
                Instant::now() < deadline,
                "the page never showed {marker:?}: {page}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn screenshot(&self, name: &str) {
        let data = self.call("GET", "/screenshot", json!(null));
        let png = base64::engine::general_purpose::STANDARD
            .decode(data.as_str().unwrap())
            .unwrap();
        let dir = common::root().join("target/browser-screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }
}

#[test]
fn sign_in_browse_chat_confirm_and_watch_it_complete() {
    let Some(chromium) = common::require_tool("chromium", "the web pages in a real browser") else {
        return;
    };
    let Some(chromedriver) =
        common::require_tool("chromedriver", "the web pages in a real browser")
    else {
        return;
    };
    let server = Server::start();
    let browser = Browser::start(chromium.to_str().unwrap(), chromedriver.to_str().unwrap());

    // The catalogue is not public by default: sign in first.
    browser.go(&server.url("/"));
    browser.wait_for("API token");
    browser.screenshot("1-sign-in");
    browser.type_into("#token", ADMIN_TOKEN);
    browser.click("#sign-in");
    browser.wait_for("<h1>Catalogue</h1>");

    browser.type_into("#q", "authentik");
    browser.click("button[type=submit]");
    // authentik itself, and the SSO stack that puts it in front of Grafana.
    browser.wait_for("2 blueprint(s)");
    assert_eq!(browser.text("#count"), "2 blueprint(s)");
    browser.screenshot("2-catalogue-search");
    browser.click("a[href='/blueprints/authentik']");
    let page = browser.wait_for("<h1>authentik</h1>");
    assert!(
        page.contains("data-release=\"authentik-postgresql\""),
        "the graph is drawn"
    );
    browser.screenshot("3-blueprint-authentik");

    browser.go(&server.url("/chat"));
    browser.wait_for("What should deckhand do?");
    browser.type_into("#message", "install redis");
    browser.click("#send");
    browser.wait_for("Shall I go ahead?");
    browser.screenshot("4-chat-plan");
    browser.click("#confirm");
    browser.wait_for("id=\"follow\"");
    browser.click("#follow");
    let page = browser.wait_for("status status-completed");
    assert!(page.contains("release redis"));
    browser.screenshot("5-intent-completed");
}
