//! The shape of `shared/src`, checked: the top-level modules are layers, each using only the
//! ones below it (the table is [`LAYERS`]), their uses of one another form no cycle, and no
//! file outgrows [`MAX_LINES`] lines of code.
//!
//! Each file is parsed with `syn`. A use is a path from the crate root: `crate::a`, each item
//! of `crate::{a, b::c}`, or `super::` climbing to the root, in a `use` item or anywhere else
//! (`crate::a::f()`); macro bodies are only tokens, scanned for such paths (so `$crate::a`
//! counts too). `#[cfg(test)]` modules and test files (`tests.rs`, `test.rs`, anything under a
//! `tests/` folder) are left out. A name lib.rs brings in (`crate::App`), or an exported
//! macro, counts as a use of the module it comes from.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::ops::RangeInclusive;
use std::path::Path;

use proc_macro2::{Ident, TokenStream, TokenTree};
use syn::visit::{self, Visit};

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
    let problems = check(&files);
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

/// Every problem with the files (paths relative to `shared/src/`), each saying what to fix.
fn check(files: &[(String, String)]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut sources = Vec::new();
    for (rel, text) in files {
        let parts: Vec<&str> = rel.split('/').collect();
        let (dirs, file) = parts.split_at(parts.len() - 1);
        if dirs.contains(&"tests") || file == ["tests.rs"] || file == ["test.rs"] {
            continue; // Test code, in no layer.
        }
        match Source::parse(rel, text) {
            Ok(source) => sources.push(source),
            Err((line, err)) => problems.push(format!("shared/src/{rel}:{line}: {err}")),
        }
    }
    let modules: BTreeMap<&str, &str> = sources
        .iter()
        .filter_map(|s| Some((s.module.first()?.as_str(), s.rel)))
        .collect();
    let layer = |module: &str| LAYERS.iter().find(|(m, _)| *m == module).map(|l| l.1);
    for (module, rel) in &modules {
        if layer(module).is_none() {
            problems.push(format!(
                "module `{module}` (shared/src/{rel}) is not in LAYERS: add it to the table, with \
                 the modules it may use"
            ));
        }
    }

    // Each name at the crate root, and the module it is or comes from: the modules, what
    // lib.rs imports from them, the exported macros.
    let mut root_names: BTreeMap<&str, &str> = BTreeMap::new();
    for source in &sources {
        match source.module.first() {
            None => root_names.extend(source.imports.iter().map(|(m, name)| (&**name, &**m))),
            Some(m) => root_names.extend(source.macros.iter().map(|name| (&**name, &**m))),
        }
    }
    root_names.retain(|_, module| modules.contains_key(module));
    root_names.extend(modules.keys().map(|module| (*module, *module)));

    // The uses between top-level modules, each with the places that make it.
    let mut edges: Edges = BTreeMap::new();
    for source in &sources {
        let Some(from) = source.module.first() else {
            continue;
        };
        for (&(line, _), name) in &source.roots {
            let text = source.text.lines().nth(line - 1).unwrap_or("").trim();
            let place = format!("shared/src/{}:{line}: `{text}`", source.rel);
            let Some(&to) = root_names.get(&**name) else {
                problems.push(format!(
                    "{place}: `crate::{name}` is no top-level module, lib.rs re-export or \
                     exported macro; import it from the module that defines it"
                ));
                continue;
            };
            if to != from {
                edges.entry((from, to)).or_default().push(place);
            }
        }
    }

    for (component, lap) in cycles(&edges) {
        let steps: Vec<String> = lap
            .windows(2)
            .map(|w| format!("{} -> {} at {}", w[0], w[1], edges[&(w[0], w[1])][0]))
            .collect();
        let inside: Vec<String> = edges
            .keys()
            .filter(|(from, to)| component.contains(from) && component.contains(to))
            .map(|(from, to)| format!("{from} -> {to}"))
            .collect();
        problems.push(format!(
            "cycle between top-level modules {}: {}; all the uses inside the cycle ({}): {}; \
             break it so that the uses point one way",
            lap.join(" -> "),
            steps.join(", "),
            component.join(", "),
            inside.join(", ")
        ));
    }

    for ((from, to), places) in &edges {
        // A module missing from the table is reported above.
        let (Some(allowed), Some(_)) = (layer(from), layer(to)) else {
            continue;
        };
        let may_use = match allowed {
            [] => "nothing in the crate".to_owned(),
            _ => allowed.join(", "),
        };
        for place in places.iter().filter(|_| !allowed.contains(to)) {
            problems.push(format!(
                "{place}: `{from}` may not use `{to}` (it may use: {may_use}); move the code to \
                 the right layer, or change LAYERS if the architecture changed"
            ));
        }
    }

    for source in sources.iter().filter(|s| s.lines_of_code > MAX_LINES) {
        problems.push(format!(
            "shared/src/{}: {} lines of code (not counting its #[cfg(test)] module, comments \
             and blank lines), over the limit of {MAX_LINES}: split it",
            source.rel, source.lines_of_code
        ));
    }
    problems
}

