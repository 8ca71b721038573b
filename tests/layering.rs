//! No layer imports one above it: every `crate::` and `super::` path in `src/**/*.rs` is checked
//! against the layer table below, which is the one in `src/lib.rs`'s docs.
//!
//! A file's imports are the paths in its code (comments and string literals are skipped): `use`
//! trees, with their `{...}` groups expanded, and inline paths such as `crate::db::TaskFilter`.
//! `super::` and `self::` are resolved against the file's module (inline `mod x { }` blocks
//! included). Paths that start with neither (extern crates, a `mod.rs`'s own children) cannot
//! reach another layer and are not checked.
//!
//! Rules:
//! - a module imports only modules of a lower rank, or of its own rank where [`SAME_RANK`]
//!   allows it (`task` hashes `stage` entries, `sweep` fills in a `task`'s command);
//! - files of one module may import each other, except the pairs of [`SIBLINGS_FORBIDDEN`]:
//!   in `resources`, the node finder takes a request, so `request` may not import `finder`
//!   (also not through the re-exports of `resources/mod.rs`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Module -> rank, bottom up.
const LAYERS: &[(&str, u8)] = &[
    ("ids", 0),
    ("command", 0),
    ("units", 1),
    ("config", 2),
    ("resources", 3),
    ("template", 4),
    ("scheduler", 5),
    ("transport", 6),
    ("stage", 7),
    ("task", 7),
    ("sweep", 7),
    ("db", 7),
    ("analysis", 7),
    ("discover", 8),
    ("session", 8),
    ("doctor", 9),
];

/// (importer, imported) allowed within one rank; any other import within a rank is an error.
const SAME_RANK: &[(&str, &str)] = &[
    // A task's identity hashes its staged inputs.
    ("task", "stage"),
    // A sweep's points are substituted into a task's command.
    ("sweep", "task"),
];

/// (importer, imported) module paths inside one top-level module that may not import each
/// other in this direction.
const SIBLINGS_FORBIDDEN: &[(&str, &str)] = &[
    ("resources::request", "resources::finder"),
    // Inside the engine: the driver (remote side) and the pure decisions know nothing of the
    // orchestrators above them, nor of each other.
    ("session::driver", "session::follow"),
    ("session::driver", "session::submit"),
    ("session::driver", "session::manage"),
    ("session::driver", "session::decide"),
    ("session::decide", "session::driver"),
    ("session::decide", "session::follow"),
    ("session::decide", "session::submit"),
    ("session::decide", "session::manage"),
];

fn rank(module: &str) -> Option<u8> {
    LAYERS.iter().find(|(m, _)| *m == module).map(|(_, r)| *r)
}

// ------------------------------------------------------------------------------- tokens

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Ident(String),
    /// `::`
    Path,
    Punct(char),
}

