//! The shape of `shared/src`, checked: the top-level modules are layers, each using only the
//! ones below it (the table is [`LAYERS`]), their `crate::` imports form no cycle, and no file
//! outgrows [`MAX_LINES`] lines of code.
//!
//! It reads the source as text: `crate::a`, `crate::{a, b::c}`, `$crate::a` and `super::`
//! paths that climb to the crate root (other `super::` paths stay inside their top-level
//! module), with comments, doc comments and string contents left out, and without any
//! `#[cfg(test)] mod`, nor test files (`tests.rs`, `test.rs`, anything under a `tests/`
//! folder). A name that lib.rs re-exports (`crate::App`) counts as a use of the module it
//! comes from.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The architecture: each top-level module of `shared/src` and the modules it may use.
/// Arrows point one way, from the edge in to the domain; a module not listed here fails.
#[rustfmt::skip]
const LAYERS: &[(&str, &[&str])] = &[
    ("domain",    &[]),
    ("config",    &["domain"]),
    ("store",     &["domain"]),
    ("cache",     &["domain", "config"]),
    ("app",       &["config", "store", "cache"]),
    ("ops",       &["domain", "config", "store", "cache", "app"]),
    ("edge",      &["domain", "config", "store", "cache", "app", "ops"]),
    ("trace_env", &[]),
];

/// Lines of code a file may have, not counting its `#[cfg(test)]` module, comments and
/// blank lines.
const MAX_LINES: usize = 450;

#[test]
fn shared_src_keeps_to_its_layers_without_cycles_or_oversized_files() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    read_tree(&root, &root, &mut files);
    assert!(!files.is_empty(), "no .rs files under {}", root.display());
    let problems = check(&files, "shared/src/", LAYERS, MAX_LINES);
    assert!(
        problems.is_empty(),
        "shared/src breaks its architecture ({} problems; the table is LAYERS in \
         shared/tests/layers.rs):\n- {}",
        problems.len(),
        problems.join("\n- ")
    );
}

fn read_tree(root: &Path, dir: &Path, files: &mut Vec<(String, String)>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|err| panic!("{}: {err}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            read_tree(root, &path, files);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            let rel = path.strip_prefix(root).unwrap().to_string_lossy();
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|err| panic!("{}: {err}", path.display()));
            files.push((rel.replace('\\', "/"), text));
        }
    }
}

