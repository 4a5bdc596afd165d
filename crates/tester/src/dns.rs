//! Host names the filter leaves to its caller (`usedns = yes|warn`), resolved as
//! fail2ban-regex resolves them.

use bailiff_filter::Failure;

/// Host names captured by `<HOST>` (usedns = yes/warn) become addresses here, as
/// fail2ban-regex resolves them: one failure per address, none when the name does
/// not resolve. Answers are cached for the run.
#[derive(Default)]
pub(crate) struct Resolver {
    cache: std::collections::HashMap<String, Vec<String>>,
}

impl Resolver {
    const MAX_CACHED: usize = 10_000;

    fn lookup(&mut self, name: &str) -> Vec<String> {
        if let Some(v) = self.cache.get(name) {
            return v.clone();
        }
        use std::net::ToSocketAddrs;
        let mut ips: Vec<String> = match (name, 0u16).to_socket_addrs() {
            Ok(it) => it.map(|a| a.ip().to_string()).collect(),
            Err(_) => Vec::new(),
        };
        ips.sort();
        ips.dedup();
        if self.cache.len() >= Self::MAX_CACHED {
            self.cache.clear();
        }
        self.cache.insert(name.to_string(), ips.clone());
        ips
    }

    pub(crate) fn resolve_failures(&mut self, failures: &mut Vec<Failure>) {
        let mut out = Vec::with_capacity(failures.len());
        for f in failures.drain(..) {
            if !f.needs_dns {
                out.push(f);
                continue;
            }
            for ip in self.lookup(&f.fid) {
                let mut g = f.clone();
                g.fid = ip;
                g.needs_dns = false;
                out.push(g);
            }
        }
        *failures = out;
    }
}
