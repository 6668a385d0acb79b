// SPDX-License-Identifier: MIT
//! The shape of the source tree, checked from the text of `src/`:
//!
//! - No import cycle among the top-level modules of `src/`. The code then
//!   reads bottom-up: each module can be understood from the ones it uses,
//!   which never lead back to it, and a change low in the stack cannot
//!   depend on something built on top of it.
//! - Every exported C function (`extern "C" fn nwal_*` in `src/ffi/`) has a
//!   body of at most [`MAX_EXPORT_BODY_LINES`] lines. The FFI layer is thin:
//!   pointer checks, conversions and the panic boundary live in shared
//!   helpers, each export only wires them to one engine call, so the rules
//!   of the boundary are written (and reviewed) once.
//!
//! Both read source text, not compiled code: comments, strings and char
//! literals are blanked first, and a file's `#[cfg(test)] mod tests` (by
//! convention its last item) is left out. A module uses another when its
//! code names it in a `crate::` path (`use crate::{a, b::C}` groups
//! included); a root re-export (`crate::Wal`, from `pub use wal::Wal` in
//! lib.rs) counts as a use of the module it comes from. `src/x.rs` and all
//! of `src/x/` are module `x`; lib.rs and `src/bin/` are not modules.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};

/// The longest body an exported C function may have, in lines (those
/// strictly between the line of its opening `{` and that of its closing `}`).
const MAX_EXPORT_BODY_LINES: usize = 20;

type Graph = BTreeMap<String, BTreeSet<String>>;

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `dir`, recursively, sorted.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
    out
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// The number of `#` of a raw string literal starting at `i` (`r"`, `r#"`,
/// `br##"`, ...), or `None` when no raw string starts there.
fn raw_string_hashes(b: &[u8], i: usize) -> Option<usize> {
    let after_prefix = match b.get(i..i + 2) {
        Some([b'b', b'r']) => i + 2,
        Some([b'r', _]) => i + 1,
        _ => return None,
    };
    if i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_') {
        return None;
    }
    let hashes = b[after_prefix..].iter().take_while(|&&c| c == b'#').count();
    (b.get(after_prefix + hashes) == Some(&b'"')).then_some(hashes)
}

/// The end (exclusive) of a char literal starting at the `'` at `i`, or
/// `None` when it is a lifetime or a loop label.
fn char_literal_end(b: &[u8], i: usize) -> Option<usize> {
    if b.get(i + 1) == Some(&b'\\') {
        // An escape: `\'`, `\n`, `\x7f`, `\u{..}`; the quote closes after it.
        let close = b.get(i + 3..)?.iter().position(|&c| c == b'\'')?;
        return Some(i + 4 + close);
    }
    // Exactly one character (1 to 4 bytes of UTF-8), then the closing quote.
    (2..=5)
        .find(|&n| {
            b.get(i + n) == Some(&b'\'')
                && std::str::from_utf8(&b[i + 1..i + n]).is_ok_and(|c| c.chars().count() == 1)
        })
        .map(|n| i + n + 1)
}

/// The end (exclusive) of the comment or literal starting at `i`, or `None`
/// when code starts there.
fn comment_or_literal_end(b: &[u8], i: usize) -> Option<usize> {
    if b[i..].starts_with(b"//") {
        return Some(
            b[i..]
                .iter()
                .position(|&c| c == b'\n')
                .map_or(b.len(), |n| i + n),
        );
    }
    if b[i..].starts_with(b"/*") {
        let (mut depth, mut j) = (0, i);
        while j < b.len() {
            if b[j..].starts_with(b"/*") {
                depth += 1;
                j += 2;
            } else if b[j..].starts_with(b"*/") {
                depth -= 1;
                j += 2;
                if depth == 0 {
                    break;
                }
            } else {
                j += 1;
            }
        }
        return Some(j);
    }
    if let Some(hashes) = raw_string_hashes(b, i) {
        let open = i + b[i..].iter().position(|&c| c == b'"').unwrap() + 1;
        let mut close = vec![b'"'];
        close.resize(1 + hashes, b'#');
        let len = b[open..].windows(close.len()).position(|w| w == close);
        return Some(len.map_or(b.len(), |n| open + n + close.len()));
    }
    match b[i] {
        b'"' => {
            let mut j = i + 1;
            while j < b.len() && b[j] != b'"' {
                j += if b[j] == b'\\' { 2 } else { 1 };
            }
            Some(j + 1)
        }
        b'\'' => char_literal_end(b, i),
        _ => None,
    }
}