/// The tokens of Rust source that matter for paths, with their line numbers: identifiers,
/// `::` and single punctuation. Comments, string, byte-string and char literals and
/// lifetimes are dropped.
fn tokens(src: &str) -> Vec<(Tok, usize)> {
    let c: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let (mut i, mut line) = (0, 1);
    let is_ident = |ch: char| ch.is_alphanumeric() || ch == '_';
    // Skips a quoted literal starting at the quote `c[i]`; returns the index after it.
    let skip_quoted = |mut i: usize, line: &mut usize| {
        let quote = c[i];
        i += 1;
        while i < c.len() && c[i] != quote {
            if c[i] == '\\' {
                i += 1;
            }
            if i < c.len() && c[i] == '\n' {
                *line += 1;
            }
            i += 1;
        }
        i + 1
    };
    while i < c.len() {
        let ch = c[i];
        let next = c.get(i + 1).copied();
        if ch == '\n' {
            line += 1;
            i += 1;
        } else if ch.is_whitespace() {
            i += 1;
        } else if ch == '/' && next == Some('/') {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if ch == '/' && next == Some('*') {
            let mut depth = 0;
            while i < c.len() {
                if c[i] == '/' && c.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    if c[i] == '\n' {
                        line += 1;
                    }
                    i += 1;
                }
            }
        } else if ch == '"' {
            i = skip_quoted(i, &mut line);
        } else if ch == '\'' {
            if next == Some('\\') {
                i = skip_quoted(i, &mut line);
            } else if c.get(i + 2) == Some(&'\'') {
                i += 3; // 'x'
            } else {
                i += 1; // a lifetime: its name follows as an identifier
            }
        } else if is_ident(ch) {
            let start = i;
            while i < c.len() && is_ident(c[i]) {
                i += 1;
            }
            let word: String = c[start..i].iter().collect();
            let prefix = matches!(word.as_str(), "r" | "b" | "br" | "c" | "cr");
            let hashes = c[i..].iter().take_while(|&&h| h == '#').count();
            if prefix && c.get(i + hashes) == Some(&'"') && (hashes == 0 || word != "b") {
                if word.ends_with('r') {
                    // Raw string: up to `"` followed by the same number of `#`.
                    i += hashes + 1;
                    let close: String = std::iter::once('"')
                        .chain(std::iter::repeat_n('#', hashes))
                        .collect();
                    while i < c.len() && !c[i..].iter().take(close.len()).copied().eq(close.chars())
                    {
                        if c[i] == '\n' {
                            line += 1;
                        }
                        i += 1;
                    }
                    i += close.len();
                } else {
                    i = skip_quoted(i, &mut line);
                }
            } else if word == "b" && c.get(i) == Some(&'\'') {
                i = if c.get(i + 1) == Some(&'\\') {
                    skip_quoted(i, &mut line)
                } else {
                    i + 3
                };
            } else if word == "r" && hashes == 1 {
                i += 1; // r#ident: the identifier follows
            } else {
                out.push((Tok::Ident(word), line));
            }
        } else if ch == ':' && next == Some(':') {
            out.push((Tok::Path, line));
            i += 2;
        } else {
            out.push((Tok::Punct(ch), line));
            i += 1;
        }
    }
    out
}

// ------------------------------------------------------------------------------- paths

/// One path a file names: where, as written, and resolved to a path from the crate root.
#[derive(Clone, Debug)]
struct Import {
    line: usize,
    written: String,
    path: Vec<String>,
}

/// One path of a `use` tree (or an inline path), from the crate root, and the name it is
/// bound to when renamed with `as`.
type TreePath = (Vec<String>, Option<String>);

/// Reads the path (or `use` tree) starting at `toks[i]`, after the leading `crate`/`super`/
/// `self` segments, which resolved to `prefix`; returns every full path and the index after
/// the tree.
fn read_tree(toks: &[(Tok, usize)], mut i: usize, prefix: Vec<String>) -> (Vec<TreePath>, usize) {
    let tok = |i: usize| toks.get(i).map(|t| &t.0);
    let mut path = prefix;
    loop {
        match tok(i) {
            Some(Tok::Ident(name)) => {
                path.push(name.clone());
                i += 1;
                if tok(i) == Some(&Tok::Path) {
                    i += 1;
                    continue;
                }
                if let (Some(Tok::Ident(kw)), Some(Tok::Ident(alias))) = (tok(i), tok(i + 1))
                    && kw == "as"
                {
                    return (vec![(path, Some(alias.clone()))], i + 2);
                }
                return (vec![(path, None)], i);
            }
            Some(Tok::Punct('{')) => {
                let mut all = Vec::new();
                i += 1;
                loop {
                    match tok(i) {
                        Some(Tok::Punct('}')) | None => return (all, i + 1),
                        Some(Tok::Punct(',' | '*')) => i += 1,
                        Some(Tok::Ident(word)) if word == "self" => {
                            all.push((path.clone(), None));
                            i += 1;
                        }
                        _ => {
                            let (inner, next) = read_tree(toks, i, path.clone());
                            all.extend(inner);
                            i = next.max(i + 1);
                        }
                    }
                }
            }
            // `*` of a glob, or the end of the path.
            _ => return (vec![(path, None)], i),
        }
    }
}

/// The module path of a file under `src/` (`resources/finder.rs` -> `resources::finder`).
fn module_of(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel
        .with_extension("")
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
        parts.pop();
    }
    parts
}