/// One file, and what it reaches at the crate root, gathered from its syntax tree.
#[derive(Default)]
struct Source<'a> {
    rel: &'a str,
    text: &'a str,
    /// The file's module path: `[]` for lib.rs, `["store"]` for store.rs or store/mod.rs,
    /// `["store", "codec"]` for store/codec.rs.
    module: Vec<String>,
    /// How many `super::` climb from the module being walked to the crate root.
    depth: usize,
    /// Each name reached at the crate root (`crate::name`), by its line and column.
    roots: BTreeMap<(usize, usize), String>,
    /// `(first segment, name)` for each name a `use` brings in: `use a::b::C as D` is `(a, D)`.
    imports: Vec<(String, String)>,
    /// The `#[macro_export]` macros defined here.
    macros: Vec<String>,
    /// The lines of each `#[cfg(test)]` module, which is not walked.
    test_modules: Vec<RangeInclusive<usize>>,
    lines_of_code: usize,
}

impl<'a> Source<'a> {
    /// The file, parsed and walked; or the line where it stops parsing, and why.
    fn parse(rel: &'a str, text: &'a str) -> Result<Self, (usize, String)> {
        let mut module: Vec<String> = rel
            .trim_end_matches(".rs")
            .split('/')
            .map(Into::into)
            .collect();
        if ["mod", "lib", "main"].contains(&module[module.len() - 1].as_str()) {
            module.pop();
        }
        let tokens: TokenStream = text.parse().map_err(|err: proc_macro2::LexError| {
            (err.span().start().line, format!("does not parse: {err}"))
        })?;
        let file: syn::File = syn::parse2(tokens.clone())
            .map_err(|err| (err.span().start().line, format!("does not parse: {err}")))?;
        let depth = module.len();
        let mut source = Self {
            rel,
            text,
            module,
            depth,
            ..Self::default()
        };
        source.visit_file(&file);
        let mut lines = BTreeSet::new();
        code_lines(tokens, &mut lines);
        lines.retain(|line| !source.test_modules.iter().any(|lines| lines.contains(line)));
        source.lines_of_code = lines.len();
        Ok(source)
    }

    /// Records the name `path` reaches at the crate root, if it gets there.
    fn reach(&mut self, path: &[&Ident]) {
        let climbs = path.iter().take_while(|s| **s == "super").count();
        let at = match path.first() {
            Some(first) if *first == "crate" => 1,
            _ if climbs > 0 && climbs == self.depth => climbs,
            _ => return,
        };
        if let Some(name) = path.get(at).filter(|name| **name != "self") {
            let start = name.span().start();
            self.roots
                .insert((start.line, start.column), name.to_string());
        }
    }

    /// Records each path of a use tree, and the name it brings in.
    fn use_tree<'t>(&mut self, tree: &'t syn::UseTree, mut path: Vec<&'t Ident>) {
        use syn::UseTree::{Glob, Group, Name, Path, Rename};
        let (leaf, name) = match tree {
            Path(p) => return self.use_tree(&p.tree, [path, vec![&p.ident]].concat()),
            Group(g) => {
                for tree in &g.items {
                    self.use_tree(tree, path.clone());
                }
                return;
            }
            Glob(_) => return self.reach(&path),
            Name(n) if n.ident == "self" => (&n.ident, path.last().copied()),
            Name(n) => (&n.ident, Some(&n.ident)),
            Rename(r) => (&r.ident, Some(&r.rename)),
        };
        path.push(leaf);
        self.reach(&path);
        let first = path.iter().find(|s| **s != "crate" && **s != "self");
        if let (Some(first), Some(name)) = (first, name) {
            self.imports.push((first.to_string(), name.to_string()));
        }
    }

    /// Records the paths in a macro's tokens: each run of `name :: name ...`.
    fn scan(&mut self, tokens: TokenStream) {
        let tokens: Vec<TokenTree> = tokens.into_iter().collect();
        let (mut path, mut colons) = (Vec::new(), 0);
        for token in &tokens {
            match token {
                TokenTree::Ident(ident) if colons == 2 && !path.is_empty() => path.push(ident),
                TokenTree::Ident(ident) => path = vec![ident],
                TokenTree::Punct(p) if p.as_char() == ':' => {
                    colons += 1;
                    continue;
                }
                TokenTree::Group(group) => {
                    path.clear();
                    self.scan(group.stream());
                }
                _ => path.clear(),
            }
            colons = 0;
            self.reach(&path);
        }
    }
}