/// Every problem with the files (paths relative to `src/`, shown after `shown_as`), each
/// saying what to fix.
fn check(
    files: &[(String, String)],
    shown_as: &str,
    layers: &[(&str, &[&str])],
    max_lines: usize,
) -> Vec<String> {
    let table: BTreeMap<&str, &[&str]> = layers.iter().copied().collect();
    let mut problems = Vec::new();

    let sources: Vec<Source> = files
        .iter()
        .filter(|(rel, _)| !is_test_file(rel))
        .map(|(rel, text)| Source::new(rel, text))
        .collect();
    let modules: BTreeMap<&str, &str> = sources
        .iter()
        .filter_map(|s| Some((s.module.first()?.as_str(), s.rel)))
        .collect();

    // Names at the crate root that are not modules: lib.rs re-exports, exported macros.
    let mut root_names: BTreeMap<String, String> = BTreeMap::new();
    for source in &sources {
        match source.module.first() {
            None => {
                for (module, name) in reexports(&source.tokens) {
                    if modules.contains_key(module.as_str()) {
                        root_names.insert(name, module);
                    }
                }
            }
            Some(module) => {
                for name in exported_macros(&source.tokens) {
                    root_names.insert(name, module.clone());
                }
            }
        }
    }

    for (module, rel) in &modules {
        if !table.contains_key(module) {
            problems.push(format!(
                "module `{module}` ({shown_as}{rel}) is not in LAYERS: add it to the table, with \
                 the modules it may use"
            ));
        }
    }

    // Edges between top-level modules, each with where it is written.
    let mut edges: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for source in &sources {
        let Some(from) = source.module.first() else {
            continue;
        };
        for (name, line) in source.root_references() {
            let to = if modules.contains_key(name.as_str()) {
                name.clone()
            } else if let Some(module) = root_names.get(&name) {
                module.clone()
            } else if name == "self" {
                continue;
            } else {
                problems.push(format!(
                    "{shown_as}{}:{line}: `{}`: `crate::{name}` is no top-level module, lib.rs \
                     re-export or exported macro; import it from the module that defines it",
                    source.rel,
                    source.line(line)
                ));
                continue;
            };
            if to != *from {
                edges.entry((from.clone(), to)).or_default().push(format!(
                    "{shown_as}{}:{line}: `{}`",
                    source.rel,
                    source.line(line)
                ));
            }
        }
    }

    for (component, cycle) in cycles(&edges) {
        let steps: Vec<String> = cycle
            .windows(2)
            .map(|pair| {
                let key = (pair[0].clone(), pair[1].clone());
                format!("{} -> {} at {}", pair[0], pair[1], edges[&key][0])
            })
            .collect();
        let inside: Vec<String> = edges
            .keys()
            .filter(|(from, to)| component.contains(from) && component.contains(to))
            .map(|(from, to)| format!("{from} -> {to}"))
            .collect();
        problems.push(format!(
            "cycle between top-level modules {}: {}; all the uses inside the cycle ({}): {}; \
             break it so that the uses point one way",
            cycle.join(" -> "),
            steps.join(", "),
            component.join(", "),
            inside.join(", ")
        ));
    }

    for ((from, to), places) in &edges {
        let (Some(allowed), true) = (table.get(from.as_str()), table.contains_key(to.as_str()))
        else {
            continue; // A module missing from the table is reported above.
        };
        if !allowed.contains(&to.as_str()) {
            let allowed = match allowed.len() {
                0 => "nothing in the crate".to_owned(),
                _ => allowed.join(", "),
            };
            for place in places {
                problems.push(format!(
                    "{place}: `{from}` may not use `{to}` (it may use: {allowed}); move the code \
                     to the right layer, or change LAYERS if the architecture changed"
                ));
            }
        }
    }

    for source in &sources {
        let lines = source.lines_of_code();
        if lines > max_lines {
            problems.push(format!(
                "{shown_as}{}: {lines} lines of code (not counting its #[cfg(test)] module, \
                 comments and blank lines), over the limit of {max_lines}: split it",
                source.rel
            ));
        }
    }
    problems
}

/// Test code, not part of any layer: `tests.rs`, `test.rs` and anything under `tests/`.
fn is_test_file(rel: &str) -> bool {
    let parts: Vec<&str> = rel.split('/').collect();
    matches!(parts[parts.len() - 1], "tests.rs" | "test.rs")
        || parts[..parts.len() - 1].contains(&"tests")
}

struct Source<'a> {
    rel: &'a str,
    text: &'a str,
    /// The file's module path: `[]` for lib.rs, `["store"]` for store.rs or store/mod.rs,
    /// `["store", "codec"]` for store/codec.rs.
    module: Vec<String>,
    /// Its tokens, without comments, string contents or `#[cfg(test)]` modules.
    tokens: Vec<Token>,
}

impl<'a> Source<'a> {
    fn new(rel: &'a str, text: &'a str) -> Self {
        let mut module: Vec<String> = rel
            .trim_end_matches(".rs")
            .split('/')
            .map(str::to_owned)
            .collect();
        if matches!(
            module.last().map(String::as_str),
            Some("mod" | "lib" | "main")
        ) {
            module.pop();
        }
        Self {
            rel,
            text,
            module,
            tokens: without_test_modules(tokenize(&clean(text))),
        }
    }

    fn line(&self, line: usize) -> &str {
        self.text.lines().nth(line - 1).unwrap_or("").trim()
    }

    fn lines_of_code(&self) -> usize {
        self.tokens
            .iter()
            .map(|t| t.line)
            .collect::<BTreeSet<_>>()
            .len()
    }

