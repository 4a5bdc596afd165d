//! Writes a synthetic auth.log of an exposed host (see `bailiff_replay::synth`):
//! `gen_authlog OUT START_EPOCH DAYS ATTACKERS [SEED]`.

use std::io::{BufWriter, Write};

fn main() {
    let a: Vec<String> = std::env::args().collect();
    if a.len() < 5 {
        eprintln!("usage: gen_authlog OUT START_EPOCH DAYS ATTACKERS [SEED]");
        std::process::exit(2);
    }
    let num = |i: usize| -> f64 {
        a[i].parse().unwrap_or_else(|_| {
            eprintln!("not a number: {}", a[i]);
            std::process::exit(2)
        })
    };
    let (start, days, attackers) = (num(2), num(3), num(4) as u32);
    let seed = a.get(5).and_then(|s| s.parse().ok()).unwrap_or(1);
    let spec = bailiff_replay::synth::exposed_host(start, days * 86_400.0, attackers, seed);
    let file = std::fs::File::create(&a[1]).unwrap_or_else(|e| {
        eprintln!("{}: {e}", a[1]);
        std::process::exit(1)
    });
    let mut out = BufWriter::with_capacity(1 << 20, file);
    match bailiff_replay::synth::generate(&spec, &mut out).and_then(|w| out.flush().map(|_| w)) {
        Ok(w) => {
            let failures: usize = w.failures.values().map(Vec::len).sum();
            println!(
                "{}: {} lines, {} failure lines from {} addresses",
                a[1],
                w.lines,
                failures,
                w.failures.len()
            );
        }
        Err(e) => {
            eprintln!("{}: {e}", a[1]);
            std::process::exit(1)
        }
    }
}
