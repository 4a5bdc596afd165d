//! Native nftables backend: bans as set elements, every batch one transaction.
//!
//! Shape (fail2ban's `nftables*.conf` names, so users find what they expect):
//!
//! ```text
//! table inet <table> {
//!     set <set4>     { type ipv4_addr; flags timeout; }            # addresses, per jail
//!     set <set4>-net { type ipv4_addr; flags interval, timeout; }  # networks (CIDR bans)
//!     set <set6>     { type ipv6_addr; flags timeout; }
//!     set <set6>-net { type ipv6_addr; flags interval, timeout; }
//!     chain <chain> {
//!         type filter hook input priority -1;
//!         tcp dport { 22, 1000-2000 } ip saddr @<set4> reject      # per set and protocol
//!         tcp dport { 22, 1000-2000 } ip saddr @<set4>-net reject
//!         ...
//!     }
//! }
//! ```
//!
//! Every element carries a `timeout`, so the kernel expires bans too (a safety net
//! should bailiff die). Single addresses and networks live in separate sets because
//! nft 1.0.6 deletes elements from a large interval set very slowly (measured:
//! deleting 1,000 elements from a 110,000-element interval set took more than 100 s,
//! against 0.08 s for 10,000 from a plain set of the same size).
//!
//! A [`NftBackend`] serves one jail ([`NftJail`]): [`NftBackend::start`] creates or
//! re-creates everything and loads the given bans in one transaction,
//! [`NftBackend::ban`] / [`NftBackend::unban`] apply a batch as one `nft -f -` script
//! (a batch that only adds addresses goes straight to the kernel over netlink
//! instead, as one transaction too: module `netlink`),
//! [`NftBackend::check`] compares the kernel with what is recorded, and
//! [`NftBackend::repair`] re-creates and re-adds.
//!
//! The backend keeps a mirror of what it put in each set, so a batch never adds a
//! network that overlaps another nor deletes an element that is not there (either
//! makes nft reject the whole transaction). When the kernel disagrees (an element
//! expired, someone flushed a set) the transaction fails; the backend then re-reads
//! the sets and retries once.

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;
use std::io::Write as _;
use std::net::IpAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value as Json;

use crate::tags::{HostNames, Properties};
use crate::ticket::{Family, Target};
use crate::ActionError;

/// The table and chain a jail's rules live in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NftTable {
    /// Table family: `inet` (both IPv4 and IPv6).
    pub family: String,
    pub name: String,
    pub chain: String,
    pub chain_type: String,
    pub hook: String,
    pub priority: i32,
}

impl NftTable {
    /// bailiff's own default: `table inet bailiff`, chain `input` at priority -1.
    pub fn bailiff() -> NftTable {
        NftTable {
            family: "inet".into(),
            name: "bailiff".into(),
            chain: "input".into(),
            chain_type: "filter".into(),
            hook: "input".into(),
            priority: -1,
        }
    }

    /// The names fail2ban's `nftables.conf` uses: `table inet f2b-table`, chain `f2b-chain`.
    pub fn fail2ban() -> NftTable {
        NftTable {
            name: "f2b-table".into(),
            chain: "f2b-chain".into(),
            ..NftTable::bailiff()
        }
    }
}

/// Which packets a jail blocks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ports {
    /// Every port of the listed protocols (`nftables-allports`).
    All,
    /// Ports, ranges (`1000-2000`) or service names (`ssh`).
    List(Vec<String>),
}

/// One jail's part of the ruleset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NftJail {
    pub jail: String,
    pub table: NftTable,
    pub set4: String,
    pub set6: String,
    pub ports: Ports,
    /// `tcp`, `udp`, ... (`all` matches every protocol).
    pub protocols: Vec<String>,
    /// `reject`, `drop`, `reject with tcp reset` ...
    pub blocktype: String,
}

/// One ban for the backend: the address and how long the kernel keeps it (None:
/// until unbanned).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ban {
    pub target: Target,
    pub timeout: Option<Duration>,
}

impl Ban {
    pub fn new(target: Target, timeout: Option<Duration>) -> Ban {
        Ban { target, timeout }
    }
}

fn nft_err(what: &str, message: impl Into<String>) -> ActionError {
    ActionError::Nft {
        what: what.to_string(),
        message: message.into(),
    }
}

fn valid_ident(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 200
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        && s.as_bytes()[0].is_ascii_alphabetic()
}

/// Parse fail2ban's `port` value: `ssh,http`, `1000:2000`, `0:65535`, with spaces allowed.
pub fn parse_ports(port: &str) -> Result<Ports, ActionError> {
    let mut items = Vec::new();
    for item in port
        .split([',', ' ', '\n', '\t'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        let item = item.replace(':', "-");
        let ok = item
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
            && !item.starts_with('-')
            && !item.ends_with('-');
        if !ok {
            return Err(nft_err("port", format!("bad port {item:?} in {port:?}")));
        }
        items.push(item);
    }
    if items.is_empty() {
        return Err(nft_err("port", "empty port list"));
    }
    Ok(Ports::List(items))
}

impl NftJail {
    /// A jail in bailiff's own table. `port` as in jail.conf (`ssh`, `80,443`,
    /// `1000:2000`), or None for every port; `protocol` may list several (`tcp,udp`).
    pub fn new(
        jail: &str,
        port: Option<&str>,
        protocol: &str,
        blocktype: &str,
    ) -> Result<NftJail, ActionError> {
        NftJail::build(
            jail,
            NftTable::bailiff(),
            format!("addr-set-{jail}"),
            format!("addr6-set-{jail}"),
            port,
            protocol,
            blocktype,
        )
    }

    fn build(
        jail: &str,
        table: NftTable,
        set4: String,
        set6: String,
        port: Option<&str>,
        protocol: &str,
        blocktype: &str,
    ) -> Result<NftJail, ActionError> {
        for (what, v) in [
            ("table", table.name.as_str()),
            ("chain", table.chain.as_str()),
            ("set", set4.as_str()),
            ("set", set6.as_str()),
        ] {
            if !valid_ident(v) {
                return Err(nft_err(what, format!("bad name {v:?} for jail {jail}")));
            }
        }
        for (what, v) in [
            ("table family", table.family.as_str()),
            ("chain type", table.chain_type.as_str()),
            ("chain hook", table.hook.as_str()),
        ] {
            if !valid_ident(v) {
                return Err(nft_err(what, format!("bad value {v:?}")));
            }
        }
        let protocols: Vec<String> = protocol
            .split([',', ' '])
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_ascii_lowercase)
            .collect();
        if protocols.is_empty() || protocols.iter().any(|p| !valid_ident(p)) {
            return Err(nft_err("protocol", format!("bad protocol {protocol:?}")));
        }
        let blocktype = blocktype.trim().to_string();
        if blocktype.is_empty()
            || !blocktype
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b' ' | b'-' | b'_'))
        {
            return Err(nft_err("blocktype", format!("bad blocktype {blocktype:?}")));
        }
        let ports = match port {
            None => Ports::All,
            Some(p) => parse_ports(p)?,
        };
        Ok(NftJail {
            jail: jail.to_string(),
            table,
            set4,
            set6,
            ports,
            protocols,
            blocktype,
        })
    }

    /// Recognise fail2ban's stock `nftables`, `nftables-multiport` and
    /// `nftables-allports` actions (by name, or by their `actionban`) and read their
    /// arguments (`table`, `table_family`, `chain`, `chain_type`, `chain_hook`,
    /// `chain_priority`, `addr_set`, `port`, `protocol`, `blocktype`, `type`) from the
    /// resolved property list. Returns None for any other action, and for
    /// `type = custom` (its rule is arbitrary text: run the file instead).
    pub fn from_action(
        jail: &str,
        actname: &str,
        props: &[(String, String)],
        host: &HostNames,
    ) -> Result<Option<NftJail>, ActionError> {
        let p = Properties::new(props.to_vec());
        let stock_ban = p
            .get("actionban")
            .map(|v| {
                v.trim()
                    .starts_with("<nftables> add element <table_family> <table> <addr_set>")
            })
            .unwrap_or(false);
        let by_name = matches!(
            actname,
            "nftables" | "nftables-multiport" | "nftables-allports"
        );
        if !by_name && !stock_ban {
            return Ok(None);
        }
        let mut items = props.to_vec();
        if p.get("name").is_none() {
            items.push(("name".into(), jail.into()));
        }
        let p = Properties::new(items);
        let get = |key: &str, fam: Option<Family>, default: &str| -> Result<String, ActionError> {
            Ok(p.resolved(key, fam, host)
                .map_err(|e| ActionError::Tags {
                    action: actname.to_string(),
                    source: e,
                })?
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty() && !v.contains('<'))
                .unwrap_or_else(|| default.to_string()))
        };
        let kind = match get("type", None, "")?.as_str() {
            "" => match actname {
                "nftables-allports" => "allports".to_string(),
                _ => "multiport".to_string(),
            },
            other => other.to_string(),
        };
        if kind != "multiport" && kind != "allports" {
            return Ok(None);
        }
        let prio_text = get("chain_priority", None, "-1")?;
        let priority: i32 = prio_text.parse().map_err(|_| ActionError::BadOption {
            action: actname.to_string(),
            option: "chain_priority".into(),
            value: prio_text.clone(),
        })?;
        let table = NftTable {
            family: get("table_family", None, "inet")?,
            name: get("table", None, "f2b-table")?,
            chain: get("chain", None, "f2b-chain")?,
            chain_type: get("chain_type", None, "filter")?,
            hook: get("chain_hook", None, "input")?,
            priority,
        };
        let set4 = get("addr_set", Some(Family::Inet4), &format!("addr-set-{jail}"))?;
        let set6 = get(
            "addr_set",
            Some(Family::Inet6),
            &format!("addr6-set-{jail}"),
        )?;
        let port = get("port", None, "ssh")?;
        let protocol = get("protocol", None, "tcp")?;
        let blocktype = get("blocktype", None, "reject")?;
        let ports = if kind == "allports" {
            None
        } else {
            Some(port.as_str())
        };
        NftJail::build(jail, table, set4, set6, ports, &protocol, &blocktype).map(Some)
    }
}