    /// The names this file reaches at the crate root (`crate::x`, or `super::` enough times),
    /// with their lines.
    fn root_references(&self) -> Vec<(String, usize)> {
        let tokens = &self.tokens;
        let mut found = Vec::new();
        let (mut depth, mut inline_modules) = (0usize, Vec::new());
        let mut i = 0;
        while i < tokens.len() {
            let after_path_sep = i > 0 && tokens[i - 1].is("::");
            match tokens[i].text.as_str() {
                "{" => depth += 1,
                "}" => {
                    if inline_modules.last() == Some(&depth) {
                        inline_modules.pop();
                    }
                    depth = depth.saturating_sub(1);
                }
                "mod" if tokens.get(i + 2).is_some_and(|t| t.is("{")) => {
                    inline_modules.push(depth + 1);
                }
                "crate" if !after_path_sep && next_is(tokens, i, "::") => {
                    found.extend(tree_heads(tokens, i + 2));
                }
                "super" if !after_path_sep && next_is(tokens, i, "::") => {
                    let mut climbs = 0;
                    let mut j = i;
                    while tokens.get(j).is_some_and(|t| t.is("super")) && next_is(tokens, j, "::") {
                        climbs += 1;
                        j += 2;
                    }
                    if self.module.len() + inline_modules.len() == climbs {
                        found.extend(tree_heads(tokens, j));
                    }
                    i = j;
                    continue;
                }
                _ => {}
            }
            i += 1;
        }
        found
    }
}

fn next_is(tokens: &[Token], i: usize, text: &str) -> bool {
    tokens.get(i + 1).is_some_and(|t| t.is(text))
}

/// The first segment of the path, or of each item of a `{..}` group, that starts at `i`.
fn tree_heads(tokens: &[Token], i: usize) -> Vec<(String, usize)> {
    let Some(first) = tokens.get(i) else {
        return Vec::new();
    };
    if first.is_ident() {
        return vec![(first.text.clone(), first.line)];
    }
    let mut heads = Vec::new();
    if first.is("{") {
        let (mut depth, mut item_start) = (0, true);
        for token in &tokens[i..] {
            match token.text.as_str() {
                "{" => {
                    depth += 1;
                    if depth == 1 {
                        continue; // The group's first item starts next.
                    }
                }
                "}" => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                "," if depth == 1 => {
                    item_start = true;
                    continue;
                }
                _ if depth == 1 && item_start && token.is_ident() => {
                    heads.push((token.text.clone(), token.line));
                }
                _ => {}
            }
            item_start = false;
        }
    }
    heads
}

/// `(module, name)` for each name lib.rs brings in with `use` (public or not: either way
/// `crate::name` works anywhere in the crate).
fn reexports(tokens: &[Token]) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        if !token.is("use") {
            continue;
        }
        let mut leaves = Vec::new();
        use_leaves(tokens, i + 1, Vec::new(), &mut leaves);
        for (path, name) in leaves {
            let path: Vec<&str> = path
                .iter()
                .map(String::as_str)
                .skip_while(|s| matches!(*s, "crate" | "self"))
                .collect();
            if let (Some(module), Some(name)) = (path.first(), name) {
                found.push((module.to_string(), name));
            }
        }
    }
    found
}

/// The leaves of the use tree at `i`: each full path and the name it binds (`None` for `*`).
fn use_leaves(
    tokens: &[Token],
    mut i: usize,
    mut path: Vec<String>,
    leaves: &mut Vec<(Vec<String>, Option<String>)>,
) -> usize {
    while let Some(token) = tokens.get(i) {
        if token.is("::") {
            i += 1;
        } else if token.is("*") {
            leaves.push((path, None));
            return i + 1;
        } else if token.is("{") {
            i += 1;
            while tokens.get(i).is_some_and(|t| !t.is("}")) {
                i = use_leaves(tokens, i, path.clone(), leaves);
                if tokens.get(i).is_some_and(|t| t.is(",")) {
                    i += 1;
                }
            }
            return i + 1;
        } else if token.is_ident() {
            path.push(token.text.clone());
            i += 1;
            if !tokens.get(i).is_some_and(|t| t.is("::")) {
                let mut name = path.last().cloned();
                if name.as_deref() == Some("self") {
                    name = path.iter().rev().nth(1).cloned();
                }
                if tokens.get(i).is_some_and(|t| t.is("as")) {
                    name = tokens.get(i + 1).map(|t| t.text.clone());
                    i += 2;
                }
                leaves.push((path, name));
                return i;
            }
        } else {
            return i + 1;
        }
    }
    i
}

fn exported_macros(tokens: &[Token]) -> Vec<String> {
    tokens
        .windows(3)
        .filter(|w| w[0].is("macro_rules") && w[1].is("!") && w[2].is_ident())
        .map(|w| w[2].text.clone())
        .collect()
}

