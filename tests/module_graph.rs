//! The modules of the conversation import each other without a cycle: `conversation.rs` (the
//! bot, which runs the steps) uses its child modules, and each child uses only children below it
//! (shared replies, keyboards, the session, payloads, ids), never the parent. A cycle makes every
//! module of the loop depend on all the others: none can be read, moved or tested alone.
//!
//! The check reads the sources: in a child, each `super::X` and `crate::conversation::X` (and each
//! name of a `super::{…}` group) is an edge to the sibling module `X`, or to the parent when `X`
//! is not a module (a type the parent defines or re-exports); in the parent, each `child::` path
//! is an edge to that child. `mod child;` declarations are structure, not edges.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The parent module's name in the graph.
const PARENT: &str = "conversation";

type Graph = BTreeMap<String, BTreeSet<String>>;

/// `source` with its comments blanked and its string and character literals emptied, so that
/// words in them are not taken for paths (a doc comment may well name `super::Bot`).
fn code_only(source: &str) -> String {
    let chars: Vec<char> = source.chars().collect();
    let mut out = String::with_capacity(source.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            out.push(' ');
        } else if c == 'r' && matches!(next, Some('"') | Some('#')) && !ident_before(&chars, i) {
            // A raw string: r"…", r#"…"#.
            let mut j = i + 1;
            let mut hashes = 0;
            while chars.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if chars.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            j += 1;
            while j < chars.len() {
                if chars[j] == '"' && (1..=hashes).all(|h| chars.get(j + h) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            out.push_str("\"\"");
            i = j;
        } else if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("\"\"");
        } else if c == '\'' {
            // A character literal ('x', '\n', '\u{2013}'); otherwise a lifetime or a label.
            let end = if next == Some('\\') {
                (i + 2..chars.len()).find(|&j| chars[j] == '\'')
            } else {
                (chars.get(i + 2) == Some(&'\'')).then_some(i + 2)
            };
            match end {
                Some(end) => {
                    out.push_str("' '");
                    i = end + 1;
                }
                None => {
                    out.push(c);
                    i += 1;
                }
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Whether the character before `i` continues a word or a path (`x::`), so that a match at
/// `i` is not the start of one.
fn ident_before(chars: &[char], i: usize) -> bool {
    i > 0 && (is_ident(chars[i - 1]) || chars[i - 1] == ':')
}

/// The first names of the use tree at the start of `rest`: `X` of `X::…`, each `X` of
/// `{X, Y::…, self}`; `*` for a glob.
fn first_names(rest: &str) -> Vec<String> {
    let rest = rest.trim_start();
    if let Some(group) = rest.strip_prefix('{') {
        let mut names = Vec::new();
        let mut depth = 0;
        let mut start = true;
        for (k, c) in group.char_indices() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => break,
                '}' => depth -= 1,
                ',' if depth == 0 => start = true,
                c if start && !c.is_whitespace() => {
                    start = false;
                    names.extend(first_names(&group[k..]));
                }
                _ => {}
            }
        }
        return names;
    }
    if rest.starts_with('*') {
        return vec!["*".to_owned()];
    }
    let name: String = rest.chars().take_while(|c| is_ident(*c)).collect();
    if name.is_empty() { Vec::new() } else { vec![name] }
}

/// What follows each occurrence of `prefix` that starts a path (not the middle of another).
fn after<'a>(code: &'a str, prefix: &str) -> Vec<&'a str> {
    let chars: Vec<char> = code.chars().collect();
    code.match_indices(prefix)
        .filter(|(at, _)| !ident_before(&chars, code[..*at].chars().count()))
        .map(|(at, _)| &code[at + prefix.len()..])
        .collect()
}

/// The modules `code`, the source of `module`, uses among `modules` (`PARENT` and its children).
fn edges(module: &str, code: &str, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let mut used = BTreeSet::new();
    let sibling_or_parent = |name: &str| -> Option<String> {
        match name {
            // `super::super::…` leaves the conversation: not an edge of this graph.
            "super" => None,
            "self" | "*" => Some(PARENT.to_owned()),
            name if name != PARENT && modules.contains(name) => Some(name.to_owned()),
            _ => Some(PARENT.to_owned()),
        }
    };
    let mut paths: Vec<&str> = after(code, "crate::conversation::");
    if module != PARENT {
        paths.extend(after(code, "super::"));
    } else {
        paths.extend(after(code, "self::"));
    }
    for rest in paths {
        used.extend(first_names(rest).iter().filter_map(|n| sibling_or_parent(n)));
    }
    // `crate::conversation` itself (`use crate::conversation;`).
    let whole = after(code, "crate::conversation");
    if whole.iter().any(|rest| !rest.starts_with("::")) {
        used.insert(PARENT.to_owned());
    }
    if module == PARENT {
        // The parent names its children directly: `flow::step`, `use session::Session`.
        for child in modules.iter().filter(|m| *m != PARENT) {
            if !after(code, &format!("{child}::")).is_empty() {
                used.insert(child.clone());
            }
        }
    }
    used.remove(module);
    used
}

