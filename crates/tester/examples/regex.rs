//! `bailiff regex` as a standalone program, for development and benchmarks before
//! (or without) the main binary: `cargo run --release -p bailiff-tester --example regex -- LOG REGEX`.

use clap::Parser;

fn main() {
    let args = bailiff_tester::RegexArgs::parse();
    let stdout = std::io::stdout();
    let stderr = std::io::stderr();
    let code = match bailiff_tester::run(&args, &mut stdout.lock(), &mut stderr.lock()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("ERROR: {e}");
            bailiff_tester::EXIT_FAILURE
        }
    };
    std::process::exit(code);
}