/// Each set of modules that use one another in a loop (a strongly connected component of more
/// than one module), with its shortest loop through its first module by name.
fn cycles(edges: &BTreeMap<(String, String), Vec<String>>) -> Vec<(Vec<String>, Vec<String>)> {
    let mut graph: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (from, to) in edges.keys() {
        graph.entry(from).or_default().push(to);
        graph.entry(to).or_default();
    }
    fn reaches<'a>(graph: &BTreeMap<&'a str, Vec<&'a str>>, from: &'a str) -> BTreeSet<&'a str> {
        let mut seen = BTreeSet::from([from]);
        let mut stack = vec![from];
        while let Some(node) = stack.pop() {
            for &next in &graph[node] {
                if seen.insert(next) {
                    stack.push(next);
                }
            }
        }
        seen
    }
    let reach: BTreeMap<&str, BTreeSet<&str>> =
        graph.keys().map(|&n| (n, reaches(&graph, n))).collect();
    let mut done = BTreeSet::new();
    let mut found = Vec::new();
    for &start in graph.keys() {
        if done.contains(start) {
            continue;
        }
        let component: BTreeSet<&str> = reach[start]
            .iter()
            .copied()
            .filter(|other| reach[other].contains(start))
            .collect();
        done.extend(component.iter().copied());
        if component.len() < 2 {
            continue;
        }
        // The shortest way back to `start` inside the component (breadth first).
        let mut came_from: BTreeMap<&str, &str> = BTreeMap::new();
        let mut queue = std::collections::VecDeque::from([start]);
        let mut last = start;
        'search: while let Some(node) = queue.pop_front() {
            for &next in &graph[node] {
                if next == start {
                    last = node;
                    break 'search;
                }
                if component.contains(next) && !came_from.contains_key(next) {
                    came_from.insert(next, node);
                    queue.push_back(next);
                }
            }
        }
        let mut back = Vec::new();
        while last != start {
            back.push(last.to_owned());
            last = came_from[last];
        }
        let mut walk = vec![start.to_owned()];
        walk.extend(back.into_iter().rev());
        walk.push(start.to_owned());
        found.push((component.iter().map(|m| m.to_string()).collect(), walk));
    }
    found
}

#[derive(Debug, Clone)]
struct Token {
    text: String,
    line: usize,
}

impl Token {
    fn is(&self, text: &str) -> bool {
        self.text == text
    }

    fn is_ident(&self) -> bool {
        self.text
            .starts_with(|c: char| c.is_alphanumeric() || c == '_')
    }
}

/// Identifiers (and numbers), `::`, and single punctuation characters, with their lines.
fn tokenize(code: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    for (index, line) in code.lines().enumerate() {
        let chars: Vec<char> = line.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            let text = if c.is_whitespace() {
                i += 1;
                continue;
            } else if c.is_alphanumeric() || c == '_' {
                let start = i;
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                chars[start..i].iter().collect()
            } else if c == ':' && chars.get(i + 1) == Some(&':') {
                i += 2;
                "::".to_owned()
            } else {
                i += 1;
                c.to_string()
            };
            tokens.push(Token {
                text,
                line: index + 1,
            });
        }
    }
    tokens
}