/// The graph of `sources` (module name, source), after a check that no module holds an inline
/// module, where `super` would mean something else.
fn graph(sources: &[(String, String)]) -> Graph {
    let modules: BTreeSet<String> = sources.iter().map(|(m, _)| m.clone()).collect();
    let mut graph = Graph::new();
    for (module, source) in sources {
        let code = code_only(source);
        let inline = code.split("mod ").skip(1).any(|rest| {
            let rest = rest.trim_start_matches(|c: char| is_ident(c) || c.is_whitespace());
            rest.starts_with('{')
        });
        assert!(!inline, "{module} holds an inline module: teach this check what its `super` means");
        graph.insert(module.clone(), edges(module, &code, &modules));
    }
    graph
}

/// A cycle of `graph`, as the path that closes it (`a → b → a`), if it has one.
fn cycle(graph: &Graph) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    fn visit(graph: &Graph, node: &str, marks: &mut BTreeMap<String, Mark>, path: &mut Vec<String>) -> bool {
        marks.insert(node.to_owned(), Mark::Open);
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            match marks.get(next).copied().unwrap_or(Mark::New) {
                Mark::Open => {
                    let from = path.iter().position(|n| n == next).unwrap();
                    path.drain(..from);
                    path.push(next.clone());
                    return true;
                }
                Mark::New if visit(graph, next, marks, path) => return true,
                _ => {}
            }
        }
        marks.insert(node.to_owned(), Mark::Done);
        path.pop();
        false
    }
    let mut marks = BTreeMap::new();
    for node in graph.keys() {
        let mut path = Vec::new();
        if marks.get(node).copied().unwrap_or(Mark::New) == Mark::New
            && visit(graph, node, &mut marks, &mut path)
        {
            return Some(path);
        }
    }
    None
}

/// `src/conversation.rs` and every `src/conversation/*.rs`, by module name.
fn conversation_sources() -> Vec<(String, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut sources =
        vec![(PARENT.to_owned(), std::fs::read_to_string(src.join("conversation.rs")).unwrap())];
    let mut files: Vec<_> = std::fs::read_dir(src.join(PARENT))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "rs"))
        .collect();
    files.sort();
    for file in files {
        let name = file.file_stem().unwrap().to_string_lossy().into_owned();
        sources.push((name, std::fs::read_to_string(&file).unwrap()));
    }
    sources
}

fn show(graph: &Graph) -> String {
    graph.iter().map(|(m, uses)| format!("  {m} → {uses:?}\n")).collect()
}

#[test]
fn the_conversation_modules_import_each_other_without_a_cycle() {
    let graph = graph(&conversation_sources());
    // The check sees the imports at all: a reader that found none would pass any code.
    assert!(graph[PARENT].contains("flow"), "the bot runs the steps:\n{}", show(&graph));
    assert!(graph["flow"].contains("bill") && graph["bill"].contains("menus"), "{}", show(&graph));
    if let Some(cycle) = cycle(&graph) {
        panic!("import cycle: {}\nthe graph:\n{}", cycle.join(" → "), show(&graph));
    }
}

#[test]
fn no_conversation_module_imports_the_bot_that_runs_it() {
    let graph = graph(&conversation_sources());
    let importers: Vec<&String> =
        graph.iter().filter(|(m, uses)| *m != PARENT && uses.contains(PARENT)).map(|(m, _)| m).collect();
    assert!(
        importers.is_empty(),
        "{importers:?} import from conversation.rs: move what they need into a module of its own"
    );
}

fn sources(files: &[(&str, &str)]) -> Vec<(String, String)> {
    files.iter().map(|(m, s)| (m.to_string(), s.to_string())).collect()
}

#[test]
fn the_check_finds_a_cycle_through_the_parent_and_between_siblings() {
    // A step that takes the parent's session, run by the parent.
    let through_parent = sources(&[
        (PARENT, "mod flow;\nfn turn() { flow::step(); }"),
        ("flow", "use super::Session;\npub fn step() {}"),
    ]);
    assert_eq!(cycle(&graph(&through_parent)).unwrap(), ["conversation", "flow", "conversation"]);
    // Two siblings that need each other, one through a group, one by a full path.
    let siblings = sources(&[
        (PARENT, "mod a; mod b; mod c;"),
        ("a", "use super::{c, b::Thing};"),
        ("b", "fn f() -> bool { crate::conversation::c::g() }"),
        ("c", "use super::{\n    reply::Reply,\n    a::{self, x},\n};"),
        ("reply", ""),
    ]);
    let found = cycle(&graph(&siblings)).unwrap();
    assert_eq!(found.first(), found.last());
    assert!(found.contains(&"a".to_owned()) && found.contains(&"c".to_owned()), "{found:?}");
}

#[test]
fn the_check_ignores_comments_strings_and_paths_that_leave_the_conversation() {
    let graph = graph(&sources(&[
        (PARENT, "mod a; mod b;\n/// [`b::f`]\nfn g() { a::f(); let s = \"b::f\"; }"),
        ("a", "//! Run by [`super::Bot`].\nuse super::b; /* super::Bot */ use super::super::views;"),
        ("b", "fn f<'a>(x: &'a str) -> char { let _ = r#\"super::Bot\"#; '\"' }\nuse crate::store;"),
    ]));
    assert_eq!(graph[PARENT], BTreeSet::from(["a".to_owned()]));
    assert_eq!(graph["a"], BTreeSet::from(["b".to_owned()]));
    assert!(graph["b"].is_empty(), "{:?}", graph["b"]);
    assert_eq!(cycle(&graph), None);
}
