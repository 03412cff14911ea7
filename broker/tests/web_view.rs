//! The web view (`/`) in a real headless Chromium (Debian's `chromium` and
//! `chromium-driver`, which scripts/test.sh installs), driven over WebDriver by
//! fantoccini: the page loads and goes live, a publish makes its topic and
//! count appear within 2 s, selecting the topic shows its last message, the
//! connections are listed, a phone-sized window needs no sideways
//! scrolling, and the browser logs no error. A screenshot is left in
//! `target/web-view.png` (docs/web-view.png is one).

mod common;

use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use broker::Config;
use common::wire::barrier;
use common::{start_broker_with, Raw};
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

/// How long a publish may take to show on the page.
const SHOWN_WITHIN: Duration = Duration::from_secs(2);

/// chromedriver on a free loopback port; killed on drop.
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    fn start() -> Driver {
        let program = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new(&program)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot run {program} ({e}): install Debian's chromium and chromium-driver (scripts/test.sh does)")
            });
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Driver { child, url }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// WebDriver's (Chromium's) `POST /session/{id}/se/log`: the browser's
/// console and network log since the last call.
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/se/log", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (
            http::Method::POST,
            Some(json!({ "type": "browser" }).to_string()),
        )
    }
}

async fn browser(driver: &Driver) -> Client {
    let caps = json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", "--window-size=1100,800"],
        },
        "goog:loggingPrefs": { "browser": "ALL" },
    });
    let Value::Object(caps) = caps else {
        unreachable!()
    };
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .expect("a Chromium session")
}

/// Text of the first element matching `css`, if any.
async fn text(client: &Client, css: &str) -> Option<String> {
    let element = client.find(Locator::Css(css)).await.ok()?;
    element.text().await.ok()
}

/// Waits up to `within` for the text at `css` to satisfy `ok`; returns it
/// and how long it took.
async fn wait_text(
    client: &Client,
    css: &str,
    within: Duration,
    ok: impl Fn(&str) -> bool,
) -> (String, Duration) {
    let start = Instant::now();
    loop {
        let t = text(client, css).await;
        if let Some(t) = t.filter(|t| ok(t)) {
            return (t, start.elapsed());
        }
        assert!(
            start.elapsed() < within,
            "{css} not as expected within {within:?}: {:?}",
            text(client, css).await
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The browser's log entries at `SEVERE` (console errors, failed loads).
async fn errors(client: &Client) -> Vec<Value> {
    let log = client.issue_cmd(BrowserLog).await.expect("the browser log");
    log.as_array()
        .expect("a list of entries")
        .iter()
        .filter(|e| e["level"] == "SEVERE")
        .cloned()
        .collect()
}

async fn exercise(client: &Client, lab: SocketAddr, http: SocketAddr) {
    client
        .goto(&format!("http://{http}/"))
        .await
        .expect("the page loads");
    wait_text(client, "#status", Duration::from_secs(10), |t| t == "live").await;
    // A subscriber, so the topic has one.
    let mut sub = Raw::json(lab);
    sub.subscribe("/web");
    barrier(&mut sub);
    let mut publisher = Raw::json(lab);
    publisher.publish("/web/kitchen/temp", 21.5);
    barrier(&mut publisher);
    let row = "#topics tr[data-topic='/web/kitchen/temp']";
    let (seq, took) = wait_text(
        client,
        &format!("{row} td:nth-child(2)"),
        SHOWN_WITHIN,
        |t| t == "1",
    )
    .await;
    assert_eq!(seq, "1");
    assert!(took < SHOWN_WITHIN, "shown after {took:?}");
    let subs = text(client, &format!("{row} td:nth-child(4)")).await;
    assert_eq!(subs.as_deref(), Some("1"), "its subscriber count");
    for v in [22.0, 22.5] {
        publisher.publish("/web/kitchen/temp", v);
    }
    barrier(&mut publisher);
    wait_text(
        client,
        &format!("{row} td:nth-child(2)"),
        SHOWN_WITHIN,
        |t| t == "3",
    )
    .await;
    // Its last message, once selected.
    client
        .find(Locator::Css(row))
        .await
        .expect("the topic's row")
        .click()
        .await
        .expect("a click");
    let (message, _) = wait_text(client, "#message", SHOWN_WITHIN, |t| t.starts_with("#3")).await;
    assert!(message.contains("22.5"), "{message}");
    // The connections: the subscriber and the publisher.
    let (rows, _) = wait_text(client, "#connections tbody", SHOWN_WITHIN, |t| {
        t.matches("JSONQueue").count() == 2
    })
    .await;
    assert!(rows.contains("lab"), "{rows}");
    // A phone's width: one column, nothing wider than the window.
    client.set_window_size(390, 844).await.expect("resize");
    let fits = client
        .execute(
            "return document.documentElement.scrollWidth <= window.innerWidth;",
            vec![],
        )
        .await
        .expect("a script");
    assert_eq!(
        fits,
        Value::Bool(true),
        "the page scrolls sideways on a phone"
    );
    client.set_window_size(1100, 800).await.expect("resize");
    let png = client.screenshot().await.expect("a screenshot");
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/web-view.png");
    std::fs::write(&out, png).expect("write the screenshot");
    let errors = errors(client).await;
    assert!(errors.is_empty(), "browser errors: {errors:?}");
}

#[test]
fn the_web_view_shows_a_published_topic_live_in_chromium() {
    let b = start_broker_with(Config {
        http: Some("127.0.0.1:0".parse().unwrap()),
        ..Config::default()
    });
    let http = b.http.unwrap();
    let driver = Driver::start();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let client = browser(&driver).await;
        exercise(&client, b.addr, http).await;
        client.close().await.expect("close the session");
    });
}