/// `src` with every comment, string literal and char literal replaced by
/// spaces (newlines kept, so line numbers stay), leaving only code: a brace
/// or a `crate::` left in the result is one the compiler sees.
fn code_only(src: &str) -> String {
    let b = src.as_bytes();
    let mut out = b.to_vec();
    let mut i = 0;
    while i < b.len() {
        match comment_or_literal_end(b, i) {
            Some(end) => {
                let end = end.min(b.len());
                for c in &mut out[i..end] {
                    if *c != b'\n' {
                        *c = b' ';
                    }
                }
                i = end;
            }
            None => i += 1,
        }
    }
    String::from_utf8(out).expect("blanking keeps the text valid UTF-8")
}

/// The code of a file without its trailing `#[cfg(test)] mod tests` (test
/// modules are conventionally the last item of a file).
fn without_test_module(code: &str) -> &str {
    let mut from = 0;
    while let Some(at) = code[from..].find("#[cfg(test)]") {
        let at = from + at;
        let rest = code[at + "#[cfg(test)]".len()..].trim_start();
        if rest.starts_with("mod tests") {
            return &code[..at];
        }
        from = at + 1;
    }
    code
}

/// The top-level module of a file under `src/`: `src/x.rs` and everything
/// in `src/x/` are module `x`. `None` for the crate root (`lib.rs`) and for
/// `src/bin/`, which are not modules of the library.
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).ok()?;
    let first = rel.components().next()?.as_os_str().to_str()?;
    if rel.components().count() > 1 {
        return (first != "bin").then(|| first.to_string());
    }
    let name = first.strip_suffix(".rs")?;
    (name != "lib").then(|| name.to_string())
}

/// The code (comments, strings and test modules removed) of each top-level
/// module, all its files concatenated.
fn module_code(src: &Path) -> BTreeMap<String, String> {
    let mut code: BTreeMap<String, String> = BTreeMap::new();
    for file in rust_files(src) {
        if let Some(module) = module_of(src, &file) {
            let text = code_only(&read(&file));
            let entry = code.entry(module).or_default();
            entry.push_str(without_test_module(&text));
            entry.push('\n');
        }
    }
    code
}

fn is_ident_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

fn leading_ident(s: &str) -> &str {
    let s = s.trim_start();
    let n = s.bytes().take_while(|&c| is_ident_byte(c)).count();
    &s[..n]
}

/// `group` starts with `{`: the text inside its matching `}`.
fn brace_group(group: &str) -> &str {
    let mut depth = 0;
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return &group[1..i];
                }
            }
            _ => {}
        }
    }
    &group[1..]
}

/// The items of a use group's inside, split at its top-level commas.
fn group_items(inside: &str) -> Vec<&str> {
    let mut items = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in inside.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&inside[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&inside[start..]);
    items
        .into_iter()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect()
}

/// The first path segment after each `crate::` in `code`: `crate::wal::Wal`
/// gives `wal`, `use crate::{a, b::C}` gives `a` and `b`.
fn crate_paths(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(at) = code[from..].find("crate::") {
        let at = from + at;
        from = at + "crate::".len();
        if at > 0 && is_ident_byte(code.as_bytes()[at - 1]) {
            continue;
        }
        let rest = &code[from..];
        if rest.starts_with('{') {
            for item in group_items(brace_group(rest)) {
                out.push(leading_ident(item).to_string());
            }
        } else {
            out.push(leading_ident(rest).to_string());
        }
    }
    out.retain(|name| !name.is_empty() && name != "self");
    out
}

