//! `cargo xtask check-modules`: cycles between the modules of each crate under lib/. A module
//! that uses another which (directly or through others) uses it back cannot be understood,
//! tested or moved alone; split by resource, the graph stays a DAG.
//!
//! The graph is found by a text scan, not by the compiler: each `crate::`, `super::` and
//! `self::` path in a module's code or doc comments (rustdoc resolves their links) is an edge
//! to the deepest module it names (graph says what is left out). Every strongly connected
//! component of more than one module is reported, with the first reference of each edge (in
//! code when there is one, else marked `doc link only`).

mod graph;
mod lex;
mod scan;

use std::path::{Path, PathBuf};

use graph::{Edges, Module};

/// Checks every crate in `dirs` (default `root`/lib): a directory with a src/ is one, any
/// other is searched one level down. False when any crate has a cycle.
pub fn run(root: &Path, dirs: &[PathBuf]) -> anyhow::Result<bool> {
    let default = [root.join("lib")];
    let mut crates = Vec::new();
    for dir in if dirs.is_empty() { &default[..] } else { dirs } {
        crates.extend(crates_in(dir)?);
    }
    let mut cycles = 0;
    for krate in &crates {
        cycles += check(root, krate)?;
    }
    if cycles > 0 {
        eprintln!("{cycles} module cycle(s) in {} crate(s)", crates.len());
    } else {
        eprintln!("no module cycles in {} crate(s)", crates.len());
    }
    Ok(cycles == 0)
}

/// `dir` if it holds a src/, else the directories under it that do.
fn crates_in(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    if dir.join("src").is_dir() {
        return Ok(vec![dir.to_path_buf()]);
    }
    let mut crates = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.join("src").is_dir() {
            crates.push(path);
        }
    }
    crates.sort();
    Ok(crates)
}

/// Prints the crate's cycles, each with the references that close it; returns how many.
fn check(root: &Path, krate: &Path) -> anyhow::Result<usize> {
    let edges = graph::edges(krate)?;
    let show = |p: &Path| p.strip_prefix(root).unwrap_or(p).display().to_string();
    let cycles: Vec<_> = components(&edges).into_iter().filter(|c| c.len() > 1).collect();
    for cycle in &cycles {
        let names: Vec<String> = cycle.iter().map(name).collect();
        eprintln!("{}: cycle among {} modules: {}", show(krate), cycle.len(), names.join(", "));
        for from in cycle {
            for (to, at) in edges[from].iter().filter(|(to, _)| cycle.contains(to)) {
                let how = if at.doc_only { ", doc link only" } else { "" };
                eprintln!("  {} -> {}  ({}:{}{how})", name(from), name(to), show(&at.file), at.line);
            }
        }
    }
    Ok(cycles.len())
}

fn name(module: &Module) -> String {
    if module.is_empty() { "crate".to_owned() } else { module.join("::") }
}

/// The strongly connected components (Tarjan's algorithm), each sorted, largest first.
fn components(edges: &Edges) -> Vec<Vec<Module>> {
    let modules: Vec<&Module> = edges.keys().collect();
    let index = |m: &Module| modules.binary_search(&m).expect("an edge ends at a module");
    let next: Vec<Vec<usize>> = edges.values().map(|to| to.keys().map(index).collect()).collect();
    let mut tarjan =
        Tarjan { next: &next, index: vec![None; modules.len()], low: vec![0; modules.len()], ..Tarjan::default() };
    for v in 0..modules.len() {
        if tarjan.index[v].is_none() {
            tarjan.visit(v);
        }
    }
    let mut out: Vec<Vec<Module>> = tarjan
        .out
        .into_iter()
        .map(|mut c| {
            c.sort_unstable();
            c.into_iter().map(|v| modules[v].clone()).collect()
        })
        .collect();
    out.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
    out
}

#[derive(Default)]
struct Tarjan<'a> {
    next: &'a [Vec<usize>],
    index: Vec<Option<usize>>,
    low: Vec<usize>,
    count: usize,
    stack: Vec<usize>,
    out: Vec<Vec<usize>>,
}

impl Tarjan<'_> {
    fn visit(&mut self, v: usize) {
        self.index[v] = Some(self.count);
        self.low[v] = self.count;
        self.count += 1;
        self.stack.push(v);
        for &w in self.next[v].iter() {
            match self.index[w] {
                None => {
                    self.visit(w);
                    self.low[v] = self.low[v].min(self.low[w]);
                }
                Some(iw) if self.stack.contains(&w) => self.low[v] = self.low[v].min(iw),
                Some(_) => {}
            }
        }
        if Some(self.low[v]) == self.index[v] {
            self.pop_component(v);
        }
    }

    /// The stack down to `v`: one component.
    fn pop_component(&mut self, v: usize) {
        let mut component = Vec::new();
        while let Some(w) = self.stack.pop() {
            component.push(w);
            if w == v {
                break;
            }
        }
        self.out.push(component);
    }
}