/// The source with comments blanked out and each string or character literal's contents
/// replaced by `x`s (whitespace kept), so that neither holds a path or a `#[cfg(test)]`;
/// lines stay where they were.
fn clean(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    let hide = |c: char| if c.is_whitespace() { c } else { 'x' };
    let ident = |c: Option<&char>| c.is_some_and(|c| c.is_alphanumeric() || *c == '_');
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
        } else if c == '"' {
            out.push('"');
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' && i + 1 < chars.len() {
                    out.push('x');
                    i += 1;
                }
                out.push(hide(chars[i]));
                i += 1;
            }
            if i < chars.len() {
                out.push('"');
                i += 1;
            }
        } else if c == 'r'
            && (!ident(i.checked_sub(1).and_then(|p| chars.get(p)))
                || (matches!(chars.get(i.wrapping_sub(1)), Some('b' | 'c'))
                    && !ident(i.checked_sub(2).and_then(|p| chars.get(p)))))
            && raw_string_hashes(&chars[i + 1..]).is_some()
        {
            let hashes = raw_string_hashes(&chars[i + 1..]).unwrap();
            let close: Vec<char> = std::iter::once('"')
                .chain(std::iter::repeat_n('#', hashes))
                .collect();
            out.push('r');
            out.extend(std::iter::repeat_n('#', hashes));
            out.push('"');
            i += 1 + hashes + 1;
            while i < chars.len() && !chars[i..].starts_with(&close) {
                out.push(hide(chars[i]));
                i += 1;
            }
            if i < chars.len() {
                out.extend(close.iter());
                i += close.len();
            }
        } else if c == '\'' && next == Some('\\') {
            // A character literal with an escape: '\n', '\'', '\u{1F600}'.
            out.push('\'');
            i += 1;
            while i < chars.len() && chars[i] != '\'' {
                if chars[i] == '\\' && i + 1 < chars.len() {
                    out.push('x');
                    i += 1;
                }
                out.push(hide(chars[i]));
                i += 1;
            }
            if i < chars.len() {
                out.push('\'');
                i += 1;
            }
        } else if c == '\'' && chars.get(i + 2) == Some(&'\'') {
            // A plain character literal, 'a' or '"'; otherwise `'` starts a lifetime or label.
            out.push_str("'x'");
            i += 3;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// For text just after an `r`: the number of `#`s if a raw string starts here.
fn raw_string_hashes(rest: &[char]) -> Option<usize> {
    let hashes = rest.iter().take_while(|&&c| c == '#').count();
    (rest.get(hashes) == Some(&'"')).then_some(hashes)
}

/// The tokens without any `#[cfg(test)]` module (inline, with its body, or declared).
fn without_test_modules(tokens: Vec<Token>) -> Vec<Token> {
    const CFG_TEST: [&str; 7] = ["#", "[", "cfg", "(", "test", ")", "]"];
    let mut kept = Vec::with_capacity(tokens.len());
    let mut i = 0;
    'tokens: while i < tokens.len() {
        let starts_cfg_test = |at: usize| {
            tokens.len() >= at + CFG_TEST.len()
                && CFG_TEST
                    .iter()
                    .enumerate()
                    .all(|(k, text)| tokens[at + k].is(text))
        };
        if starts_cfg_test(i) {
            let mut j = i + CFG_TEST.len();
            // Further attributes, then a visibility.
            while tokens.get(j).is_some_and(|t| t.is("#")) && next_is(&tokens, j, "[") {
                j = after_group(&tokens, j + 1);
            }
            if tokens.get(j).is_some_and(|t| t.is("pub")) {
                j += 1;
                if tokens.get(j).is_some_and(|t| t.is("(")) {
                    j = after_group(&tokens, j);
                }
            }
            if tokens.get(j).is_some_and(|t| t.is("mod"))
                && tokens.get(j + 1).is_some_and(Token::is_ident)
            {
                match tokens.get(j + 2).map(|t| t.text.as_str()) {
                    Some(";") => {
                        i = j + 3;
                        continue 'tokens;
                    }
                    Some("{") => {
                        i = after_group(&tokens, j + 2);
                        continue 'tokens;
                    }
                    _ => {}
                }
            }
        }
        kept.push(tokens[i].clone());
        i += 1;
    }
    kept
}

/// The index just after the bracketed group (`(..)`, `[..]` or `{..}`) opening at `open`.
fn after_group(tokens: &[Token], open: usize) -> usize {
    let mut depth = 0i32;
    for (k, token) in tokens.iter().enumerate().skip(open) {
        match token.text.as_str() {
            "(" | "[" | "{" => depth += 1,
            ")" | "]" | "}" => {
                depth -= 1;
                if depth == 0 {
                    return k + 1;
                }
            }
            _ => {}
        }
    }
    tokens.len()
}

/// The checker on small trees written inline.
mod samples {
    use super::*;

    fn problems(files: &[(&str, &str)]) -> Vec<String> {
        problems_with(files, LAYERS)
    }

    fn problems_with(files: &[(&str, &str)], layers: &[(&str, &[&str])]) -> Vec<String> {
        let files: Vec<(String, String)> = files
            .iter()
            .map(|(rel, text)| (rel.to_string(), text.to_string()))
            .collect();
        check(&files, "src/", layers, MAX_LINES)
    }