/// The names `src/lib.rs` re-exports at the root, each with the module it
/// comes from: `pub use x::{A, B as C};` gives `A -> x`, `C -> x`.
fn root_reexports(lib_code: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut from = 0;
    while let Some(at) = lib_code[from..].find("\npub use ") {
        let start = from + at + "\npub use ".len();
        let end = start
            + lib_code[start..]
                .find(';')
                .unwrap_or(lib_code.len() - start);
        from = end;
        let path = lib_code[start..end].trim();
        let module = leading_ident(path).to_string();
        let Some(brace) = path.find('{') else {
            let name = path.rsplit([':', ' ']).next().unwrap_or("");
            out.insert(name.to_string(), module);
            continue;
        };
        for item in group_items(brace_group(&path[brace..])) {
            let name = item.rsplit([':', ' ']).next().unwrap_or("");
            out.insert(name.to_string(), module.clone());
        }
    }
    out
}

/// Module -> the modules its code names through `crate::` (directly, or
/// through a root re-export). References to itself are left out.
fn dependency_graph(src: &Path) -> Graph {
    let code = module_code(src);
    let lib = format!("\n{}", code_only(&read(&src.join("lib.rs"))));
    let reexports = root_reexports(&lib);
    let mut graph = Graph::new();
    for (module, text) in &code {
        let deps = graph.entry(module.clone()).or_default();
        for name in crate_paths(text) {
            let target = if code.contains_key(&name) {
                name
            } else if let Some(m) = reexports.get(&name) {
                m.clone()
            } else {
                continue;
            };
            if target != *module && code.contains_key(&target) {
                deps.insert(target);
            }
        }
    }
    graph
}

/// Every node reachable from `from` in one or more steps.
fn reachable(graph: &Graph, from: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut todo: Vec<&str> = graph[from].iter().map(String::as_str).collect();
    while let Some(n) = todo.pop() {
        if seen.insert(n.to_string()) {
            todo.extend(graph.get(n).into_iter().flatten().map(String::as_str));
        }
    }
    seen
}

/// A shortest cycle through `start` using only nodes of `within`, as the
/// list of its nodes from `start` back to `start`.
fn shortest_cycle(graph: &Graph, start: &str, within: &BTreeSet<String>) -> Vec<String> {
    let mut parent: BTreeMap<&str, &str> = BTreeMap::new();
    let mut queue = VecDeque::from([start]);
    while let Some(n) = queue.pop_front() {
        for next in &graph[n] {
            if next == start {
                let mut path = vec![n.to_string()];
                let mut at = n;
                while at != start {
                    at = parent[at];
                    path.push(at.to_string());
                }
                path.reverse();
                path.push(start.to_string());
                return path;
            }
            if within.contains(next) && !parent.contains_key(next.as_str()) {
                parent.insert(next, n);
                queue.push_back(next);
            }
        }
    }
    unreachable!("{start} is on a cycle within {within:?}")
}

/// One cycle per strongly connected component of more than one module,
/// each starting at the component's first module by name.
fn cycles(graph: &Graph) -> Vec<Vec<String>> {
    let reach: BTreeMap<&str, BTreeSet<String>> = graph
        .keys()
        .map(|n| (n.as_str(), reachable(graph, n)))
        .collect();
    let mut done = BTreeSet::new();
    let mut out = Vec::new();
    for n in graph.keys() {
        if done.contains(n) || !reach[n.as_str()].contains(n) {
            continue;
        }
        let component: BTreeSet<String> = reach[n.as_str()]
            .iter()
            .filter(|m| reach[m.as_str()].contains(n))
            .cloned()
            .collect();
        out.push(shortest_cycle(graph, n, &component));
        done.extend(component);
    }
    out
}