/// The two sets a family has per jail: single addresses in a plain hash set (fast to
/// add to and delete from at any size), networks in an interval set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetKind {
    /// `addr-set-<jail>` / `addr6-set-<jail>`: `flags timeout`.
    Host,
    /// `addr-set-<jail>-net` / `addr6-set-<jail>-net`: `flags interval, timeout`.
    Net,
}

const SLOTS: [(Family, SetKind); 4] = [
    (Family::Inet4, SetKind::Host),
    (Family::Inet4, SetKind::Net),
    (Family::Inet6, SetKind::Host),
    (Family::Inet6, SetKind::Net),
];

fn slot_of(f: Family, k: SetKind) -> usize {
    match (f, k) {
        (Family::Inet4, SetKind::Host) => 0,
        (Family::Inet4, SetKind::Net) => 1,
        (Family::Inet6, SetKind::Host) => 2,
        (Family::Inet6, SetKind::Net) => 3,
    }
}

fn slot_for(t: &Target) -> usize {
    slot_of(
        t.family(),
        if t.is_host() {
            SetKind::Host
        } else {
            SetKind::Net
        },
    )
}

impl NftJail {
    /// The name of one of the jail's four sets.
    pub fn set_name(&self, f: Family, k: SetKind) -> String {
        let base = match f {
            Family::Inet4 => &self.set4,
            Family::Inet6 => &self.set6,
        };
        match k {
            SetKind::Host => base.clone(),
            SetKind::Net => format!("{base}-net"),
        }
    }

    fn set_decl(&self, f: Family, k: SetKind) -> String {
        let flags = match k {
            SetKind::Host => "timeout",
            SetKind::Net => "interval, timeout",
        };
        format!("{{ type {}; flags {flags}; }}", addr_type(f))
    }

    /// `inet bailiff` etc.
    fn tref(&self) -> String {
        format!("{} {}", self.table.family, self.table.name)
    }

    /// The match part of the rules (one per protocol, or one for all ports).
    fn matches(&self) -> Vec<String> {
        let any = self.protocols.iter().any(|p| p == "all");
        match &self.ports {
            Ports::All if any => vec![String::new()],
            Ports::All => vec![format!("meta l4proto {{ {} }} ", self.protocols.join(", "))],
            Ports::List(ports) => self
                .protocols
                .iter()
                .map(|p| format!("{p} dport {{ {} }} ", ports.join(", ")))
                .collect(),
        }
    }

    /// The rule texts for one set.
    fn rules(&self, f: Family, k: SetKind) -> Vec<String> {
        let kw = match f {
            Family::Inet4 => "ip",
            Family::Inet6 => "ip6",
        };
        let set = self.set_name(f, k);
        self.matches()
            .into_iter()
            .map(|m| format!("{m}{kw} saddr @{set} {}", self.blocktype))
            .collect()
    }
}

/// The result of [`NftBackend::check`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CheckReport {
    pub table: bool,
    pub chain: bool,
    /// All four sets exist with the expected type and flags.
    pub sets: bool,
    /// Every set has its rules in the chain.
    pub rules: bool,
    /// Recorded bans that are not in the kernel sets.
    pub missing: Vec<Target>,
}

impl CheckReport {
    /// True when everything is in place and nothing is missing.
    pub fn is_sane(&self) -> bool {
        self.table && self.chain && self.sets && self.rules && self.missing.is_empty()
    }
}

/// What the table currently holds for a jail (from `nft -j -t list table`).
#[derive(Debug, Default)]
struct Layout {
    table: bool,
    chain: bool,
    /// The chain exists but with another type, hook or priority.
    chain_differs: bool,
    /// (name, usable as is)
    sets: Vec<(String, bool)>,
    /// (handle, names of this jail's sets the rule refers to)
    rules: Vec<(u64, Vec<String>)>,
}

/// The nftables backend for one jail.
#[derive(Debug)]
pub struct NftBackend {
    jail: NftJail,
    nft: Vec<String>,
    /// What bailiff believes each set holds, indexed like `SLOTS`.
    mirrors: [BTreeSet<Target>; 4],
    /// When each element added by bailiff ends in the kernel (None: no timeout),
    /// so that a re-created table gives restored elements their time left.
    deadlines: HashMap<Target, Option<Instant>>,
    /// A ban found the table, chain or sets gone and re-created them (see
    /// [`NftBackend::ban`]); cleared by [`NftBackend::take_self_repaired`].
    self_repaired: bool,
}

impl NftBackend {
    pub fn new(jail: NftJail) -> NftBackend {
        NftBackend {
            jail,
            nft: vec!["nft".into()],
            mirrors: Default::default(),
            deadlines: HashMap::new(),
            self_repaired: false,
        }
    }

    /// Run nft through another command, e.g. `ip netns exec srv nft`.
    pub fn with_command(mut self, argv: Vec<String>) -> NftBackend {
        if !argv.is_empty() {
            self.nft = argv;
        }
        self
    }

    pub fn jail(&self) -> &NftJail {
        &self.jail
    }

    /// The addresses and networks bailiff believes are in the kernel sets.
    pub fn banned(&self) -> impl Iterator<Item = &Target> {
        self.mirrors.iter().flat_map(|m| m.iter())
    }