/// Every `crate::`, `super::` and `self::` path in `src`, the source of module `module`.
fn imports(module: &[String], src: &str) -> Vec<Import> {
    let toks = tokens(src);
    let mut found = Vec::new();
    // Inline `mod name {` blocks: (name, brace depth inside them).
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0;
    let mut i = 0;
    while i < toks.len() {
        let (tok, line) = (&toks[i].0, toks[i].1);
        let prev = i.checked_sub(1).map(|p| &toks[p].0);
        let here = || {
            let mut m = module.to_vec();
            m.extend(inline.iter().map(|(n, _)| n.clone()));
            m
        };
        match tok {
            Tok::Punct('{') => depth += 1,
            Tok::Punct('}') => {
                if inline.last().is_some_and(|(_, d)| *d == depth) {
                    inline.pop();
                }
                depth -= 1;
            }
            Tok::Ident(word) if word == "mod" => {
                if let (Some((Tok::Ident(name), _)), Some((Tok::Punct('{'), _))) =
                    (toks.get(i + 1), toks.get(i + 2))
                {
                    inline.push((name.clone(), depth + 1));
                }
            }
            Tok::Ident(word)
                if matches!(word.as_str(), "crate" | "super" | "self")
                    && toks.get(i + 1).map(|t| &t.0) == Some(&Tok::Path)
                    && prev != Some(&Tok::Path)
                    && prev != Some(&Tok::Punct('$')) =>
            {
                let mut base = match word.as_str() {
                    "crate" => Vec::new(),
                    _ => here(),
                };
                let mut j = i;
                while let (Some((Tok::Ident(w), _)), Some((Tok::Path, _))) =
                    (toks.get(j), toks.get(j + 1))
                {
                    match w.as_str() {
                        "super" => {
                            base.pop();
                        }
                        "crate" | "self" => {}
                        _ => break,
                    }
                    j += 2;
                }
                let (paths, next) = read_tree(&toks, j, base);
                let written_end = next.min(toks.len());
                let mut written = String::new();
                for (k, (t, _)) in toks[i..written_end].iter().enumerate() {
                    match t {
                        Tok::Ident(w) => {
                            if k > 0 && matches!(toks[i + k - 1].0, Tok::Ident(_)) {
                                written.push(' '); // `x as y`
                            }
                            written.push_str(w);
                        }
                        Tok::Path => written.push_str("::"),
                        Tok::Punct(',') => written.push_str(", "),
                        Tok::Punct(p) => written.push(*p),
                    }
                }
                found.extend(paths.into_iter().map(|(path, _)| Import {
                    line,
                    written: written.clone(),
                    path,
                }));
                i = next.max(i + 1);
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    found
}

/// What a module root re-exports from its own child modules: `resources::find_nodes` ->
/// `resources::finder::find_nodes`, read from the `pub use` items of its file.
fn reexports(module: &[String], src: &str) -> BTreeMap<Vec<String>, Vec<String>> {
    let toks = tokens(src);
    let word = |i: usize, w: &str| toks.get(i).is_some_and(|t| t.0 == Tok::Ident(w.into()));
    let mut map = BTreeMap::new();
    for i in 0..toks.len() {
        if !(word(i, "pub") && word(i + 1, "use")) {
            continue;
        }
        // `crate::` paths start from the root, `self::` and bare ones from this module.
        let (start, prefix) = if word(i + 2, "crate") {
            (i + 4, Vec::new())
        } else if word(i + 2, "self") {
            (i + 4, module.to_vec())
        } else {
            (i + 2, module.to_vec())
        };
        for (path, alias) in read_tree(&toks, start, prefix).0 {
            let Some(name) = alias.or_else(|| path.last().cloned()) else {
                continue;
            };
            let mut exported = module.to_vec();
            exported.push(name);
            if exported != path {
                map.insert(exported, path);
            }
        }
    }
    map
}

/// `path` with its longest prefix that is a re-export replaced by what it re-exports.
fn resolve(map: &BTreeMap<Vec<String>, Vec<String>>, path: &[String]) -> Option<Vec<String>> {
    (1..=path.len()).rev().find_map(|k| {
        map.get(&path[..k]).map(|target| {
            let mut full = target.clone();
            full.extend_from_slice(&path[k..]);
            full
        })
    })
}

/// One broken rule: `file:line: message`.
#[derive(Debug, PartialEq)]
struct Violation(String);

/// Checks the imports of the file `rel` (under `src/`), whose module's siblings re-export what
/// `reexported` says.
fn check_file(
    rel: &Path,
    src: &str,
    reexported: &BTreeMap<Vec<String>, Vec<String>>,
) -> (usize, Vec<Violation>) {
    let module = module_of(rel);
    let Some(from) = module.first() else {
        return (0, Vec::new()); // lib.rs: the root declares the modules
    };
    let found = imports(&module, src);
    let mut bad = Vec::new();
    let at = |imp: &Import| format!("src/{}:{}: `{}`", rel.display(), imp.line, imp.written);
    for imp in &found {
        let Some(to) = imp.path.first() else { continue };
        if to == from {
            let resolved = resolve(reexported, &imp.path);
            for (importer, imported) in SIBLINGS_FORBIDDEN {
                let is = |path: &[String], target: &str| {
                    let t: Vec<&str> = target.split("::").collect();
                    path.len() >= t.len() && path.iter().zip(&t).all(|(a, b)| a == b)
                };
                if is(&module, importer)
                    && (is(&imp.path, imported)
                        || resolved.as_ref().is_some_and(|r| is(r, imported)))
                {
                    bad.push(Violation(format!(
                        "{}: {importer} imports {imported}, which may not be imported from it \
                         (the dependency goes the other way)",
                        at(imp)
                    )));
                }
            }
            continue;
        }
        match (rank(from), rank(to)) {
            (None, _) => bad.push(Violation(format!(
                "{}: module `{from}` is not in the layer table (add it to LAYERS and lib.rs)",
                at(imp)
            ))),
            (_, None) => bad.push(Violation(format!(
                "{}: module `{to}` is not in the layer table (add it to LAYERS and lib.rs)",
                at(imp)
            ))),
            (Some(rf), Some(rt)) if rt > rf => bad.push(Violation(format!(
                "{}: {from} (layer {rf}) imports {to} (layer {rt}), a layer above it",
                at(imp)
            ))),
            (Some(rf), Some(rt))
                if rt == rf && !SAME_RANK.contains(&(from.as_str(), to.as_str())) =>
            {
                bad.push(Violation(format!(
                    "{}: {from} imports {to}, both layer {rf}, and SAME_RANK does not allow it",
                    at(imp)
                )))
            }
            _ => {}
        }
    }
    (found.len(), bad)
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn src_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every module root's re-exports of its children, over the whole crate.
fn all_reexports(files: &[(PathBuf, String)]) -> BTreeMap<Vec<String>, Vec<String>> {
    files
        .iter()
        .flat_map(|(rel, src)| reexports(&module_of(rel), src))
        .collect()
}

// ------------------------------------------------------------------------------- tests

#[test]
fn no_layer_imports_one_above_it() {
    let root = src_dir();
    let mut paths = Vec::new();
    rust_files(&root, &mut paths);
    paths.sort();
    let files: Vec<(PathBuf, String)> = paths
        .iter()
        .map(|p| {
            let rel = p.strip_prefix(&root).unwrap().to_owned();
            (rel, std::fs::read_to_string(p).unwrap())
        })
        .collect();
    let reexported = all_reexports(&files);
    let (mut seen, mut bad) = (0, Vec::new());
    for (rel, src) in &files {
        let (n, v) = check_file(rel, src, &reexported);
        seen += n;
        bad.extend(v);
    }
    // The scan must see the crate's imports at all (a broken tokenizer would pass anything).
    assert!(seen > 150, "only {seen} crate paths found in src/");
    // One line per statement and broken rule (a `use` group may name a module twice).
    let mut report: Vec<String> = bad.into_iter().map(|v| v.0).collect();
    report.dedup();
    assert!(
        report.is_empty(),
        "{} import(s) break the layering (table in tests/layering.rs and src/lib.rs):\n{}",
        report.len(),
        report.join("\n")
    );
}

/// `src/lib.rs`'s table lists every module it declares, bottom up, as this test ranks them.
#[test]
fn lib_rs_table_matches() {
    let lib = std::fs::read_to_string(src_dir().join("lib.rs")).unwrap();
    let listed: Vec<&str> = lib
        .lines()
        .filter_map(|l| l.strip_prefix("//! | [`"))
        .filter_map(|l| l.split_once("`]").map(|(m, _)| m))
        .collect();
    let modules: Vec<&str> = LAYERS.iter().map(|(m, _)| *m).collect();
    let mut sorted = listed.clone();
    sorted.sort_by_key(|m| rank(m));
    assert_eq!(listed, sorted, "lib.rs's table is not bottom up");
    let declared: Vec<&str> = lib
        .lines()
        .filter_map(|l| l.strip_prefix("pub mod "))
        .filter_map(|l| l.strip_suffix(';'))
        .collect();
    let (mut a, mut b, mut c) = (listed.clone(), modules, declared);
    a.sort_unstable();
    b.sort_unstable();
    c.sort_unstable();
    assert_eq!(a, b, "lib.rs's table and LAYERS name different modules");
    assert_eq!(
        c, b,
        "lib.rs's `pub mod`s and LAYERS name different modules"
    );
}

/// The checker itself, on made-up sources: what it must catch and what it must not.
#[test]
fn checker_catches_upward_imports_and_nothing_else() {
    let none = BTreeMap::new();
    let check = |rel: &str, src: &str| {
        check_file(Path::new(rel), src, &none)
            .1
            .into_iter()
            .map(|v| v.0)
            .collect::<Vec<_>>()
    };
    // A group, a renamed item, `self` in a group, a nested group.
    let v = check(
        "config/x.rs",
        "use crate::{ids::SystemName, units::{self, parse_time as pt}, scheduler::Kind};\n",
    );
    assert_eq!(
        v,
        [
            "src/config/x.rs:1: `crate::{ids::SystemName, units::{self, parse_time as pt}, \
          scheduler::Kind}`: config (layer 2) imports scheduler (layer 5), a layer above it"
        ]
    );
    // Inline paths, `super::super` from an inline module, and not in comments or strings.
    let src = r##"
        // crate::session::Session in a comment
        /* crate::session /* nested */ crate::session */
        const S: &str = "crate::session::x";
        const R: &str = r#"crate::session::"x""#;
        const C: char = '"'; const L: &'static str = "";
        fn f() { let _ = crate::db::TaskFilter::default(); }
        mod tests { fn g() { super::super::super::session::go(); } }
        fn h() -> crate::ids::TaskId { todo!() }
    "##;
    let v = check("resources/finder.rs", src);
    assert_eq!(v.len(), 2, "{v:#?}");
    assert!(v[0].starts_with("src/resources/finder.rs:7: `crate::db::TaskFilter::default`"));
    assert!(v[0].ends_with("resources (layer 3) imports db (layer 7), a layer above it"));
    assert!(
        v[1].contains(":8: `super::super::super::session::go`"),
        "{}",
        v[1]
    );
    // A module not in the table, and one of the same rank that may not import the other.
    assert!(check("db/x.rs", "use crate::nowhere::X;")[0].contains("`nowhere` is not in"));
    assert!(check("db/x.rs", "use crate::stage::X;")[0].contains("SAME_RANK does not allow"));
    assert!(check("task/x.rs", "use crate::stage::X;").is_empty());
    // `pub(crate)`, `pub(super)` and `$crate` are not imports.
    assert!(
        check(
            "ids.rs",
            "pub(crate) fn a() {} pub(super) fn b() {} $crate::x"
        )
        .is_empty()
    );

    // Siblings: request may not import finder, directly or through resources' re-exports.
    let mod_rs = "pub mod finder; pub use finder::{NodeAllocation, find_nodes as find};";
    let reexported = reexports(&["resources".to_owned()], mod_rs);
    let sibling = |src: &str| check_file(Path::new("resources/request.rs"), src, &reexported).1;
    assert_eq!(sibling("use super::finder::whole_match_regex;").len(), 1);
    assert_eq!(sibling("use super::NodeAllocation;").len(), 1);
    assert_eq!(sibling("use crate::resources::find;").len(), 1);
    assert!(sibling("use super::units::format_hms;").is_empty());
    let finder = check_file(
        Path::new("resources/finder.rs"),
        "use super::request::Resources;",
        &reexported,
    );
    assert!(finder.1.is_empty());
}
