//! `cargo run -p bailiff-config --example check [CONFDIR]`: print what `check` finds.
fn main() {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "/etc/fail2ban".into());
    match bailiff_config::check(std::path::Path::new(&dir)) {
        Ok(s) => println!("OK: {s:?}"),
        Err(errors) => {
            for e in errors {
                println!("ERROR: {e}");
            }
        }
    }
}