    /// Run `nft [args]` with `stdin`; stdout on success.
    fn run_nft(
        &self,
        args: &[&str],
        stdin: Option<&str>,
        what: &str,
    ) -> Result<String, ActionError> {
        let (prog, pre) = self
            .nft
            .split_first()
            .ok_or_else(|| nft_err(what, "no nft command"))?;
        let mut cmd = Command::new(prog);
        // messages are matched ("No such file or directory"): keep them in English
        cmd.args(pre).args(args).env("LC_ALL", "C");
        cmd.stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .map_err(|e| nft_err(what, format!("cannot run {prog}: {e}")))?;
        if let Some(text) = stdin {
            if let Some(mut si) = child.stdin.take() {
                // A write error shows up as nft's exit status below.
                let _ = si.write_all(text.as_bytes());
            }
        }
        let out = child
            .wait_with_output()
            .map_err(|e| nft_err(what, e.to_string()))?;
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            // nft echoes the failing line; keep the messages, not 100k elements
            let first: String = err
                .lines()
                .filter(|l| l.contains("Error") || l.contains("rror:"))
                .take(4)
                .map(|l| l.chars().take(300).collect::<String>())
                .collect::<Vec<_>>()
                .join(" | ");
            return Err(nft_err(
                what,
                format!("nft failed ({}): {first}", out.status),
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Apply a script as one transaction.
    fn apply(&self, script: &str, what: &str) -> Result<(), ActionError> {
        self.run_nft(&["-f", "-"], Some(script), what).map(|_| ())
    }

    fn absent(e: &ActionError) -> bool {
        matches!(e, ActionError::Nft { message, .. }
            if message.contains("No such file") || message.contains("does not exist"))
    }

    /// Read the table's structure (no elements).
    fn layout(&self) -> Result<Layout, ActionError> {
        let t = &self.jail.table;
        let out = match self.run_nft(
            &["-j", "-t", "list", "table", &t.family, &t.name],
            None,
            "list table",
        ) {
            Ok(o) => o,
            Err(e) if Self::absent(&e) => return Ok(Layout::default()),
            Err(e) => return Err(e),
        };
        let v: Json = serde_json::from_str(&out)
            .map_err(|e| nft_err("list table", format!("bad JSON: {e}")))?;
        let names: Vec<(String, Family, SetKind)> = SLOTS
            .iter()
            .map(|&(f, k)| (self.jail.set_name(f, k), f, k))
            .collect();
        let mut l = Layout {
            table: true,
            ..Layout::default()
        };
        for item in v
            .get("nftables")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(c) = item.get("chain") {
                if c.get("name").and_then(Json::as_str) == Some(t.chain.as_str()) {
                    let same = c.get("hook").and_then(Json::as_str) == Some(t.hook.as_str())
                        && c.get("type").and_then(Json::as_str) == Some(t.chain_type.as_str())
                        && c.get("prio").and_then(Json::as_i64) == Some(i64::from(t.priority));
                    l.chain = same;
                    l.chain_differs = !same;
                }
            } else if let Some(s) = item.get("set") {
                let name = s
                    .get("name")
                    .and_then(Json::as_str)
                    .unwrap_or("")
                    .to_string();
                let flags: Vec<&str> = s
                    .get("flags")
                    .and_then(Json::as_array)
                    .map(|a| a.iter().filter_map(Json::as_str).collect())
                    .unwrap_or_default();
                let ty = s.get("type").and_then(Json::as_str).unwrap_or("");
                let ok = match names.iter().find(|(n, _, _)| *n == name) {
                    None => true,
                    Some((_, f, k)) => {
                        let interval = flags.contains(&"interval");
                        ty == addr_type(*f)
                            && flags.contains(&"timeout")
                            && (interval == (*k == SetKind::Net))
                    }
                };
                l.sets.push((name, ok));
            } else if let Some(r) = item.get("rule") {
                if r.get("chain").and_then(Json::as_str) != Some(t.chain.as_str()) {
                    continue;
                }
                let handle = r.get("handle").and_then(Json::as_u64).unwrap_or(0);
                let text = r.get("expr").map(|e| e.to_string()).unwrap_or_default();
                let refs = names
                    .iter()
                    .filter(|(n, _, _)| text.contains(&format!("\"@{n}\"")))
                    .map(|(n, _, _)| n.clone())
                    .collect();
                l.rules.push((handle, refs));
            }
        }
        Ok(l)
    }

    /// Elements of one kernel set, as targets (ranges split into networks).
    fn read_set(&self, name: &str) -> Result<Option<Vec<Target>>, ActionError> {
        let t = &self.jail.table;
        let out = match self.run_nft(
            &["-j", "list", "set", &t.family, &t.name, name],
            None,
            "list set",
        ) {
            Ok(o) => o,
            Err(e) if Self::absent(&e) => return Ok(None),
            Err(e) => return Err(e),
        };
        let v: Json = serde_json::from_str(&out)
            .map_err(|e| nft_err("list set", format!("bad JSON: {e}")))?;
        let mut targets = Vec::new();
        for item in v
            .get("nftables")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(elems) = item
                .get("set")
                .and_then(|s| s.get("elem"))
                .and_then(Json::as_array)
            {
                for e in elems {
                    parse_elem(e, &mut targets);
                }
            }
        }
        Ok(Some(targets))
    }

    /// Re-read every set into the mirrors.
    fn resync(&mut self) -> Result<(), ActionError> {
        for (i, &(f, k)) in SLOTS.iter().enumerate() {
            let got = self
                .read_set(&self.jail.set_name(f, k))?
                .unwrap_or_default();
            self.mirrors[i] = got.into_iter().collect();
        }
        Ok(())
    }

    /// Create (or re-create) the table, chain, sets and rules, drop whatever the sets
    /// held, and load `bans`, all in one transaction. Used at start (restoring the
    /// active bans from the database) and by [`NftBackend::repair`]. Returns how long
    /// it took.
    pub fn start(&mut self, bans: &[Ban]) -> Result<Duration, ActionError> {
        let t0 = Instant::now();
        let layout = self.layout()?;
        let j = &self.jail;
        let tref = j.tref();
        let mut s = String::with_capacity(256 + bans.len() * 32);
        let _ = writeln!(s, "add table {tref}");
        // this jail's old rules go first: they reference the sets
        for (handle, refs) in &layout.rules {
            if !refs.is_empty() {
                let _ = writeln!(s, "delete rule {tref} {} handle {handle}", j.table.chain);
            }
        }
        if layout.chain_differs {
            // e.g. chain_priority changed since the chain was made: re-create it,
            // unless it holds rules that are not ours
            let foreign = layout
                .rules
                .iter()
                .filter(|(_, refs)| refs.is_empty())
                .count();
            if foreign > 0 {
                return Err(nft_err(
                    "start",
                    format!(
                        "chain {tref} {} exists with another type, hook or priority and holds {foreign} other rules",
                        j.table.chain
                    ),
                ));
            }
            let _ = writeln!(s, "delete chain {tref} {}", j.table.chain);
        }
        let _ = writeln!(
            s,
            "add chain {tref} {} {{ type {} hook {} priority {} ; }}",
            j.table.chain, j.table.chain_type, j.table.hook, j.table.priority
        );
        for &(f, k) in &SLOTS {
            let name = j.set_name(f, k);
            match layout.sets.iter().find(|(n, _)| *n == name) {
                Some((_, true)) => {
                    let _ = writeln!(s, "flush set {tref} {name}");
                }
                Some((_, false)) => {
                    // e.g. fail2ban's own set without timeouts: replace it
                    let _ = writeln!(s, "delete set {tref} {name}");
                    let _ = writeln!(s, "add set {tref} {name} {}", j.set_decl(f, k));
                }
                None => {
                    let _ = writeln!(s, "add set {tref} {name} {}", j.set_decl(f, k));
                }
            }
            for r in j.rules(f, k) {
                let _ = writeln!(s, "add rule {tref} {} {r}", j.table.chain);
            }
        }
        let mut mirrors: [BTreeSet<Target>; 4] = Default::default();
        let plan = plan_adds(bans, &mut mirrors);
        write_elements(&mut s, j, &plan);
        self.apply(&s, "start")?;
        self.mirrors = mirrors;
        self.deadlines.clear();
        self.note(&plan);
        Ok(t0.elapsed())
    }

    /// Remember the kernel deadlines of a plan just applied.
    fn note(&mut self, plan: &Plan) {
        let now = Instant::now();
        for (_, t) in &plan.removes {
            self.deadlines.remove(t);
        }
        for (_, b) in &plan.adds {
            self.deadlines.insert(b.target, b.timeout.map(|d| now + d));
        }
    }

    /// The bans of `mirrors` as they stand now: each with the kernel time it has
    /// left; elements whose kernel timeout has passed are left out.
    fn remaining(&self, mirrors: &[BTreeSet<Target>; 4]) -> Vec<Ban> {
        let now = Instant::now();
        mirrors
            .iter()
            .flatten()
            .filter_map(|t| match self.deadlines.get(t) {
                Some(Some(end)) if *end <= now => None,
                Some(Some(end)) => Some(Ban::new(*t, Some(*end - now))),
                _ => Some(Ban::new(*t, None)),
            })
            .collect()
    }

    /// True once after a ban re-created a lost table, chain or sets (the caller
    /// reports it: the firewall was broken and has been repaired).
    pub fn take_self_repaired(&mut self) -> bool {
        std::mem::take(&mut self.self_repaired)
    }

    /// Re-create everything and re-add `bans` (the recorded active bans).
    pub fn repair(&mut self, bans: &[Ban]) -> Result<Duration, ActionError> {
        self.start(bans)
    }

    /// Add a batch of bans in one transaction. A network inside an already banned
    /// network is skipped; a new network replaces the networks inside it.
    ///
    /// When the transaction fails, the sets are read back and the batch tried
    /// again; when it still fails because the table, chain, sets or rules are gone
    /// (someone flushed the ruleset), they are re-created with every ban bailiff had
    /// applied (with the kernel time each has left) plus this batch, in one
    /// transaction, and [`NftBackend::take_self_repaired`] says so once.
    pub fn ban(&mut self, bans: &[Ban]) -> Result<(), ActionError> {
        if bans.is_empty() {
            return Ok(());
        }
        if self.try_ban(bans).is_ok() {
            return Ok(());
        }
        let before = self.mirrors.clone();
        self.resync()?;
        let err = match self.try_ban(bans) {
            Ok(()) => return Ok(()),
            Err(e) => e,
        };
        if self.check(&[])?.is_sane() {
            return Err(err);
        }
        let mut all = self.remaining(&before);
        all.extend_from_slice(bans);
        self.start(&all)?;
        self.self_repaired = true;
        Ok(())
    }

    fn try_ban(&mut self, bans: &[Ban]) -> Result<(), ActionError> {
        // The mirrors change in place (no copy of every set per batch) and are put
        // back when the kernel refuses the batch.
        let plan = plan_adds(bans, &mut self.mirrors);
        if plan.adds.is_empty() && plan.removes.is_empty() {
            return Ok(());
        }
        let applied = match self.add_over_netlink(&plan) {
            Ok(true) => Ok(()),
            Ok(false) => {
                let mut s = String::with_capacity(bans.len() * 32);
                write_elements(&mut s, &self.jail, &plan);
                self.apply(&s, "ban")
            }
            Err(e) => Err(e),
        };
        if let Err(e) = applied {
            undo_plan(&mut self.mirrors, &plan);
            return Err(e);
        }
        self.note(&plan);
        Ok(())
    }

    /// Apply a plan that only adds addresses to the host sets straight over netlink
    /// (module `netlink`), in the calling thread's network namespace. `Ok(false)`:
    /// the plan deletes or touches an interval set, nft runs through another
    /// command (`ip netns exec ...`), or netlink cannot be used; then `nft` runs.
    fn add_over_netlink(&self, plan: &Plan) -> Result<bool, ActionError> {
        if self.nft.len() != 1 || self.nft[0] != "nft" || !plan.removes.is_empty() {
            return Ok(false);
        }
        let Some(family) = netlink::family_number(&self.jail.table.family) else {
            return Ok(false);
        };
        if plan
            .adds
            .iter()
            .any(|(slot, _)| SLOTS[*slot].1 != SetKind::Host)
        {
            return Ok(false);
        }
        let mut names = Vec::new();
        for (slot, &(f, k)) in SLOTS.iter().enumerate() {
            // the same whole seconds as the script's `timeout Ns`
            let elements: Vec<(IpAddr, Option<Duration>)> = plan
                .adds
                .iter()
                .filter(|(sl, _)| *sl == slot)
                .map(|(_, b)| {
                    let t = b.timeout.map(|t| {
                        Duration::from_secs(t.as_millis().max(1000).div_ceil(1000) as u64)
                    });
                    (b.target.addr(), t)
                })
                .collect();
            if !elements.is_empty() {
                names.push((self.jail.set_name(f, k), elements));
            }
        }
        match netlink::add_elements(family, &self.jail.table.name, &names) {
            Ok(()) => Ok(true),
            Err(netlink::Error::Unavailable) => Ok(false),
            Err(netlink::Error::Refused(e)) => {
                Err(nft_err("ban", format!("nft failed (netlink): Error: {e}")))
            }
        }
    }

    /// Give already banned targets a new kernel timeout (ban time increased):
    /// delete and re-add them in one transaction. Targets not banned yet are added.
    pub fn prolong(&mut self, bans: &[Ban]) -> Result<(), ActionError> {
        if bans.is_empty() {
            return Ok(());
        }
        let attempt = |me: &mut NftBackend| -> Result<(), ActionError> {
            let mut plan = Plan::default();
            let mut mirrors = me.mirrors.clone();
            let mut fresh = Vec::new();
            for b in bans {
                let slot = slot_for(&b.target);
                if mirrors[slot].contains(&b.target) {
                    plan.removes.push((slot, b.target));
                    plan.adds.push((slot, *b));
                } else {
                    fresh.push(*b);
                }
            }
            let extra = plan_adds(&fresh, &mut mirrors);
            plan.removes.extend(extra.removes);
            plan.adds.extend(extra.adds);
            let mut s = String::new();
            write_elements(&mut s, &me.jail, &plan);
            if !s.is_empty() {
                me.apply(&s, "prolong")?;
            }
            me.mirrors = mirrors;
            me.note(&plan);
            Ok(())
        };
        match attempt(self) {
            Ok(()) => Ok(()),
            Err(_) => {
                self.resync()?;
                attempt(self)
            }
        }
    }

    /// Remove a batch of bans in one transaction. Targets that are not banned as
    /// such (never banned, expired, or inside a banned network) are ignored.
    pub fn unban(&mut self, targets: &[Target]) -> Result<(), ActionError> {
        if targets.is_empty() {
            return Ok(());
        }
        match self.try_unban(targets) {
            Ok(()) => Ok(()),
            Err(_) => {
                self.resync()?;
                self.try_unban(targets)
            }
        }
    }

    fn try_unban(&mut self, targets: &[Target]) -> Result<(), ActionError> {
        let mut plan = Plan::default();
        let mut seen = BTreeSet::new();
        for t in targets {
            let slot = slot_for(t);
            if self.mirrors[slot].contains(t) && seen.insert(*t) {
                plan.removes.push((slot, *t));
            }
        }
        if plan.removes.is_empty() {
            return Ok(());
        }
        let mut s = String::new();
        write_elements(&mut s, &self.jail, &plan);
        self.apply(&s, "unban")?;
        for (slot, t) in plan.removes {
            self.mirrors[slot].remove(&t);
            self.deadlines.remove(&t);
        }
        Ok(())
    }

    /// Empty the jail's sets (fail2ban's `actionflush`).
    pub fn flush(&mut self) -> Result<(), ActionError> {
        let tref = self.jail.tref();
        let mut s = String::new();
        for &(f, k) in &SLOTS {
            let _ = writeln!(s, "flush set {tref} {}", self.jail.set_name(f, k));
        }
        self.apply(&s, "flush")?;
        self.mirrors = Default::default();
        self.deadlines.clear();
        Ok(())
    }

    /// Remove this jail's rules and sets; the table goes too when no other set is left.
    pub fn stop(&mut self) -> Result<(), ActionError> {
        let layout = self.layout()?;
        if !layout.table {
            return Ok(());
        }
        let j = &self.jail;
        let tref = j.tref();
        let ours: Vec<String> = SLOTS.iter().map(|&(f, k)| j.set_name(f, k)).collect();
        let mut s = String::new();
        for (handle, refs) in &layout.rules {
            if !refs.is_empty() {
                let _ = writeln!(s, "delete rule {tref} {} handle {handle}", j.table.chain);
            }
        }
        let mut others = 0;
        for (name, _) in &layout.sets {
            if ours.contains(name) {
                let _ = writeln!(s, "delete set {tref} {name}");
            } else {
                others += 1;
            }
        }
        if others == 0 {
            let _ = writeln!(s, "delete table {tref}");
        }
        self.apply(&s, "stop")?;
        self.mirrors = Default::default();
        self.deadlines.clear();
        Ok(())
    }

    /// Verify that the table, chain, sets and rules exist, and list the `recorded`
    /// bans that are missing from the kernel sets.
    pub fn check(&self, recorded: &[Target]) -> Result<CheckReport, ActionError> {
        let layout = self.layout()?;
        let mut r = CheckReport {
            table: layout.table,
            chain: layout.chain,
            ..CheckReport::default()
        };
        let names: Vec<String> = SLOTS
            .iter()
            .map(|&(f, k)| self.jail.set_name(f, k))
            .collect();
        r.sets = names
            .iter()
            .all(|n| layout.sets.iter().any(|(s, ok)| s == n && *ok));
        let want = self.jail.matches().len();
        r.rules = layout.chain
            && names.iter().all(|n| {
                layout
                    .rules
                    .iter()
                    .filter(|(_, refs)| refs.contains(n))
                    .count()
                    >= want
            });
        if recorded.is_empty() {
            return Ok(r);
        }
        let mut have = Vec::new();
        if r.table {
            for n in &names {
                have.extend(self.read_set(n)?.unwrap_or_default());
            }
        }
        let intervals = to_intervals(&have);
        r.missing = recorded
            .iter()
            .filter(|t| !covered(&intervals, t))
            .copied()
            .collect();
        Ok(r)
    }
}

fn addr_type(f: Family) -> &'static str {
    match f {
        Family::Inet4 => "ipv4_addr",
        Family::Inet6 => "ipv6_addr",
    }
}

