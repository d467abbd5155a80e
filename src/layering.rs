//! The crate's layering, checked on its own source: the store knows no
//! protocol, handlers reach
//! the database only through the services, and no two top-level modules
//! depend on each other. A change that breaks a rule fails `cargo test`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Which top-level modules each top-level module may not use. (The
/// verification core is a crate of its own, `verify/`: Cargo already keeps
/// it from naming keygate.)
const FORBIDDEN: &[(&str, &[&str])] = &[
    ("store", &["auth", "cli", "config", "legacy", "oauth", "telemetry", "web"]),
    ("secrets", &["auth", "cli", "config", "legacy", "oauth", "store", "web"]),
    ("legacy", &["auth", "cli", "oauth", "web"]),
    ("oauth", &["cli", "legacy", "web"]),
    ("auth", &["cli", "legacy", "web"]),
];

/// The files of `web` that may name the store: where the shared state is
/// assembled, the endpoints that report on the database itself, and the
/// mapping of its errors. Handlers call services.
const WEB_MAY_USE_STORE: &[&str] = &["web/mod.rs", "web/health.rs", "web/metrics.rs", "web/error.rs"];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `dir`, relative to `src/`.
fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir).expect("read src").filter_map(Result::ok).collect();
    entries.sort_by_key(std::fs::DirEntry::path);
    for entry in entries {
        let path = entry.path();
        if path.is_dir() {
            files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path.strip_prefix(src()).expect("under src").to_path_buf());
        }
    }
}

/// A file's code without its `#[cfg(test)] mod tests` (tests may use anything).
fn code(path: &Path) -> String {
    let text = std::fs::read_to_string(src().join(path)).expect("read source");
    let lines: Vec<&str> = text.lines().collect();
    let end = (0..lines.len())
        .find(|&i| {
            lines[i].trim() == "#[cfg(test)]"
                && lines[i + 1..].iter().take(3).any(|l| l.trim_start().starts_with("mod tests"))
        })
        .unwrap_or(lines.len());
    lines[..end].join("\n")
}

/// The top-level module a file belongs to (`auth/login.rs` → `auth`).
fn module_of(path: &Path) -> String {
    let first = path.components().next().expect("a path").as_os_str().to_string_lossy().into_owned();
    first.strip_suffix(".rs").unwrap_or(&first).to_owned()
}

/// The top-level modules the code names as `crate::name`.
fn uses(code: &str, modules: &BTreeSet<String>) -> BTreeSet<String> {
    code.match_indices("crate::")
        .map(|(i, _)| {
            code[i + 7..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect::<String>()
        })
        .filter(|m| modules.contains(m))
        .collect()
}

/// Top-level module → the other top-level modules its non-test code uses.
fn graph() -> (BTreeMap<String, BTreeSet<String>>, Vec<PathBuf>) {
    let mut all = Vec::new();
    files(&src(), &mut all);
    all.retain(|p| p != Path::new("lib.rs") && p != Path::new("main.rs") && p != Path::new("layering.rs"));
    let modules: BTreeSet<String> = all.iter().map(|p| module_of(p)).collect();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for path in &all {
        let module = module_of(path);
        let mut used = uses(&code(path), &modules);
        used.remove(&module);
        graph.entry(module).or_default().extend(used);
    }
    (graph, all)
}

#[test]
fn modules_use_only_the_layers_below_them() {
    let (graph, _) = graph();
    let mut broken = Vec::new();
    for (module, forbidden) in FORBIDDEN {
        let used = graph.get(*module).unwrap_or_else(|| panic!("no module {module}"));
        broken.extend(forbidden.iter().filter(|f| used.contains(**f)).map(|f| format!("{module} uses {f}")));
    }
    assert!(broken.is_empty(), "layering broken: {broken:?}");
}

#[test]
fn no_two_top_level_modules_depend_on_each_other() {
    let (graph, _) = graph();
    // Depth-first search for a cycle, reporting its path.
    fn visit<'a>(
        node: &'a str,
        graph: &'a BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|n| *n == node) {
            let mut cycle: Vec<String> = path[start..].iter().map(|s| (*s).to_owned()).collect();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if !done.insert(node) {
            return None;
        }
        path.push(node);
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        None
    }
    let mut done = BTreeSet::new();
    for node in graph.keys() {
        let cycle = visit(node, &graph, &mut Vec::new(), &mut done);
        assert!(cycle.is_none(), "modules in a cycle: {}", cycle.unwrap_or_default().join(" → "));
    }
}

#[test]
fn web_handlers_reach_the_database_only_through_services() {
    let (_, all) = graph();
    let handlers = all.iter().filter(|p| {
        p.starts_with("web") && !WEB_MAY_USE_STORE.iter().any(|allowed| p.as_path() == Path::new(allowed))
    });
    let offenders: Vec<String> = handlers
        .filter(|p| {
            let code = code(p);
            code.contains("crate::store") || code.contains("state.store") || code.contains(".store.")
        })
        .map(|p| p.display().to_string())
        .collect();
    assert!(offenders.is_empty(), "handlers using the store directly: {offenders:?}");
}

#[test]
fn services_leave_files_and_wire_formats_to_their_drivers() {
    let (_, all) = graph();
    let services = ["auth", "legacy", "oauth", "store"];
    let mut offenders = Vec::new();
    for path in all.iter().filter(|p| services.contains(&module_of(p).as_str())) {
        let code = code(path);
        if ["std::fs", "tokio::fs", "File::open"].iter().any(|io| code.contains(io)) {
            offenders.push(format!("{} reads or writes files", path.display()));
        }
        if module_of(path) == "auth" && code.contains("serde_json::Value") {
            offenders.push(format!("{} speaks wire JSON", path.display()));
        }
    }
    assert!(offenders.is_empty(), "{offenders:?}");
}

#[test]
fn the_check_sees_the_dependencies_it_forbids() {
    // Guards the guard: the parser finds what the rules are about.
    let (graph, _) = graph();
    assert!(graph["web"].contains("auth") && graph["auth"].contains("store"), "{graph:?}");
    let modules = ["store", "legacy"].iter().map(|s| (*s).to_owned()).collect();
    assert_eq!(uses("use crate::store::{App};\nlet x = crate::legacy::Call;", &modules), modules);
}
