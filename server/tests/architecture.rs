//! The server's shape, checked from its own source: thin adapters over one core.
//!
//! Every `crate::…`, `super::…` and `self::…` path in `server/src` is resolved to the file that
//! defines the module it names; those are the imports. Two rules follow from
//! `docs/architecture.md`:
//! - the core (`core/`) imports no adapter (`http/`, `console/`, `fhir/`, `sync/`) and nothing
//!   that composes them (`web.rs`, `app.rs`, `cli.rs`, `check.rs`, `main.rs`);
//! - no two files import each other, directly or through others (no cycle), and no two top-level
//!   modules do either.
//!
//! Run it alone with `cargo test -p sotto-server --test architecture`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The modules that face the outside world; the core must not know them.
const ADAPTERS: &[&str] = &[
    "http", "console", "fhir", "sync", "web", "app", "cli", "check", "main",
];

struct Tree {
    /// Module path (e.g. `["core", "db"]`) → the file that defines it.
    files: BTreeMap<Vec<String>, PathBuf>,
}

impl Tree {
    fn read(src: &Path) -> Tree {
        let mut files = BTreeMap::new();
        walk(src, src, &mut files);
        Tree { files }
    }

    /// The file of the deepest module that `path` names (a path may end in an item).
    fn resolve(&self, path: &[String]) -> Option<&PathBuf> {
        (1..=path.len())
            .rev()
            .find_map(|n| self.files.get(&path[..n]))
    }
}

fn walk(src: &Path, dir: &Path, files: &mut BTreeMap<Vec<String>, PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            walk(src, &path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.insert(module_of(src, &path), path);
        }
    }
}

fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap();
    let mut segs: Vec<String> = rel
        .iter()
        .map(|s| s.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if matches!(segs.last().map(String::as_str), Some("mod" | "lib")) {
        segs.pop();
    }
    segs
}

/// The code of a file without comments and without its `#[cfg(test)]` tail.
fn code_of(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(i) => &text[..i],
        None => text,
    };
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every path the code names, made absolute (from the crate root).
fn paths_in(code: &str, module: &[String], is_mod_file: bool) -> Vec<Vec<String>> {
    let bytes: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let rest: String = bytes[i..bytes.len().min(i + 7)].iter().collect();
        let starts_word = i == 0 || !(bytes[i - 1].is_alphanumeric() || bytes[i - 1] == '_');
        let base = if !starts_word {
            None
        } else if rest.starts_with("crate::") {
            Some((Vec::new(), 7))
        } else if rest.starts_with("super::") {
            // A file `a/b.rs` is module a::b: its parent is a. `mod.rs` is its folder's module.
            let mut m = module.to_vec();
            m.pop();
            let _ = is_mod_file;
            Some((m, 7))
        } else if rest.starts_with("self::") {
            Some((module.to_vec(), 6))
        } else {
            None
        };
        let Some((mut prefix, skip)) = base else {
            i += 1;
            continue;
        };
        i += skip;
        // More `super::` segments.
        loop {
            let ahead: String = bytes[i..bytes.len().min(i + 7)].iter().collect();
            if ahead == "super::" {
                prefix.pop();
                i += 7;
            } else {
                break;
            }
        }
        i = parse_tree(&bytes, i, prefix, &mut out);
    }
    out
}

/// Parses `a::b::{c, d::e}` starting at `i`, pushing every full path; returns where it ended.
fn parse_tree(b: &[char], mut i: usize, prefix: Vec<String>, out: &mut Vec<Vec<String>>) -> usize {
    let mut path = prefix;
    loop {
        let start = i;
        while i < b.len() && (b[i].is_alphanumeric() || b[i] == '_') {
            i += 1;
        }
        if i > start {
            path.push(b[start..i].iter().collect());
        }
        if i + 1 < b.len() && b[i] == ':' && b[i + 1] == ':' {
            i += 2;
            if i < b.len() && b[i] == '{' {
                i += 1;
                loop {
                    while i < b.len() && b[i].is_whitespace() {
                        i += 1;
                    }
                    if i >= b.len() || b[i] == '}' {
                        return i + 1;
                    }
                    i = parse_tree(b, i, path.clone(), out);
                    while i < b.len() && (b[i].is_whitespace() || b[i] == ',') {
                        i += 1;
                    }
                }
            }
            continue;
        }
        out.push(path);
        // Skip an `as name` rename or anything else up to the next separator.
        while i < b.len() && !matches!(b[i], ',' | '}' | ';' | '(' | ')' | '\n') {
            i += 1;
        }
        return i;
    }
}