/// Elements to add and elements to remove first, each with its set slot.
#[derive(Debug, Default)]
struct Plan {
    adds: Vec<(usize, Ban)>,
    removes: Vec<(usize, Target)>,
}

/// Decide what a batch of bans changes, updating `mirrors`. Addresses go to the
/// host sets as they are; networks must not overlap in their interval set.
fn plan_adds(bans: &[Ban], mirrors: &mut [BTreeSet<Target>; 4]) -> Plan {
    // widest networks first, so narrower ones inside them are skipped
    let mut sorted: Vec<&Ban> = bans.iter().collect();
    sorted.sort_by_key(|b| (b.target.prefix(), b.target));
    let mut plan = Plan::default();
    for b in sorted {
        let slot = slot_for(&b.target);
        let m = &mut mirrors[slot];
        if m.contains(&b.target) {
            continue;
        }
        if !b.target.is_host() {
            if m.iter().any(|n| n.contains(&b.target)) {
                continue;
            }
            let (lo, hi) = span(&b.target);
            let inside: Vec<Target> = m
                .range(lo..=hi)
                .filter(|n| b.target.contains(n))
                .copied()
                .collect();
            for t in inside {
                m.remove(&t);
                if let Some(pos) = plan.adds.iter().position(|(_, a)| a.target == t) {
                    plan.adds.remove(pos);
                } else {
                    plan.removes.push((slot, t));
                }
            }
        }
        m.insert(b.target);
        plan.adds.push((slot, *b));
    }
    plan
}

