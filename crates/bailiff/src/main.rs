//! `bailiff`: the thin binary. It parses the command line and wires the libraries.
fn main() {
    println!("bailiff {}", env!("CARGO_PKG_VERSION"));
}