/// file → files it imports (never itself).
fn imports(tree: &Tree) -> BTreeMap<PathBuf, BTreeSet<PathBuf>> {
    let mut graph = BTreeMap::new();
    for (module, file) in &tree.files {
        let text = std::fs::read_to_string(file).unwrap();
        let is_mod = file
            .file_name()
            .is_some_and(|n| n == "mod.rs" || n == "lib.rs");
        let mut to = BTreeSet::new();
        for path in paths_in(&code_of(&text), module, is_mod) {
            if let Some(target) = tree.resolve(&path)
                && target != file
            {
                to.insert(target.clone());
            }
        }
        graph.insert(file.clone(), to);
    }
    graph
}

/// The strongly connected components with more than one member (Tarjan).
fn cycles<T: Ord + Clone>(graph: &BTreeMap<T, BTreeSet<T>>) -> Vec<Vec<T>> {
    struct S<'a, T> {
        g: &'a BTreeMap<T, BTreeSet<T>>,
        index: BTreeMap<T, usize>,
        low: BTreeMap<T, usize>,
        stack: Vec<T>,
        on: BTreeSet<T>,
        next: usize,
        out: Vec<Vec<T>>,
    }
    fn visit<T: Ord + Clone>(s: &mut S<'_, T>, v: &T) {
        s.index.insert(v.clone(), s.next);
        s.low.insert(v.clone(), s.next);
        s.next += 1;
        s.stack.push(v.clone());
        s.on.insert(v.clone());
        for w in s.g.get(v).into_iter().flatten() {
            if !s.index.contains_key(w) {
                visit(s, w);
                let l = s.low[w].min(s.low[v]);
                s.low.insert(v.clone(), l);
            } else if s.on.contains(w) {
                let l = s.index[w].min(s.low[v]);
                s.low.insert(v.clone(), l);
            }
        }
        if s.low[v] == s.index[v] {
            let mut comp = Vec::new();
            loop {
                let w = s.stack.pop().unwrap();
                s.on.remove(&w);
                comp.push(w.clone());
                if &w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                comp.sort();
                s.out.push(comp);
            }
        }
    }
    let mut s = S {
        g: graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in graph.keys() {
        if !s.index.contains_key(v) {
            visit(&mut s, v);
        }
    }
    s.out
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn top(src: &Path, file: &Path) -> String {
    module_of(src, file)
        .first()
        .cloned()
        .unwrap_or_else(|| "lib".into())
}

#[test]
fn the_core_imports_no_adapter() {
    let src = src();
    let tree = Tree::read(&src);
    let graph = imports(&tree);
    let mut wrong = Vec::new();
    for (from, to) in &graph {
        if top(&src, from) != "core" {
            continue;
        }
        for t in to {
            if ADAPTERS.contains(&top(&src, t).as_str()) {
                wrong.push(format!("{} imports {}", from.display(), t.display()));
            }
        }
    }
    assert!(graph.len() > 50, "the source tree was not read");
    assert!(
        wrong.is_empty(),
        "the core imports adapters:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn no_file_imports_itself_through_others() {
    let src = src();
    let graph = imports(&Tree::read(&src));
    let found = cycles(&graph);
    let shown: Vec<String> = found
        .iter()
        .map(|c| {
            let names: Vec<String> = c
                .iter()
                .map(|p| p.strip_prefix(&src).unwrap().display().to_string())
                .collect();
            names.join(" ⇄ ")
        })
        .collect();
    assert!(
        found.is_empty(),
        "import cycles among files:\n{}",
        shown.join("\n")
    );
}

#[test]
fn no_top_level_module_imports_itself_through_others() {
    let src = src();
    let graph = imports(&Tree::read(&src));
    let mut modules: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (from, to) in &graph {
        let f = top(&src, from);
        let entry = modules.entry(f.clone()).or_default();
        for t in to {
            let t = top(&src, t);
            // lib.rs only declares the modules.
            if t != f && f != "lib" {
                entry.insert(t);
            }
        }
    }
    let found = cycles(&modules);
    assert!(found.is_empty(), "import cycles among modules: {found:?}");
}

/// The checker itself finds what it must: a known cycle and a known adapter import.
#[test]
fn the_checker_sees_imports_and_cycles() {
    let module = vec!["core".to_string(), "holds".to_string()];
    let paths = paths_in(
        "use crate::core::{db::{self, Store}, access::Caller};\nuse super::outbox;\nlet x = crate::http::AppState;",
        &module,
        false,
    );
    let shown: Vec<String> = paths.iter().map(|p| p.join("::")).collect();
    assert_eq!(
        shown,
        [
            "core::db::self",
            "core::db::Store",
            "core::access::Caller",
            "core::outbox",
            "http::AppState"
        ]
    );
    let mut g: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    g.entry("a").or_default().insert("b");
    g.entry("b").or_default().insert("c");
    g.entry("c").or_default().insert("a");
    g.entry("d").or_default().insert("a");
    assert_eq!(cycles(&g), vec![vec!["a", "b", "c"]]);
}