/// Put `mirrors` back as they were before [`plan_adds`] made `plan` (every added
/// target was new, every removed one was there).
fn undo_plan(mirrors: &mut [BTreeSet<Target>; 4], plan: &Plan) {
    for (slot, b) in &plan.adds {
        mirrors[*slot].remove(&b.target);
    }
    for (slot, t) in &plan.removes {
        mirrors[*slot].insert(*t);
    }
}

/// The smallest and largest targets (in set order) that can lie inside `net`.
fn span(net: &Target) -> (Target, Target) {
    let (f, lo, hi) = interval(net);
    (
        Target::bound(from_num(f, lo), 0),
        Target::bound(from_num(f, hi), u8::MAX),
    )
}

fn write_elements(s: &mut String, j: &NftJail, plan: &Plan) {
    let tref = j.tref();
    for (slot, &(f, k)) in SLOTS.iter().enumerate() {
        let set = j.set_name(f, k);
        let mut first = true;
        for (_, t) in plan.removes.iter().filter(|(sl, _)| *sl == slot) {
            if first {
                let _ = write!(s, "delete element {tref} {set} {{ ");
                first = false;
            } else {
                s.push_str(", ");
            }
            let _ = write!(s, "{t}");
        }
        if !first {
            s.push_str(" }\n");
        }
        let mut first = true;
        for (_, b) in plan.adds.iter().filter(|(sl, _)| *sl == slot) {
            if first {
                let _ = write!(s, "add element {tref} {set} {{ ");
                first = false;
            } else {
                s.push_str(", ");
            }
            let _ = write!(s, "{}", b.target);
            if let Some(t) = b.timeout {
                let secs = t.as_millis().max(1000).div_ceil(1000);
                let _ = write!(s, " timeout {secs}s");
            }
        }
        if !first {
            s.push_str(" }\n");
        }
    }
}

/// One element of `nft -j list set`: an address, a prefix, a range, or any of these
/// wrapped in `{"elem": {"val": ...}}`.
fn parse_elem(e: &Json, out: &mut Vec<Target>) {
    if let Some(s) = e.as_str() {
        if let Ok(t) = s.parse::<Target>() {
            out.push(t);
        }
    } else if let Some(inner) = e.get("elem").and_then(|x| x.get("val")) {
        parse_elem(inner, out);
    } else if let Some(p) = e.get("prefix") {
        let addr = p
            .get("addr")
            .and_then(Json::as_str)
            .and_then(|a| a.parse::<IpAddr>().ok());
        let len = p.get("len").and_then(Json::as_u64);
        if let (Some(a), Some(l)) = (addr, len) {
            if let Ok(t) = Target::network(a, l.min(128) as u8) {
                out.push(t);
            }
        }
    } else if let Some(r) = e.get("range").and_then(Json::as_array) {
        let a = r
            .first()
            .and_then(Json::as_str)
            .and_then(|a| a.parse::<IpAddr>().ok());
        let b = r
            .get(1)
            .and_then(Json::as_str)
            .and_then(|a| a.parse::<IpAddr>().ok());
        if let (Some(a), Some(b)) = (a, b) {
            range_to_targets(a, b, out);
        }
    }
}

fn to_num(a: IpAddr) -> (Family, u128) {
    match a {
        IpAddr::V4(v) => (Family::Inet4, u128::from(u32::from(v))),
        IpAddr::V6(v) => (Family::Inet6, u128::from(v)),
    }
}

fn from_num(f: Family, n: u128) -> IpAddr {
    match f {
        Family::Inet4 => IpAddr::V4((n as u32).into()),
        Family::Inet6 => IpAddr::V6(n.into()),
    }
}

/// Split an inclusive address range into networks.
fn range_to_targets(a: IpAddr, b: IpAddr, out: &mut Vec<Target>) {
    let (fa, mut lo) = to_num(a);
    let (fb, hi) = to_num(b);
    if fa != fb || lo > hi {
        return;
    }
    let bits: u32 = if fa == Family::Inet4 { 32 } else { 128 };
    let block_last = |lo: u128, size_log: u32| -> u128 {
        if size_log >= 128 {
            u128::MAX
        } else {
            lo + ((1u128 << size_log) - 1)
        }
    };
    loop {
        // the largest aligned block starting at lo that ends within hi
        let mut size_log = if lo == 0 {
            bits
        } else {
            lo.trailing_zeros().min(bits)
        };
        while size_log > 0 && block_last(lo, size_log) > hi {
            size_log -= 1;
        }
        if let Ok(t) = Target::network(from_num(fa, lo), (bits - size_log) as u8) {
            out.push(t);
        }
        let last = block_last(lo, size_log);
        if last >= hi {
            break;
        }
        lo = last + 1;
    }
}

fn interval(t: &Target) -> (Family, u128, u128) {
    let (f, n) = to_num(t.addr());
    let bits: u32 = if f == Family::Inet4 { 32 } else { 128 };
    let host_bits = bits - u32::from(t.prefix());
    let last = if host_bits >= 128 {
        u128::MAX
    } else {
        n | ((1u128 << host_bits) - 1)
    };
    (f, n, last)
}

fn to_intervals(ts: &[Target]) -> Vec<(Family, u128, u128)> {
    let mut v: Vec<_> = ts.iter().map(interval).collect();
    v.sort();
    v
}

