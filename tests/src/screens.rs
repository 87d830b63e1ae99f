//! Pages as people see them on real screens: each page is checked in headless Chromium at a
//! desktop, a phone and a zoomed (320 px) width — nothing wider than the window, every control
//! at least 24×24 px (WCAG 2.2 target size), no axe-core violation at WCAG 2.1 AA (and 2.2's
//! target size) — and its HTML, as the server sent it, is checked by the Nu Html Checker.
//!
//! axe-core and vnu-jar come from npm (`tests/browser-tools/package.json` and its lockfile),
//! installed by `scripts/test` (`npm ci`); vnu-jar runs with `java`.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use fantoccini::Client;
use serde_json::{Value, json};

use crate::browser::Browser;

/// Desktop, phone, and a desktop at 400% zoom (WCAG 1.4.10 Reflow: 320 CSS px).
pub const WIDTHS: [u32; 3] = [1280, 390, 320];

fn tools() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("browser-tools/node_modules")
}

fn tool(path: &str) -> PathBuf {
    let p = tools().join(path);
    assert!(
        p.exists(),
        "{} is missing: run scripts/test (it runs `npm ci --prefix tests/browser-tools`)",
        p.display()
    );
    p
}

/// Collects what each page showed and checks it; [`Screens::validate_html`] at the end runs
/// the Nu Html Checker once over every page's source.
pub struct Screens {
    axe: String,
    sources: tempfile::TempDir,
    pages: Vec<String>,
}

/// Lays out the page, then reports what a person at this width could not see or reach: the
/// document wider than the window, and controls smaller than 24×24 px (links inside a sentence
/// are exempt, WCAG 2.5.8's inline exception, as are controls not shown); and identifiers
/// where words belong.
const LAYOUT: &str = r#"
const problems = [];
const w = window.innerWidth;
const doc = document.documentElement;
if (doc.scrollWidth > w || document.body.scrollWidth > w) {
  const wide = [...document.querySelectorAll('body *')]
    .filter((e) => e.getBoundingClientRect().right > w + 0.5 && !e.parentElement.closest('.scroll'))
    .slice(0, 8).map((e) => `${e.tagName.toLowerCase()}.${e.className} (${Math.round(e.getBoundingClientRect().right)})`);
  problems.push(`page is ${doc.scrollWidth}px wide in a ${w}px window: ${wide.join(', ')}`);
}
const inSentence = (a) => [...a.parentElement.childNodes]
  .some((n) => n !== a && n.nodeType === 3 && n.textContent.trim());
for (const el of document.querySelectorAll('button, input, select, textarea, summary, a[href]')) {
  if (el.type === 'hidden' || el.closest('.visually-hidden')) continue;
  if (el.tagName === 'A' && inSentence(el)) continue;
  const r = el.getBoundingClientRect();
  if (r.width === 0 && r.height === 0) continue;
  if (r.width < 24 || r.height < 24)
    problems.push(`${el.tagName.toLowerCase()} "${(el.id || el.name || el.textContent).trim().slice(0, 30)}" is ${Math.round(r.width)}x${Math.round(r.height)}px`);
}
// Words, not identifiers: no snake_case name (a medicine's API name, a field's) in what is
// read, outside credentials shown to be copied; a date picker's label states no format the
// browser's own display could contradict.
const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
for (let n = walker.nextNode(); n; n = walker.nextNode()) {
  if (n.parentElement.closest('.secret, pre, code, dd, script, style')) continue;
  const m = n.textContent.match(/\b[a-z]+_[a-z_]+\b/);
  if (m) problems.push(`identifier "${m[0]}" in the text`);
}
for (const el of document.querySelectorAll('input[type=date]')) {
  for (const l of el.labels) if (/YYYY|DD|MM/i.test(l.textContent)) problems.push(`date label "${l.textContent}"`);
}
return problems;
"#;

impl Screens {
    pub fn new() -> Screens {
        let axe = std::fs::read_to_string(tool("axe-core/axe.min.js")).expect("axe-core");
        Screens {
            axe,
            sources: tempfile::tempdir().expect("a folder for page sources"),
            pages: Vec::new(),
        }
    }

    /// Checks the page the browser shows now, at every width, and keeps `source` (what the
    /// server sent for it) for the HTML check. Leaves the window at the first width.
    pub async fn check(&mut self, b: &Browser, name: &str, source: String) {
        let c = &b.client;
        // What a person can open is checked open (the counter's week and reference card).
        c.execute(
            "for (const d of document.querySelectorAll('details')) d.open = true;",
            vec![],
        )
        .await
        .unwrap();
        for width in WIDTHS {
            set_width(c, width).await;
            let problems = c.execute(LAYOUT, vec![]).await.unwrap();
            assert_eq!(problems, json!([]), "{name} at {width} px");
            self.axe(c, name, width).await;
        }
        set_width(c, WIDTHS[0]).await;
        let file = format!("{:02}-{}.html", self.pages.len(), slug(name));
        std::fs::write(self.sources.path().join(file), source).unwrap();
        self.pages.push(name.to_string());
    }