impl<'ast> Visit<'ast> for Source<'_> {
    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        self.use_tree(&item.tree, Vec::new());
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        self.reach(&path.segments.iter().map(|s| &s.ident).collect::<Vec<_>>());
        visit::visit_path(self, path);
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        self.scan(mac.tokens.clone());
        visit::visit_macro(self, mac);
    }

    fn visit_item_macro(&mut self, item: &'ast syn::ItemMacro) {
        let exported = item.attrs.iter().any(|a| a.path().is_ident("macro_export"));
        if let Some(name) = item.ident.as_ref().filter(|_| exported) {
            self.macros.push(name.to_string());
        }
        visit::visit_item_macro(self, item);
    }

    fn visit_item_mod(&mut self, item: &'ast syn::ItemMod) {
        let cfg_test = |attr: &&syn::Attribute| {
            attr.path().is_ident("cfg") && attr.parse_args::<Ident>().is_ok_and(|a| a == "test")
        };
        if let Some(cfg) = item.attrs.iter().find(cfg_test) {
            let end = match (&item.content, &item.semi) {
                (Some((brace, _)), _) => brace.span.close(),
                (None, semi) => semi.as_ref().map_or(item.ident.span(), |semi| semi.span),
            };
            let first = cfg.pound_token.span.start().line;
            self.test_modules.push(first..=end.end().line);
            return;
        }
        self.depth += 1;
        visit::visit_item_mod(self, item);
        self.depth -= 1;
    }
}

/// The lines that hold a token. A doc comment is a `#[doc = ..]` attribute whose tokens all
/// carry the comment's span: those are left out.
fn code_lines(tokens: TokenStream, lines: &mut BTreeSet<usize>) {
    let is_comment = |token: &TokenTree| {
        let text = token.span().source_text().unwrap_or_default();
        text.starts_with("//") || text.starts_with("/*")
    };
    for token in tokens.into_iter().filter(|token| !is_comment(token)) {
        let span = match &token {
            TokenTree::Group(group) => {
                code_lines(group.stream(), lines);
                lines.insert(group.span_close().start().line);
                group.span_open()
            }
            other => other.span(),
        };
        lines.extend(span.start().line..=span.end().line);
    }
}

/// The uses between top-level modules, `(from, to)`, each with the places that make it.
type Edges<'a> = BTreeMap<(&'a str, &'a str), Vec<String>>;

/// Each set of modules that use one another in a loop (more than one module), with the
/// shortest loop through its first module by name.
fn cycles<'a>(edges: &Edges<'a>) -> Vec<(Vec<&'a str>, Vec<&'a str>)> {
    let modules: BTreeSet<&str> = edges.keys().map(|(from, _)| *from).collect();
    let mut found: Vec<(Vec<&str>, Vec<&str>)> = Vec::new();
    for &start in &modules {
        let done = found
            .iter()
            .any(|(component, _)| component.contains(&start));
        let Some(lap) = shortest_walk(edges, start, start).filter(|_| !done) else {
            continue;
        };
        let both_ways = |&m: &&str| {
            shortest_walk(edges, start, m).is_some() && shortest_walk(edges, m, start).is_some()
        };
        found.push((modules.iter().copied().filter(both_ways).collect(), lap));
    }
    found
}

/// The shortest walk along `edges` from `from` to `to`, at least one step long.
fn shortest_walk<'a>(edges: &Edges<'a>, from: &'a str, to: &str) -> Option<Vec<&'a str>> {
    let (mut queue, mut seen) = (VecDeque::from([vec![from]]), BTreeSet::new());
    while let Some(walk) = queue.pop_front() {
        for &(_, next) in edges.keys().filter(|(at, _)| *at == walk[walk.len() - 1]) {
            let walk = [walk.as_slice(), &[next]].concat();
            if next == to {
                return Some(walk);
            }
            if seen.insert(next) {
                queue.push_back(walk);
            }
        }
    }
    None
}