fn covered(intervals: &[(Family, u128, u128)], t: &Target) -> bool {
    let (f, lo, hi) = interval(t);
    // the last interval starting at or before lo
    let idx = intervals.partition_point(|&(ff, s, _)| (ff, s) <= (f, lo));
    idx > 0 && {
        let (ff, _, e) = intervals[idx - 1];
        ff == f && e >= hi
    }
}

/// Elements added to the host sets straight over netlink: one nfnetlink batch of
/// `NFT_MSG_NEWSETELEM` messages, which the kernel commits as one transaction, as
/// `nft -f -` would, without a process to start and a script to parse (per 1,000
/// addresses an `nft` process takes 5-10 ms; the kernel part is a fraction of it).
/// Only for plain additions (no deletions, no interval sets): everything else
/// still goes through `nft`.
mod netlink {
    use std::io;
    use std::net::IpAddr;
    use std::time::Duration;

    const NETLINK_NETFILTER: libc::c_int = 12;
    const SOL_NETLINK: libc::c_int = 270;
    const NETLINK_CAP_ACK: libc::c_int = 10;
    const NFNL_SUBSYS_NFTABLES: u16 = 10;
    const NFT_MSG_NEWSETELEM: u16 = 12;
    const NFNL_MSG_BATCH_BEGIN: u16 = 16;
    const NFNL_MSG_BATCH_END: u16 = 17;
    const NLM_F_REQUEST: u16 = 0x1;
    const NLM_F_ACK: u16 = 0x4;
    const NLM_F_CREATE: u16 = 0x400;
    const NLMSG_ERROR: u16 = 2;
    const NLA_F_NESTED: u16 = 0x8000;
    const NFTA_SET_ELEM_LIST_TABLE: u16 = 1;
    const NFTA_SET_ELEM_LIST_SET: u16 = 2;
    const NFTA_SET_ELEM_LIST_ELEMENTS: u16 = 3;
    const NFTA_LIST_ELEM: u16 = 1;
    const NFTA_SET_ELEM_KEY: u16 = 1;
    const NFTA_SET_ELEM_TIMEOUT: u16 = 4;
    const NFTA_DATA_VALUE: u16 = 1;
    /// Elements per message: a nested attribute's length is 16 bits (an IPv6
    /// element with its timeout takes 40 bytes).
    const PER_MESSAGE: usize = 1000;

    /// A set's name and the elements to add to it (address, kernel timeout).
    pub type SetElements = (String, Vec<(IpAddr, Option<Duration>)>);

    /// The `NFPROTO_*` number of a table family.
    pub fn family_number(f: &str) -> Option<u8> {
        Some(match f {
            "inet" => 1,
            "ip" => 2,
            "arp" => 3,
            "netdev" => 5,
            "bridge" => 7,
            "ip6" => 10,
            _ => return None,
        })
    }

    /// Why a batch was not applied: the kernel refused it (`Refused`, with the
    /// errno, as nft would report it) or netlink could not be used at all (no
    /// socket, a send that failed: then `nft` is tried).
    #[derive(Debug)]
    pub enum Error {
        Refused(io::Error),
        Unavailable,
    }

    fn header(
        buf: &mut Vec<u8>,
        kind: u16,
        flags: u16,
        seq: u32,
        family: u8,
        res_id: u16,
    ) -> usize {
        let start = buf.len();
        buf.extend_from_slice(&0u32.to_ne_bytes()); // length, set by `finish`
        buf.extend_from_slice(&kind.to_ne_bytes());
        buf.extend_from_slice(&flags.to_ne_bytes());
        buf.extend_from_slice(&seq.to_ne_bytes());
        buf.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel
        buf.push(family);
        buf.push(0); // NFNETLINK_V0
        buf.extend_from_slice(&res_id.to_be_bytes());
        start
    }

    fn finish(buf: &mut [u8], start: usize) {
        let len = (buf.len() - start) as u32;
        buf[start..start + 4].copy_from_slice(&len.to_ne_bytes());
    }

    fn pad(buf: &mut Vec<u8>) {
        while !buf.len().is_multiple_of(4) {
            buf.push(0);
        }
    }

    fn attr(buf: &mut Vec<u8>, kind: u16, payload: &[u8]) {
        buf.extend_from_slice(&((4 + payload.len()) as u16).to_ne_bytes());
        buf.extend_from_slice(&kind.to_ne_bytes());
        buf.extend_from_slice(payload);
        pad(buf);
    }

    fn nest(buf: &mut Vec<u8>, kind: u16) -> usize {
        let start = buf.len();
        buf.extend_from_slice(&0u16.to_ne_bytes());
        buf.extend_from_slice(&(kind | NLA_F_NESTED).to_ne_bytes());
        start
    }

    fn end_nest(buf: &mut [u8], start: usize) {
        let len = (buf.len() - start) as u16;
        buf[start..start + 2].copy_from_slice(&len.to_ne_bytes());
    }

    fn cstr(s: &str) -> Vec<u8> {
        let mut v = s.as_bytes().to_vec();
        v.push(0);
        v
    }

    /// The batch adding `elements` (address, kernel timeout) to each named set of
    /// `table`; and how many messages in it ask for an answer.
    pub fn encode(family: u8, table: &str, sets: &[SetElements], seq: u32) -> (Vec<u8>, usize) {
        let mut buf =
            Vec::with_capacity(64 + sets.iter().map(|(_, e)| 48 * e.len() + 64).sum::<usize>());
        let res = NFNL_SUBSYS_NFTABLES;
        let b = header(&mut buf, NFNL_MSG_BATCH_BEGIN, NLM_F_REQUEST, seq, 0, res);
        finish(&mut buf, b);
        let (table, mut n, mut s) = (cstr(table), 0, seq);
        for (set, elements) in sets {
            let set = cstr(set);
            for part in elements.chunks(PER_MESSAGE) {
                s = s.wrapping_add(1);
                n += 1;
                let kind = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWSETELEM;
                let flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_ACK;
                let m = header(&mut buf, kind, flags, s, family, 0);
                attr(&mut buf, NFTA_SET_ELEM_LIST_TABLE, &table);
                attr(&mut buf, NFTA_SET_ELEM_LIST_SET, &set);
                let list = nest(&mut buf, NFTA_SET_ELEM_LIST_ELEMENTS);
                for (addr, timeout) in part {
                    let e = nest(&mut buf, NFTA_LIST_ELEM);
                    let k = nest(&mut buf, NFTA_SET_ELEM_KEY);
                    match addr {
                        IpAddr::V4(a) => attr(&mut buf, NFTA_DATA_VALUE, &a.octets()),
                        IpAddr::V6(a) => attr(&mut buf, NFTA_DATA_VALUE, &a.octets()),
                    }
                    end_nest(&mut buf, k);
                    if let Some(t) = timeout {
                        let ms = t.as_millis().min(u64::MAX as u128) as u64;
                        attr(&mut buf, NFTA_SET_ELEM_TIMEOUT, &ms.to_be_bytes());
                    }
                    end_nest(&mut buf, e);
                }
                end_nest(&mut buf, list);
                finish(&mut buf, m);
            }
        }
        let e = header(
            &mut buf,
            NFNL_MSG_BATCH_END,
            NLM_F_REQUEST,
            s.wrapping_add(1),
            0,
            res,
        );
        finish(&mut buf, e);
        (buf, n)
    }

    struct Socket(libc::c_int);

    impl Drop for Socket {
        fn drop(&mut self) {
            // SAFETY: the descriptor is ours and closed once.
            unsafe { libc::close(self.0) };
        }
    }

    fn setopt(fd: libc::c_int, level: libc::c_int, name: libc::c_int, v: libc::c_int) -> bool {
        // SAFETY: a valid descriptor and a pointer to an int that outlives the call.
        unsafe {
            libc::setsockopt(
                fd,
                level,
                name,
                &v as *const libc::c_int as *const libc::c_void,
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            ) == 0
        }
    }