    /// Every page source kept, by name (each file named to vnu, so none goes unchecked).
    fn files(&self) -> Vec<PathBuf> {
        (0..self.pages.len())
            .map(|i| {
                self.sources
                    .path()
                    .join(format!("{i:02}-{}.html", slug(&self.pages[i])))
            })
            .collect()
    }

    async fn axe(&self, c: &Client, name: &str, width: u32) {
        c.execute(&self.axe, vec![]).await.expect("axe-core loads");
        let violations = c
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 axe.run(document, {runOnly: {type: 'tag',
                     values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa']},
                   resultTypes: ['violations']})
                   .then((r) => done(r.violations.map((v) => ({id: v.id, help: v.help,
                     nodes: v.nodes.slice(0, 3).map((n) => n.html.slice(0, 160))}))))
                   .catch((e) => done([{id: 'axe failed', help: String(e)}]));",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(
            violations,
            json!([]),
            "axe-core on {name} at {width} px: {violations:#}"
        );
    }

    /// Runs the Nu Html Checker over every page kept; any error fails, naming page and line.
    pub fn validate_html(&self) {
        assert!(!self.pages.is_empty(), "no pages were checked");
        let out = Command::new("java")
            .arg("-jar")
            .arg(tool("vnu-jar/build/dist/vnu.jar"))
            .args(["--format", "json", "--errors-only", "--exit-zero-always"])
            .args(self.files())
            .output()
            .expect("java runs (apt-get install default-jre-headless; scripts/test does)");
        let text = String::from_utf8_lossy(&out.stderr).to_string()
            + &String::from_utf8_lossy(&out.stdout);
        let start = text
            .find('{')
            .unwrap_or_else(|| panic!("no vnu report: {text}"));
        let report: Value = serde_json::from_str(text[start..].trim()).expect("vnu's JSON");
        let errors: Vec<String> = report["messages"]
            .as_array()
            .expect("messages")
            .iter()
            .filter(|m| m["type"] == "error" || m["subType"] == "fatal")
            .map(|m| {
                format!(
                    "{} line {}: {} [{}]",
                    m["url"]
                        .as_str()
                        .unwrap_or("?")
                        .rsplit('/')
                        .next()
                        .unwrap_or("?"),
                    m["lastLine"],
                    m["message"].as_str().unwrap_or(""),
                    m["extract"].as_str().unwrap_or("")
                )
            })
            .collect();
        assert!(
            errors.is_empty(),
            "the Nu Html Checker found errors in {} pages:\n{}",
            self.pages.len(),
            errors.join("\n")
        );
    }
}

impl Default for Screens {
    fn default() -> Self {
        Screens::new()
    }
}

fn slug(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

/// Makes the page's viewport `width` CSS px wide (the window's outer size is set, then
/// corrected by what the page reports), and waits for the layout to settle.
pub async fn set_width(c: &Client, width: u32) {
    let mut outer = width;
    for _ in 0..4 {
        c.set_window_size(outer, 900).await.unwrap();
        let inner = c
            .execute("return window.innerWidth;", vec![])
            .await
            .unwrap()
            .as_u64()
            .unwrap() as u32;
        if inner == width {
            return;
        }
        outer = (i64::from(outer) + i64::from(width) - i64::from(inner)).max(100) as u32;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let inner = c
        .execute("return window.innerWidth;", vec![])
        .await
        .unwrap();
    panic!("could not make the window {width} px wide (it is {inner})");
}

/// What the server sent for the page the browser is on (fetched again; GET pages only).
pub async fn source(c: &Client) -> String {
    let v = c
        .execute_async(
            "const done = arguments[arguments.length - 1];
             fetch(location.href, {credentials: 'same-origin'}).then((r) => r.text()).then(done);",
            vec![],
        )
        .await
        .unwrap();
    v.as_str().expect("page source").to_string()
}

/// What the server answers when the form matching `css` is posted as it stands (for previews
/// and refusals, which change nothing), without leaving the page.
pub async fn source_of_post(c: &Client, css: &str) -> String {
    let v = c
        .execute_async(
            "const [css, done] = arguments; const f = document.querySelector(css);
             fetch(f.action, {method: 'POST', credentials: 'same-origin',
                              body: new URLSearchParams(new FormData(f))})
               .then((r) => r.text()).then(done);",
            vec![json!(css)],
        )
        .await
        .unwrap();
    v.as_str().expect("answer source").to_string()
}