#[test]
fn no_import_cycle_among_the_modules_of_src() {
    let graph = dependency_graph(&src_dir());
    assert!(graph.len() > 1, "no modules found under src/: {graph:?}");
    let found: Vec<String> = cycles(&graph).iter().map(|c| c.join(" -> ")).collect();
    assert!(
        found.is_empty(),
        "import cycles among the modules of src/ (each module should use only modules \
         below it):\n  {}",
        found.join("\n  ")
    );
}

/// Each exported C function in `code` (blanked by [`code_only`], which
/// leaves `extern "C" fn nwal_x` as `extern     fn nwal_x`): its name, the
/// line (1-based) it is declared on and the number of lines of its body.
fn exported_fn_bodies(code: &str) -> Vec<(String, usize, usize)> {
    let line_of = |at: usize| code[..at].matches('\n').count() + 1;
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(at) = code[from..].find("fn nwal_") {
        let at = from + at;
        from = at + "fn ".len();
        if !code[..at].trim_end().ends_with("extern") {
            continue;
        }
        let name = leading_ident(&code[from..]).to_string();
        let open = from + code[from..].find('{').expect("an exported fn has a body");
        let close = open + 1 + brace_group(&code[open..]).len();
        out.push((name, line_of(at), line_of(close) - line_of(open) - 1));
        from = close;
    }
    out
}

#[test]
fn exported_c_functions_are_thin() {
    let src = src_dir();
    let mut long = Vec::new();
    let mut exports = 0;
    for file in rust_files(&src.join("ffi")) {
        let rel = file.strip_prefix(&src).unwrap().display().to_string();
        for (name, line, lines) in exported_fn_bodies(&code_only(&read(&file))) {
            exports += 1;
            if lines > MAX_EXPORT_BODY_LINES {
                long.push(format!("{name} (src/{rel}:{line}): {lines} lines"));
            }
        }
    }
    assert!(
        exports > 0,
        "no extern \"C\" fn nwal_* found under src/ffi/"
    );
    assert!(
        long.is_empty(),
        "exported C functions with bodies over {MAX_EXPORT_BODY_LINES} lines (move the work \
         into the helpers of src/ffi or into the engine):\n  {}",
        long.join("\n  ")
    );
}

#[test]
fn code_only_blanks_comments_strings_and_chars() {
    let src = r##"fn f<'a, 'b>(x: &'a str) -> char { // }
    let s = "{\"}"; /* { /* } */ */
    let r = r#"}"#;
    let c = ['{', '\'', '"', '\u{7d}'];
}
"##;
    let code = code_only(src);
    assert_eq!(code.lines().count(), src.lines().count());
    assert_eq!(code.matches('{').count(), 1, "{code}");
    assert_eq!(code.matches('}').count(), 1, "{code}");
    assert!(code.contains("fn f<'a, 'b>(x: &'a str)"), "{code}");
}

#[test]
fn crate_paths_and_reexports_resolve_to_modules() {
    let code = "use crate::{a, b::C, d::{E, F}};\nlet x = crate::g::h();\nlet y = $crate::i;\n";
    assert_eq!(crate_paths(code), ["a", "b", "d", "g", "i"]);
    let lib = "\npub use a::{A, B as Bee};\npub use c::D;\npub use e::{\n    F,\n    G,\n};\n";
    let want: BTreeMap<String, String> =
        [("A", "a"), ("Bee", "a"), ("D", "c"), ("F", "e"), ("G", "e")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
    assert_eq!(root_reexports(lib), want);
}

#[test]
fn cycles_are_found_and_printed_from_their_first_module() {
    let graph: Graph = [("a", "b"), ("b", "c"), ("c", "a"), ("c", "d"), ("d", "d")]
        .into_iter()
        .fold(Graph::new(), |mut g, (from, to)| {
            g.entry(from.to_string())
                .or_default()
                .insert(to.to_string());
            g.entry(to.to_string()).or_default();
            g
        });
    let found: Vec<String> = cycles(&graph).iter().map(|c| c.join(" -> ")).collect();
    assert_eq!(found, ["a -> b -> c -> a", "d -> d"]);
}