    /// Add the elements in one transaction, in the network namespace of the calling
    /// thread.
    pub fn add_elements(family: u8, table: &str, sets: &[SetElements]) -> Result<(), Error> {
        let seq = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as u32)
            .unwrap_or(1);
        let (batch, wanted) = encode(family, table, sets, seq);
        // SAFETY: plain socket calls on a descriptor owned by `Socket`; every
        // pointer passed refers to a live local value of the stated size.
        unsafe {
            let fd = libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                NETLINK_NETFILTER,
            );
            if fd < 0 {
                return Err(Error::Unavailable);
            }
            let sock = Socket(fd);
            let mut sa: libc::sockaddr_nl = std::mem::zeroed();
            sa.nl_family = libc::AF_NETLINK as libc::sa_family_t;
            let sa_len = std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t;
            if libc::bind(fd, &sa as *const _ as *const libc::sockaddr, sa_len) != 0 {
                return Err(Error::Unavailable);
            }
            // answers carry only the header of a refused message, not its elements
            setopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, 1);
            let size = (batch.len() + 4096).min(i32::MAX as usize) as libc::c_int;
            if !setopt(fd, libc::SOL_SOCKET, libc::SO_SNDBUFFORCE, size) {
                setopt(fd, libc::SOL_SOCKET, libc::SO_SNDBUF, size);
            }
            let tv = libc::timeval {
                tv_sec: 10,
                tv_usec: 0,
            };
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                &tv as *const _ as *const libc::c_void,
                std::mem::size_of::<libc::timeval>() as libc::socklen_t,
            );
            let sent = libc::sendto(
                fd,
                batch.as_ptr() as *const libc::c_void,
                batch.len(),
                0,
                &sa as *const _ as *const libc::sockaddr,
                sa_len,
            );
            if sent < 0 {
                return Err(Error::Unavailable);
            }
            if sent as usize != batch.len() {
                return Err(Error::Unavailable);
            }
            // One answer per element message (NLM_F_ACK): 0 or a negative errno.
            let mut answers = 0;
            let mut refused: Option<i32> = None;
            let mut rbuf = vec![0u8; 64 * 1024];
            while answers < wanted {
                let flags = if refused.is_some() {
                    libc::MSG_DONTWAIT
                } else {
                    0
                };
                let n = libc::recv(
                    fd,
                    rbuf.as_mut_ptr() as *mut libc::c_void,
                    rbuf.len(),
                    flags,
                );
                if n < 0 {
                    let e = io::Error::last_os_error();
                    if refused.is_some() {
                        break;
                    }
                    return Err(Error::Refused(io::Error::new(
                        e.kind(),
                        format!("no answer from the kernel: {e}"),
                    )));
                }
                let data = &rbuf[..n as usize];
                let mut off = 0;
                while off + 16 <= data.len() {
                    let len = u32::from_ne_bytes(data[off..off + 4].try_into().unwrap()) as usize;
                    let kind = u16::from_ne_bytes(data[off + 4..off + 6].try_into().unwrap());
                    if len < 16 || off + len > data.len() {
                        break;
                    }
                    if kind == NLMSG_ERROR && len >= 20 {
                        let err = i32::from_ne_bytes(data[off + 16..off + 20].try_into().unwrap());
                        answers += 1;
                        if err != 0 && refused.is_none() {
                            refused = Some(-err);
                        }
                    }
                    off += (len + 3) & !3;
                }
            }
            drop(sock);
            match refused {
                Some(errno) => Err(Error::Refused(io::Error::from_raw_os_error(errno))),
                None => Ok(()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Run `body` in a thread that entered a network namespace of its own (`nft`
    /// processes and netlink sockets both follow the thread's namespace). None
    /// when this is not possible outside CI (printed loudly); in CI a failure.
    fn in_own_netns<R: Send + 'static>(body: impl FnOnce() -> R + Send + 'static) -> Option<R> {
        let ci = std::env::var("CI").as_deref() == Ok("true");
        let ns = format!("bailiff-nft-{}", std::process::id());
        let ok = Command::new("ip")
            .args(["netns", "add", &ns])
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            assert!(!ci, "ip netns add failed (CI runs as root with iproute2)");
            eprintln!("SKIPPED: cannot create a network namespace (needs root and ip)");
            return None;
        }
        let path = format!("/var/run/netns/{ns}");
        let r = std::thread::spawn(move || {
            let f = std::fs::File::open(&path).expect("open the namespace");
            use std::os::fd::AsRawFd;
            // SAFETY: a valid namespace descriptor; only this thread changes namespace.
            let rc = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
            body()
        })
        .join();
        let _ = Command::new("ip").args(["netns", "del", &ns]).status();
        match r {
            Ok(v) => Some(v),
            Err(p) => std::panic::resume_unwind(p),
        }
    }

    /// The timeout (seconds) nft shows for `addr` in `set`.
    fn kernel_timeout(b: &NftBackend, set: &str, addr: &str) -> Option<u64> {
        let t = &b.jail.table;
        let out = b
            .run_nft(
                &["-j", "list", "set", &t.family, &t.name, set],
                None,
                "test",
            )
            .unwrap();
        let v: Json = serde_json::from_str(&out).unwrap();
        for item in v["nftables"].as_array()? {
            for e in item["set"]["elem"].as_array().into_iter().flatten() {
                if e["elem"]["val"].as_str() == Some(addr) {
                    return e["elem"]["timeout"].as_u64();
                }
            }
        }
        None
    }

    #[test]
    fn host_bans_go_over_netlink_into_the_kernel_sets() {
        let Some(()) = in_own_netns(|| {
            let jail = NftJail::new("nl", Some("22"), "tcp", "reject").unwrap();
            let mut b = NftBackend::new(jail);
            b.start(&[]).unwrap();
            let set4 = b.jail.set_name(Family::Inet4, SetKind::Host);
            let set6 = b.jail.set_name(Family::Inet6, SetKind::Host);
            // more than one netlink message per set (PER_MESSAGE), both families
            let mut bans: Vec<Ban> = (0..2500u32)
                .map(|i| {
                    let a = std::net::Ipv4Addr::from(0x0a00_0000 + i + 1);
                    Ban::new(Target::host(a.into()), Some(Duration::from_secs(3600)))
                })
                .collect();
            bans.push(Ban::new(t("2001:db8::7"), None));
            bans.push(Ban::new(
                t("2001:db8::8"),
                Some(Duration::from_millis(1500)),
            ));
            b.ban(&bans).unwrap();
            let in4: BTreeSet<Target> = b.read_set(&set4).unwrap().unwrap().into_iter().collect();
            let want4: BTreeSet<Target> = bans[..2500].iter().map(|b| b.target).collect();
            assert_eq!(in4, want4);
            let in6: BTreeSet<Target> = b.read_set(&set6).unwrap().unwrap().into_iter().collect();
            assert_eq!(
                in6,
                [t("2001:db8::7"), t("2001:db8::8")].into_iter().collect()
            );
            assert_eq!(kernel_timeout(&b, &set4, "10.0.0.1"), Some(3600));
            // whole seconds rounded up, as the nft script writes them
            assert_eq!(kernel_timeout(&b, &set6, "2001:db8::8"), Some(2));
            // no timeout: the set's own (none), the element stays until unbanned
            assert_eq!(kernel_timeout(&b, &set6, "2001:db8::7"), None);
            assert!(b
                .check(&want4.iter().copied().collect::<Vec<_>>())
                .unwrap()
                .is_sane());

            // the netlink call itself (not an nft fallback) adds and is refused
            let extra = vec![(set4.clone(), vec![("192.0.2.77".parse().unwrap(), None)])];
            netlink::add_elements(1, "bailiff", &extra).unwrap();
            assert!(b
                .read_set(&set4)
                .unwrap()
                .unwrap()
                .contains(&t("192.0.2.77")));
            let missing = vec![("no-such-set".to_string(), extra[0].1.clone())];
            match netlink::add_elements(1, "bailiff", &missing) {
                Err(netlink::Error::Refused(e)) => {
                    assert_eq!(e.raw_os_error(), Some(libc::ENOENT), "{e}")
                }
                other => panic!("expected a refusal, got {other:?}"),
            }

            // the table flushed behind bailiff's back: the ban's transaction fails,
            // and `ban` re-creates everything with the earlier bans and this one
            b.run_nft(&["flush", "ruleset"], None, "test").unwrap();
            let e = b.try_ban(&[Ban::new(t("198.51.100.1"), None)]).unwrap_err();
            assert!(NftBackend::absent(&e), "{e}");
            b.ban(&[Ban::new(t("198.51.100.2"), None)]).unwrap();
            assert!(b.take_self_repaired());
            let in4: BTreeSet<Target> = b.read_set(&set4).unwrap().unwrap().into_iter().collect();
            assert!(in4.contains(&t("198.51.100.2")));
            assert!(want4.is_subset(&in4));
        }) else {
            return;
        };
    }

    fn t(s: &str) -> Target {
        s.parse().unwrap()
    }

    #[test]
    fn ranges_split_into_networks() {
        let mut out = Vec::new();
        range_to_targets(
            "10.0.0.0".parse().unwrap(),
            "10.0.1.255".parse().unwrap(),
            &mut out,
        );
        assert_eq!(out, vec![t("10.0.0.0/23")]);
        out.clear();
        range_to_targets(
            "10.0.0.1".parse().unwrap(),
            "10.0.0.6".parse().unwrap(),
            &mut out,
        );
        let shown: Vec<String> = out.iter().map(|x| x.to_string()).collect();
        assert_eq!(
            shown,
            ["10.0.0.1", "10.0.0.2/31", "10.0.0.4/31", "10.0.0.6"]
        );
        out.clear();
        range_to_targets("::".parse().unwrap(), "::ffff".parse().unwrap(), &mut out);
        assert_eq!(out, vec![t("::/112")]);
    }

    #[test]
    fn elements_from_json() {
        let j: Json = serde_json::from_str(
            r#"["192.0.2.1", {"prefix": {"addr": "198.51.100.0", "len": 24}},
                {"elem": {"val": "2001:db8::1", "timeout": 600, "expires": 590}},
                {"elem": {"val": {"prefix": {"addr": "2001:db8:1::", "len": 48}}, "timeout": 60}},
                {"range": ["10.0.0.0", "10.0.0.3"]}, {"bogus": 1}]"#,
        )
        .unwrap();
        let mut out = Vec::new();
        for e in j.as_array().unwrap() {
            parse_elem(e, &mut out);
        }
        let shown: Vec<String> = out.iter().map(|x| x.to_string()).collect();
        assert_eq!(
            shown,
            [
                "192.0.2.1",
                "198.51.100.0/24",
                "2001:db8::1",
                "2001:db8:1::/48",
                "10.0.0.0/30"
            ]
        );
    }

    #[test]
    fn coverage() {
        let iv = to_intervals(&[t("198.51.100.0/24"), t("192.0.2.1"), t("2001:db8::/32")]);
        assert!(covered(&iv, &t("198.51.100.9")));
        assert!(covered(&iv, &t("192.0.2.1")));
        assert!(!covered(&iv, &t("192.0.2.2")));
        assert!(covered(&iv, &t("2001:db8:5::1")));
        assert!(!covered(&iv, &t("2001:db9::1")));
        assert!(!covered(&iv, &t("198.51.0.0/16")));
    }

    #[test]
    fn plans_avoid_overlapping_networks() {
        let mut m: [BTreeSet<Target>; 4] = Default::default();
        m[0].insert(t("10.0.0.5"));
        m[1].insert(t("10.0.0.0/26"));
        let bans = [
            Ban::new(t("10.0.0.7"), None),
            Ban::new(t("10.0.0.0/24"), Some(Duration::from_secs(60))),
            Ban::new(t("10.0.0.0/28"), None),
            Ban::new(t("10.1.0.1"), None),
            Ban::new(t("10.1.0.1"), None),
            Ban::new(t("10.0.0.5"), None),
            Ban::new(t("2001:db8::1"), Some(Duration::from_millis(1500))),
        ];
        let before = m.clone();
        let plan = plan_adds(&bans, &mut m);
        // a refused batch puts the mirrors back exactly
        let mut undone = m.clone();
        undo_plan(&mut undone, &plan);
        assert_eq!(undone, before);
        assert_ne!(m, before);
        let adds: Vec<String> = plan
            .adds
            .iter()
            .map(|(_, b)| b.target.to_string())
            .collect();
        assert_eq!(adds, ["10.0.0.0/24", "10.0.0.7", "10.1.0.1", "2001:db8::1"]);
        assert_eq!(plan.removes, vec![(1, t("10.0.0.0/26"))]);
        let j = NftJail::new("sshd", Some("ssh,1000:2000"), "tcp", "reject").unwrap();
        let mut s = String::new();
        write_elements(&mut s, &j, &plan);
        assert_eq!(
            s,
            "add element inet bailiff addr-set-sshd { 10.0.0.7, 10.1.0.1 }\n\
             delete element inet bailiff addr-set-sshd-net { 10.0.0.0/26 }\n\
             add element inet bailiff addr-set-sshd-net { 10.0.0.0/24 timeout 60s }\n\
             add element inet bailiff addr6-set-sshd { 2001:db8::1 timeout 2s }\n"
        );
    }

    #[test]
    fn rules_follow_ports_and_protocols() {
        let j = NftJail::new("web", Some("http, https,8000:8100"), "tcp,udp", "drop").unwrap();
        assert_eq!(
            j.rules(Family::Inet4, SetKind::Host),
            [
                "tcp dport { http, https, 8000-8100 } ip saddr @addr-set-web drop",
                "udp dport { http, https, 8000-8100 } ip saddr @addr-set-web drop"
            ]
        );
        let j = NftJail::new("all", None, "tcp", "reject").unwrap();
        assert_eq!(
            j.rules(Family::Inet6, SetKind::Net),
            ["meta l4proto { tcp } ip6 saddr @addr6-set-all-net reject"]
        );
        let j = NftJail::new("any", None, "all", "drop").unwrap();
        assert_eq!(
            j.rules(Family::Inet4, SetKind::Host),
            ["ip saddr @addr-set-any drop"]
        );
        assert!(NftJail::new("x", Some("22; drop"), "tcp", "reject").is_err());
        assert!(NftJail::new("x y", Some("22"), "tcp", "reject").is_err());
        assert!(NftJail::new("x", Some("22"), "tcp", "reject; flush ruleset").is_err());
    }

    #[test]
    fn stock_nftables_files_are_recognised() {
        let host = HostNames {
            fq: "h".into(),
            short: "h".into(),
        };
        let pairs = |v: &[(&str, &str)]| -> Vec<(String, String)> {
            v.iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect()
        };
        let props = pairs(&[
            (
                "actionban",
                "<nftables> add element <table_family> <table> <addr_set> \\{ <ip> \\}",
            ),
            ("type", "multiport"),
            ("table", "f2b-table"),
            ("chain", "f2b-chain"),
            ("addr_set", "addr-set-<name>"),
            ("addr_set?family=inet6", "addr6-set-<name>"),
            ("port", "ssh,2222"),
            ("protocol", "tcp"),
            ("blocktype", "reject"),
            ("chain_priority", "-2"),
            ("name", "sshd"),
        ]);
        let j = NftJail::from_action("sshd", "nftables-multiport", &props, &host)
            .unwrap()
            .unwrap();
        assert_eq!(j.table.name, "f2b-table");
        assert_eq!(j.table.priority, -2);
        assert_eq!(j.set4, "addr-set-sshd");
        assert_eq!(j.set6, "addr6-set-sshd");
        assert_eq!(j.ports, Ports::List(vec!["ssh".into(), "2222".into()]));
        let mut allp = props.clone();
        allp.push(("type".into(), "allports".into()));
        let j = NftJail::from_action("sshd", "whatever", &allp, &host)
            .unwrap()
            .unwrap();
        assert_eq!(j.ports, Ports::All);
        assert!(NftJail::from_action(
            "sshd",
            "iptables-multiport",
            &pairs(&[("actionban", "x")]),
            &host
        )
        .unwrap()
        .is_none());
        let mut custom = props;
        custom.push(("type".into(), "custom".into()));
        assert!(NftJail::from_action("sshd", "nftables", &custom, &host)
            .unwrap()
            .is_none());
    }
}
