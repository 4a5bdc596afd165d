//! Embeds bailiff's own configuration tree (`config/` at the workspace root: the
//! filter and action library, `jail.conf`, `fail2ban.conf`, `paths-*.conf`) and the
//! descriptions of the built-in backends (`crates/config/builtin/`) into the binary:
//! writes `$OUT_DIR/embedded.rs` with one `include_str!` per file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut entries: Vec<_> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with('.') {
            continue;
        }
        if p.is_dir() {
            walk(root, &p, out);
        } else if name.ends_with(".conf") || name.ends_with(".local") {
            println!("cargo:rerun-if-changed={}", p.display());
            let rel = p
                .strip_prefix(root)
                .expect("walked below root")
                .to_string_lossy()
                .replace('\\', "/");
            // the library's files win over a built-in file of the same name
            out.entry(rel).or_insert(p);
        }
    }
}

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let mut files = BTreeMap::new();
    let tree = manifest.join("../../config");
    walk(&tree, &tree, &mut files);
    let builtin = manifest.join("builtin");
    walk(&builtin, &builtin, &mut files);
    let mut src = String::from("pub static FILES: &[(&str, &str)] = &[\n");
    for (rel, path) in &files {
        let abs = path.canonicalize().unwrap_or_else(|_| path.clone());
        src.push_str(&format!("    ({rel:?}, include_str!({:?})),\n", abs));
    }
    src.push_str("];\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets it")).join("embedded.rs");
    std::fs::write(out, src).expect("write embedded.rs");
}