    fn only(problems: Vec<String>) -> String {
        assert_eq!(problems.len(), 1, "expected one problem: {problems:#?}");
        problems.into_iter().next().unwrap()
    }

    #[test]
    fn a_tree_that_keeps_to_the_layers_passes() {
        let files = [
            (
                "lib.rs",
                "pub mod domain;\npub mod edge;\npub use domain::key::Key;\n",
            ),
            ("domain/mod.rs", "pub mod key;\npub mod scope;\n"),
            (
                "domain/key.rs",
                "use super::scope::Scope;\npub struct Key(Scope);\n",
            ),
            ("domain/scope.rs", "pub struct Scope;\n"),
            ("store.rs", "use crate::Key;\n"),
            ("cache/mod.rs", "mod entry;\n"),
            (
                "cache/entry.rs",
                "use crate::{config::Config, domain::key::Key};\n",
            ),
            ("config.rs", "use crate::domain::scope::Scope;\n"),
            ("app.rs", "use crate::{cache, config, store};\n"),
            (
                "ops/issue.rs",
                "use crate::app::App;\nuse crate::domain::Key;\n",
            ),
            (
                "edge.rs",
                "use crate::ops::issue;\nkeygate::keep_trace_id_env_bounded!();\n",
            ),
            (
                "trace_env.rs",
                "#[macro_export]\nmacro_rules! keep { () => { $crate::trace_env::f() }; }\n",
            ),
        ];
        assert_eq!(problems(&files), Vec::<String>::new());
    }

    #[test]
    fn a_cycle_is_reported_with_its_modules_and_the_lines_that_make_it() {
        let both_ways: &[(&str, &[&str])] = &[("a", &["b"]), ("b", &["a"]), ("c", &["a"])];
        let problem = only(problems_with(
            &[
                ("a.rs", "use crate::b::B;\npub struct A;\n"),
                ("b/mod.rs", "mod inner;\n"),
                (
                    "b/inner.rs",
                    "//! Inner.\n\npub fn f() -> crate::a::A {\n    crate::a::A\n}\n",
                ),
                ("c.rs", "use crate::a::A;\n"),
            ],
            both_ways,
        ));
        assert!(
            problem.starts_with("cycle between top-level modules a -> b -> a"),
            "{problem}"
        );
        assert!(
            problem.contains("a -> b at src/a.rs:1: `use crate::b::B;`"),
            "{problem}"
        );
        assert!(
            problem.contains("b -> a at src/b/inner.rs:3: `pub fn f() -> crate::a::A {`"),
            "{problem}"
        );
    }

    #[test]
    fn a_longer_cycle_is_walked_in_order() {
        let any: &[(&str, &[&str])] = &[("a", &["b", "c"]), ("b", &["c"]), ("c", &["a"])];
        let problem = only(problems_with(
            &[
                ("a.rs", "use crate::b::B;\n"),
                ("b.rs", "use crate::c::C;\n"),
                ("c.rs", "use crate::a::A;\n"),
            ],
            any,
        ));
        assert!(
            problem.starts_with("cycle between top-level modules a -> b -> c -> a"),
            "{problem}"
        );
    }

    #[test]
    fn a_use_the_layer_may_not_make_is_reported_with_its_line() {
        let problem = only(problems(&[
            ("domain/mod.rs", "pub mod key;\n"),
            (
                "domain/key.rs",
                "use std::fmt;\n\nuse crate::store::Store;\n",
            ),
            ("store.rs", "pub struct Store;\n"),
        ]));
        assert_eq!(
            problem,
            "src/domain/key.rs:3: `use crate::store::Store;`: `domain` may not use `store` (it \
             may use: nothing in the crate); move the code to the right layer, or change \
             LAYERS if the architecture changed"
        );
    }

    #[test]
    fn comments_doc_comments_strings_and_test_modules_are_not_uses() {
        let domain = r####"//! Like crate::store, but see [`crate::app::App`].
use std::fmt; // not crate::cache
/* crate::ops /* nested: crate::edge */ still a comment: crate::config */
/// [`crate::store::Store`]
pub fn f<'a>(s: &'a str) -> (&'a str, char, char, &'static str, &'static str) {
    (s, '"', '\'', "crate::store and \" crate::cache", r#"crate::app "quoted" "#)
}
pub const C: &[u8] = b"crate::ops";

#[cfg(test)]
mod tests {
    use crate::app::App;
}
"####;
        assert_eq!(problems(&[("domain.rs", domain)]), Vec::<String>::new());
    }