/// The checker on small trees written inline: each problem is found, where it is.
mod samples {
    use super::*;

    /// Checks `files` and asserts that each problem starts as the one in `expected` does.
    fn assert_problems(files: &[(&str, &str)], expected: &[&str]) {
        let files: Vec<(String, String)> = files
            .iter()
            .map(|(rel, text)| (rel.to_string(), text.to_string()))
            .collect();
        let problems = check(&files);
        let each = problems
            .iter()
            .zip(expected)
            .all(|(p, start)| p.starts_with(start));
        assert!(
            each && problems.len() == expected.len(),
            "expected {expected:#?}\nfound {problems:#?}"
        );
    }

    #[test]
    fn a_tree_that_keeps_to_the_layers_passes() {
        let comments = r####"//! Like crate::store, but see [`crate::app::App`].
use std::fmt; // not crate::cache
/* crate::ops /* nested: crate::edge */ still a comment: crate::config */
/// [`crate::store::Store`]
pub fn f(s: &str) -> (&str, char, &str, &str) {
    (s, '"', "crate::store and \" crate::cache", r#"crate::app "quoted" "#)
}
#[cfg(test)]
mod tests {
    use crate::app::App;
}
"####;
        let exported = "#[macro_export]\nmacro_rules! keep { () => { $crate::trace_env::f() }; }";
        let files = [
            ("lib.rs", "pub mod domain;\npub use domain::key::Key;\n"),
            (
                "domain/mod.rs",
                "pub mod key;\nmod scope;\n#[cfg(test)]\nmod tests;\n",
            ),
            (
                "domain/key.rs",
                "use super::scope::Scope;\npub struct Key(Scope);\n",
            ),
            ("domain/scope.rs", comments),
            ("domain/tests.rs", "use crate::app::App;\n"),
            ("domain/tests/more.rs", "use crate::app::App;\n"),
            (
                "store.rs",
                "use crate::Key;\npub(crate) fn f() { crate::domain::f() }\n",
            ),
            ("cache/mod.rs", "mod entry;\n"),
            (
                "cache/entry.rs",
                "use crate::{config::Config, domain::key::Key};\n",
            ),
            ("config.rs", "use crate::domain::scope::Scope;\n"),
            ("app.rs", "use crate::{cache, config, store};\n"),
            (
                "ops/issue.rs",
                "use crate::app::App;\nuse crate::domain::*;\n",
            ),
            ("edge.rs", "use crate::ops::issue;\nkeygate::keep!();\n"),
            ("trace_env.rs", exported),
        ];
        assert_problems(&files, &[]);
    }

    #[test]
    fn a_cycle_is_reported_with_its_modules_and_the_lines_that_make_it() {
        let inner = "//! Inner.\n\npub fn f() -> crate::config::C {\n    crate::config::C\n}\n";
        let files = [
            ("config.rs", "use crate::domain::D;\n"),
            ("domain/mod.rs", "mod inner;\n"),
            ("domain/inner.rs", inner),
        ];
        let expected = [
            "cycle between top-level modules config -> domain -> config: config -> domain at \
             shared/src/config.rs:1: `use crate::domain::D;`, domain -> config at \
             shared/src/domain/inner.rs:3: `pub fn f() -> crate::config::C {`; all the uses \
             inside the cycle (config, domain): config -> domain, domain -> config; break it so \
             that the uses point one way",
            "shared/src/domain/inner.rs:3: `pub fn f() -> crate::config::C {`: `domain` may not \
             use `config`",
            "shared/src/domain/inner.rs:4: `crate::config::C`: `domain` may not use `config`",
        ];
        assert_problems(&files, &expected);

        let files = [
            ("domain.rs", "use crate::store::S;"),
            ("store.rs", "use crate::cache::C;"),
            ("cache.rs", "use crate::domain::D;"),
        ];
        let lap = "cycle between top-level modules cache -> domain -> store -> cache: ";
        assert_problems(
            &files,
            &[lap, "shared/src/domain.rs:1", "shared/src/store.rs:1"],
        );
    }

    #[test]
    fn a_use_the_layer_may_not_make_is_reported_with_its_line() {
        let key = "use std::fmt;\n\nuse crate::store::Store;\n";
        let files = [
            ("domain/mod.rs", "pub mod key;\n"),
            ("domain/key.rs", key),
            ("store.rs", ""),
        ];
        let expected = "shared/src/domain/key.rs:3: `use crate::store::Store;`: `domain` may not \
                        use `store` (it may use: nothing in the crate); move the code to the \
                        right layer, or change LAYERS if the architecture changed";
        assert_problems(&files, &[expected]);

        let macro_rules = "#[macro_export]\nmacro_rules! keep { () => {}; }\n";
        let files = [
            ("edge.rs", "crate::keep!();\n"),
            ("trace_env.rs", macro_rules),
        ];
        let expected = "shared/src/edge.rs:1: `crate::keep!();`: `edge` may not use `trace_env` \
                        (it may use: domain, config, store, cache, app, ops)";
        assert_problems(&files, &[expected]);
    }

    #[test]
    fn group_imports_super_reexports_expressions_and_macro_bodies_are_uses() {
        let config =
            "use crate::{\n    store::Row,\n    domain::{self, Key},\n    app::{App, S},\n};";
        let files = [
            ("config.rs", config),
            ("domain.rs", ""),
            ("store.rs", ""),
            ("app.rs", ""),
        ];
        let expected = [
            "shared/src/config.rs:4: `app::{App, S},`: `config` may not use `app`",
            "shared/src/config.rs:2: `store::Row,`: `config` may not use `store`",
        ];
        assert_problems(&files, &expected);

        let store = "mod codec;\nmod dynamo;\nmod inner {\n    use super::codec;\n}\n";
        let dynamo = "use super::codec::Row;\nuse super::super::cache::Cache;\n";
        let files = [
            ("store/mod.rs", store),
            ("store/dynamo.rs", dynamo),
            ("cache.rs", ""),
        ];
        let expected = "shared/src/store/dynamo.rs:2: `use super::super::cache::Cache;`: `store` \
                        may not use `cache`";
        assert_problems(&files, &[expected]);

        let lib = "pub mod domain;\npub mod store;\npub use store::{Store as Db, Row};\n";
        let files = [
            ("lib.rs", lib),
            ("domain.rs", "use crate::Db;\n"),
            ("store.rs", ""),
        ];
        let expected = "shared/src/domain.rs:1: `use crate::Db;`: `domain` may not use `store`";
        assert_problems(&files, &[expected]);

        let domain = "fn f() -> u8 {\n    info!(\"{}\", crate::store::X);\n    crate::cache::Y\n}";
        let files = [("domain.rs", domain), ("store.rs", ""), ("cache.rs", "")];
        let expected = [
            "shared/src/domain.rs:3: `crate::cache::Y`: `domain` may not use `cache`",
            "shared/src/domain.rs:2: `info!(\"{}\", crate::store::X);`: `domain` may not use",
        ];
        assert_problems(&files, &expected);
    }

    #[test]
    fn an_unknown_root_name_a_module_missing_from_the_table_and_bad_syntax_are_reported() {
        let expected = "shared/src/domain.rs:1: `use crate::Nothing;`: `crate::Nothing` is no \
                        top-level module, lib.rs re-export or exported macro; import it from the \
                        module that defines it";
        assert_problems(&[("domain.rs", "use crate::Nothing;\n")], &[expected]);

        let expected = "module `web` (shared/src/web.rs) is not in LAYERS: add it to the table, \
                        with the modules it may use";
        assert_problems(
            &[("web.rs", "use crate::domain::Key;"), ("domain.rs", "")],
            &[expected],
        );

        let expected = "shared/src/domain.rs:2: does not parse: ";
        assert_problems(&[("domain.rs", "fn f() {}\nfn (\n")], &[expected]);
    }

    #[test]
    fn a_file_over_the_limit_is_reported_with_its_count() {
        let code = |n: usize| {
            (0..n)
                .map(|i| format!("const C{i}: u8 = 0;\n"))
                .collect::<String>()
        };
        let padding = "// a comment\n\n/* a\n block */\n/// a doc comment\n".repeat(100);
        let tests = format!("#[cfg(test)]\nmod tests {{\n{}}}\n", code(100));
        let at_limit = format!("{padding}{}{padding}{tests}", code(MAX_LINES));
        assert_problems(&[("domain.rs", &at_limit)], &[]);

        let over = format!("{padding}{}{tests}", code(MAX_LINES + 1));
        let expected = format!(
            "shared/src/domain.rs: {} lines of code (not counting its #[cfg(test)] module, \
             comments and blank lines), over the limit of {MAX_LINES}: split it",
            MAX_LINES + 1
        );
        assert_problems(&[("domain.rs", &over)], &[&expected]);
    }
}
