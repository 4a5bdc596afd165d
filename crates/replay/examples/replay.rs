//! `bailiff replay` as a standalone program, for development and benchmarks before (or
//! without) the main binary:
//! `cargo run --release -p bailiff-replay --example replay -- [OPTIONS] LOG...`.

use clap::Parser;

fn main() {
    let args = bailiff_replay::ReplayArgs::parse();
    let stdout = std::io::stdout();
    let stderr = std::io::stderr();
    let code = match bailiff_replay::run(&args, &mut stdout.lock(), &mut stderr.lock()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("ERROR: {e}");
            bailiff_replay::EXIT_FAILURE
        }
    };
    std::process::exit(code);
}