    #[test]
    fn each_module_of_a_group_import_counts() {
        let config = "use crate::{\n    store::Row,\n    domain::{self, Key},\n    app::{App, Settings},\n};\n";
        let problems = problems(&[
            ("config.rs", config),
            ("domain.rs", ""),
            ("store.rs", ""),
            ("app.rs", ""),
        ]);
        assert_eq!(problems.len(), 2, "{problems:#?}");
        assert!(
            problems[0].starts_with(
                "src/config.rs:4: `app::{App, Settings},`: `config` may not use `app`"
            ),
            "{problems:#?}"
        );
        assert!(
            problems[1].starts_with("src/config.rs:2: `store::Row,`: `config` may not use `store`"),
            "{problems:#?}"
        );
    }

    #[test]
    fn super_counts_only_when_it_climbs_out_of_the_top_level_module() {
        let problem = only(problems(&[
            (
                "store/mod.rs",
                "mod codec;\nmod dynamo;\nmod inner {\n    use super::codec;\n}\n",
            ),
            ("store/codec.rs", "pub struct Row;\n"),
            (
                "store/dynamo.rs",
                "use super::codec::Row;\nuse super::super::cache::Cache;\n",
            ),
            ("cache.rs", ""),
        ]));
        assert!(
            problem.starts_with(
                "src/store/dynamo.rs:2: `use super::super::cache::Cache;`: `store` may not use `cache`"
            ),
            "{problem}"
        );
    }

    #[test]
    fn a_name_lib_rs_reexports_counts_as_its_module() {
        let problem = only(problems(&[
            (
                "lib.rs",
                "pub mod domain;\npub mod store;\npub use store::{Store as Db, Row};\n",
            ),
            ("domain.rs", "use crate::Db;\n"),
            ("store.rs", "pub struct Store;\npub struct Row;\n"),
        ]));
        assert!(
            problem.starts_with("src/domain.rs:1: `use crate::Db;`: `domain` may not use `store`"),
            "{problem}"
        );
    }

    #[test]
    fn a_root_name_from_nowhere_is_reported() {
        let problem = only(problems(&[("domain.rs", "use crate::Nothing;\n")]));
        assert!(
            problem.contains("`crate::Nothing` is no top-level module"),
            "{problem}"
        );
    }

    #[test]
    fn a_module_missing_from_the_table_is_reported() {
        let problem = only(problems(&[
            ("web.rs", "use crate::domain::Key;\n"),
            ("domain.rs", ""),
        ]));
        assert_eq!(
            problem,
            "module `web` (src/web.rs) is not in LAYERS: add it to the table, with the modules \
             it may use"
        );
    }

    #[test]
    fn test_files_are_not_part_of_any_layer() {
        let files = [
            ("domain/mod.rs", "#[cfg(test)]\nmod tests;\n"),
            ("domain/tests.rs", "use crate::app::App;\n"),
            ("domain/tests/more.rs", "use crate::app::App;\n"),
        ];
        assert_eq!(problems(&files), Vec::<String>::new());
    }

    #[test]
    fn a_file_over_the_limit_is_reported_with_its_count() {
        let code = |n: usize| {
            (0..n)
                .map(|i| format!("pub const C{i}: u8 = 0;\n"))
                .collect::<String>()
        };
        let padding = "// a comment\n\n/* a\n block */\n".repeat(100);
        let tests = format!("#[cfg(test)]\nmod tests {{\n{}}}\n", code(100));
        let at_limit = format!("{padding}{}{padding}{tests}", code(MAX_LINES));
        assert_eq!(problems(&[("domain.rs", &at_limit)]), Vec::<String>::new());

        let over = format!("{padding}{}{tests}", code(MAX_LINES + 1));
        assert_eq!(
            only(problems(&[("domain.rs", &over)])),
            format!(
                "src/domain.rs: {} lines of code (not counting its #[cfg(test)] module, comments \
                 and blank lines), over the limit of {MAX_LINES}: split it",
                MAX_LINES + 1
            )
        );
    }
}
