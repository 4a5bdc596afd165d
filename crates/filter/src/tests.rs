//! Pipeline tests, table-driven where a table fits. Lines go through
//! `process_entry` (time known), so they exercise matching, not date detection.

use super::*;

const T: f64 = 1_124_013_600.0;

fn filter(cfg: FilterConfig) -> Filter {
    Filter::new(&cfg, Zone::parse_logtimezone("UTC").unwrap(), T).unwrap()
}

fn cfg(fail: &[&str]) -> FilterConfig {
    FilterConfig {
        failregex: fail.iter().map(|s| s.to_string()).collect(),
        maxlines: 1,
        datepattern: Some("{NONE}".into()),
        ..FilterConfig::default()
    }
}

fn fids(r: &LineResult) -> Vec<(String, FailureKind)> {
    r.failures.iter().map(|f| (f.fid.clone(), f.kind)).collect()
}

#[test]
fn host_family_and_canonical_ids() {
    let mut f = filter(cfg(&[r"^fail from <HOST>$"]));
    let table: &[(&str, &[&str])] = &[
        ("fail from 192.0.2.1", &["192.0.2.1"]),
        ("fail from ::ffff:192.0.2.1", &["192.0.2.1"]),
        ("fail from [2001:DB8::1]", &["2001:db8::1"]),
        ("fail from 2001:db8:0:0::7", &["2001:db8::7"]),
        ("fail from 192.0.2.1 extra", &[]),
        ("unrelated line", &[]),
    ];
    for (line, want) in table {
        let r = f.process_entry(line, T, T);
        let got: Vec<String> = r.failures.iter().map(|x| x.fid.clone()).collect();
        assert_eq!(got, *want, "{line}");
        for x in &r.failures {
            assert_eq!(x.kind, FailureKind::Fail);
            assert_eq!(x.time, T);
            assert_eq!(x.matches, vec![line.to_string()]);
        }
    }
}

#[test]
fn usedns_modes() {
    // warn/yes: names go to the caller to resolve; numbers never do.
    let mut f = filter(cfg(&[r"^fail from <HOST>$"]));
    let r = f.process_entry("fail from mail.example.com", T, T);
    assert_eq!(
        fids(&r),
        vec![("mail.example.com".into(), FailureKind::Fail)]
    );
    assert!(r.failures[0].needs_dns);
    assert!(f.process_entry("fail from 12345", T, T).failures.is_empty());
    // no: <HOST> does not accept names at all.
    let mut c = cfg(&[r"^fail from <HOST>$"]);
    c.usedns = UseDns::No;
    let mut f = filter(c);
    assert!(f
        .process_entry("fail from mail.example.com", T, T)
        .failures
        .is_empty());
    // raw: the name is the id, unresolved.
    let mut c = cfg(&[r"^fail from <HOST>$"]);
    c.usedns = UseDns::Raw;
    let mut f = filter(c);
    let r = f.process_entry("fail from mail.example.com", T, T);
    assert_eq!(r.failures[0].fid, "mail.example.com");
    assert!(!r.failures[0].needs_dns);
}

#[test]
fn cidr_and_custom_id() {
    let mut f = filter(cfg(&[r"^net <SUBNET>$", r"^user <F-ID/> from <ADDR>$"]));
    let r = f.process_entry("net 192.0.2.77/24", T, T);
    assert_eq!(r.failures[0].fid, "192.0.2.0/24");
    let r = f.process_entry("user alice from 192.0.2.9", T, T);
    assert_eq!(r.failures[0].fid, "alice");
    assert_eq!(r.failures[0].data["ip"], "192.0.2.9");
}

#[test]
fn first_failregex_wins_unless_check_all() {
    let re = [r"^a <HOST>", r"<HOST> b$"];
    let mut f = filter(cfg(&re));
    let r = f.process_entry("a 192.0.2.1 b", T, T);
    assert_eq!(r.failures.len(), 1);
    assert_eq!(r.failures[0].regex, 0);
    let mut c = cfg(&re);
    c.check_all = true;
    let mut f = filter(c);
    let r = f.process_entry("a 192.0.2.1 b", T, T);
    assert_eq!(
        r.failures.iter().map(|x| x.regex).collect::<Vec<_>>(),
        vec![0, 1]
    );
}

#[test]
fn ignoreregex_drops_match() {
    let mut c = cfg(&[r"^fail from <HOST>"]);
    c.ignoreregex = vec![r"trusted$".into()];
    let mut f = filter(c);
    let r = f.process_entry("fail from 192.0.2.1 trusted", T, T);
    assert!(r.failures.is_empty());
    assert!(r.ignored);
    assert_eq!(
        f.process_entry("fail from 192.0.2.1", T, T).failures.len(),
        1
    );
}

#[test]
fn prefregex_content_and_groups() {
    let mut c = cfg(&[r"^bad password for <F-USER>\S+</F-USER>$"]);
    c.prefregex = Some(r"^srv\[\d+\]: client <HOST>: <F-CONTENT>.+</F-CONTENT>$".into());
    let mut f = filter(c);
    let r = f.process_entry("srv[12]: client 192.0.2.5: bad password for bob", T, T);
    assert_eq!(r.failures.len(), 1);
    assert_eq!(r.failures[0].fid, "192.0.2.5");
    assert_eq!(r.failures[0].data["user"], "bob");
    // The failregex sees only the content: its `^` anchors there.
    assert!(f
        .process_entry("srv[12]: client 192.0.2.5: x bad password for bob", T, T)
        .failures
        .is_empty());
    assert!(f
        .process_entry("other: bad password for bob", T, T)
        .failures
        .is_empty());
}

#[test]
fn no_failure_id_group_is_an_error() {
    let c = cfg(&[r"^no id here$"]);
    let e = Filter::new(&c, Zone::parse_logtimezone("UTC").unwrap(), T).unwrap_err();
    assert!(e.to_string().contains("No failure-id group"), "{e}");
    // mlfid in the prefregex is enough.
    let mut c = cfg(&[r"^no id here$"]);
    c.prefregex = Some(r"^<F-MLFID>\w+</F-MLFID>: <F-CONTENT>.+</F-CONTENT>$".into());
    assert!(Filter::new(&c, Zone::parse_logtimezone("UTC").unwrap(), T).is_ok());
}

/// sshd-like connection tracking: the address comes on one line, failures on later
/// lines of the same connection id, success resets unless several users were tried.
#[test]
fn mlfid_connection_state() {
    let mut c = cfg(&[
        r"^<F-NOFAIL>Connection from</F-NOFAIL> <HOST>",
        r"^Failed password for <F-USER>\S+</F-USER>",
        r"^<F-MLFGAINED>Accepted password for <F-USER>\S+</F-USER></F-MLFGAINED>",
        r"^<F-MLFFORGET>Disconnected</F-MLFFORGET>",
    ]);
    c.prefregex = Some(r"^<F-MLFID>sshd\[\d+\]</F-MLFID>: <F-CONTENT>.+</F-CONTENT>$".into());
    c.check_all = true;
    let mut f = filter(c);
    let r = f.process_entry("sshd[1]: Connection from 192.0.2.1", T, T);
    assert_eq!(fids(&r), vec![("192.0.2.1".into(), FailureKind::NoFail)]);
    let r = f.process_entry("sshd[1]: Failed password for root", T, T);
    assert_eq!(fids(&r), vec![("192.0.2.1".into(), FailureKind::Fail)]);
    assert_eq!(r.failures[0].data["user"], "root");
    // The nofail line that gave the address is reported with the failure.
    assert_eq!(
        r.failures[0].matches,
        vec![
            "sshd[1]: Connection from 192.0.2.1",
            "sshd[1]: Failed password for root"
        ]
    );
    let r = f.process_entry("sshd[1]: Failed password for admin", T, T);
    assert_eq!(
        r.failures[0].data["users"],
        serde_json::json!(["admin", "root"])
    );
    // Two users were tried: the later success does not clear the failure.
    let r = f.process_entry("sshd[1]: Accepted password for admin", T, T);
    assert_eq!(fids(&r), vec![("192.0.2.1".into(), FailureKind::Fail)]);
    let r = f.process_entry("sshd[1]: Disconnected", T, T);
    assert_eq!(r.failures.len(), 1);
    // Forgotten: a new failure on the same id has no address and is pending.
    let r = f.process_entry("sshd[1]: Failed password for root", T, T);
    assert!(r.failures[0].pending);
    assert_eq!(r.failures[0].kind, FailureKind::NoFail);
    // Another connection: one user, success clears.
    f.process_entry("sshd[2]: Connection from 192.0.2.2", T, T);
    f.process_entry("sshd[2]: Failed password for carol", T, T);
    let r = f.process_entry("sshd[2]: Accepted password for carol", T, T);
    assert_eq!(fids(&r), vec![("192.0.2.2".into(), FailureKind::NoFail)]);
}

#[test]
fn pending_failure_surfaces_with_address() {
    let mut c = cfg(&[r"^Failed for <F-USER>\S+</F-USER>$", r"^from <HOST>$"]);
    c.prefregex = Some(r"^<F-MLFID>c\d+</F-MLFID>: <F-CONTENT>.+</F-CONTENT>$".into());
    let mut f = filter(c);
    // Production mode: the pending failure reports nothing yet.
    assert!(f
        .process_entry("c1: Failed for bob", T, T)
        .failures
        .is_empty());
    let r = f.process_entry("c1: from 192.0.2.3", T, T);
    assert_eq!(r.failures.len(), 1);
    assert_eq!(r.failures[0].fid, "192.0.2.3");
    assert_eq!(r.failures[0].data["user"], "bob");
    assert_eq!(
        r.failures[0].matches,
        vec!["c1: Failed for bob", "c1: from 192.0.2.3"]
    );
}

#[test]
fn multi_line_buffer_and_skiplines() {
    let mut c = cfg(&[r"^start (?P<fid>\w+)<SKIPLINES>^end from <HOST>$"]);
    c.maxlines = 5;
    let mut f = filter(c);
    assert!(f.process_entry("start s1", T, T).failures.is_empty());
    assert!(f.process_entry("noise", T, T).failures.is_empty());
    let r = f.process_entry("end from 192.0.2.4", T, T);
    assert_eq!(r.failures.len(), 1);
    assert_eq!(r.failures[0].fid, "s1");
    assert_eq!(r.failures[0].data["ip"], "192.0.2.4");
    assert_eq!(
        r.failures[0].matches,
        vec!["start s1", "end from 192.0.2.4"]
    );
    // The matched lines left the buffer; the skipped one stayed.
    assert!(f
        .process_entry("end from 192.0.2.4", T, T)
        .failures
        .is_empty());
}

#[test]
fn hostile_line_is_reported_and_processing_goes_on() {
    let mut f = filter(cfg(&[r"^(\w+\w+)+(?: from <HOST>)?$"]));
    let hostile = format!("{}!", "x".repeat(5000));
    let r = f.process_entry(&hostile, T, T);
    assert!(r.failures.is_empty());
    assert_eq!(r.errors.len(), 1, "{:?}", r.errors);
    let r = f.process_entry("xxx from 192.0.2.1", T, T);
    assert_eq!(r.failures.len(), 1);
}

#[test]
fn tuple_groups() {
    let mut f = filter(cfg(&[
        r"^<F-TUPLE_USER>\w+</F-TUPLE_USER> <F-USER>\w+</F-USER> from <ADDR>$",
    ]));
    let r = f.process_entry("a b from 192.0.2.1", T, T);
    assert_eq!(r.failures[0].data["user"], serde_json::json!(["b", "a"]));
}

#[test]
fn civil_year_of_unix_time() {
    assert_eq!(civil_year(0.0), 1970);
    assert_eq!(civil_year(T), 2005);
    assert_eq!(civil_year(951_782_400.0), 2000); // 2000-02-29
    assert_eq!(civil_year(1_704_067_199.0), 2023);
    assert_eq!(civil_year(1_704_067_200.0), 2024);
}

/// A failregex group that did not take part still overrides the prefregex group of
/// the same name (fail2ban merges the prefregex groups first, then the failregex's).
#[test]
fn failregex_group_overrides_prefregex_group() {
    let mut c = cfg(&[r"^bad(?: user <F-USER>\S+</F-USER>)? from <HOST>$"]);
    c.prefregex = Some(r"^<F-USER>\w+</F-USER>: <F-CONTENT>.+</F-CONTENT>$".into());
    let mut f = filter(c);
    let r = f.process_entry("alice: bad from 192.0.2.1", T, T);
    assert_eq!(r.failures.len(), 1);
    assert!(
        !r.failures[0].data.contains_key("user"),
        "{:?}",
        r.failures[0].data
    );
    let r = f.process_entry("alice: bad user bob from 192.0.2.1", T, T);
    assert_eq!(r.failures[0].data["user"], "bob");
}

#[test]
fn filter_can_move_to_another_thread() {
    fn assert_send<T: Send>() {}
    assert_send::<Filter>();
    assert_send::<LineResult>();
}

/// With few ignoreregexes for many failregexes, fail2ban checks them once on the whole
/// line before the prefregex; otherwise only on what a failregex matched (the content).
#[test]
fn early_ignore_sees_the_whole_line() {
    let build = |fail: &[&str]| {
        let mut c = cfg(fail);
        c.prefregex = Some(r"^tag: <F-CONTENT>.+</F-CONTENT>$".into());
        c.ignoreregex = vec![r"^tag:".into()];
        filter(c)
    };
    let line = "tag: fail from 192.0.2.1";
    // One failregex: the ignoreregex runs on the content and does not match.
    let mut one = build(&[r"^fail from <HOST>$"]);
    assert_eq!(one.process_entry(line, T, T).failures.len(), 1);
    // Four failregexes (ignoreregexes < failregexes - 2): checked on the whole line.
    let mut four = build(&[
        r"^fail from <HOST>$",
        r"^a <HOST>",
        r"^b <HOST>",
        r"^c <HOST>",
    ]);
    let r = four.process_entry(line, T, T);
    assert!(r.failures.is_empty());
    assert!(r.ignored);
}

/// The daemon's time checks (`find_time` set): fail2ban's `checkFindTime`.
#[test]
fn find_time_checks() {
    let mk = |in_operation: bool| {
        let mut c = cfg(&[r"^fail from <HOST>$"]);
        c.datepattern = None; // default templates: these lines carry no date
        c.find_time = Some(600.0);
        let mut f = filter(c);
        f.set_in_operation(in_operation);
        f
    };
    let line = "fail from 192.0.2.1";
    // In operation: a date more than a minute off counts as now; the future is clamped.
    let mut f = mk(true);
    assert_eq!(f.process_entry(line, T - 7200.0, T).failures[0].time, T);
    assert_eq!(
        f.process_entry(line, T - 30.0, T).failures[0].time,
        T - 30.0
    );
    assert_eq!(f.process_entry(line, T + 30.0, T).failures[0].time, T);
    // A line without a date takes the recent last date (T + 30, the last entry's),
    // clamped to now; without a recent one, now.
    assert_eq!(f.process_line(line, T + 10.0).failures[0].time, T + 10.0);
    assert_eq!(f.process_line(line, T + 100.0).failures[0].time, T + 100.0);
    // Initial read: lines older than findtime are skipped, newer ones kept as dated.
    let mut f = mk(false);
    assert!(f.process_entry(line, T - 601.0, T).failures.is_empty());
    assert_eq!(
        f.process_entry(line, T - 599.0, T).failures[0].time,
        T - 599.0
    );
    // ...and a line with no date at all (and no recent one) yields nothing.
    assert!(f.process_line(line, T + 1000.0).failures.is_empty());
    // Without find_time (tests, fail2ban-regex) dates are taken as they are.
    let mut c = cfg(&[r"^fail from <HOST>$"]);
    c.datepattern = None;
    let mut f = filter(c);
    assert_eq!(
        f.process_entry(line, T - 7200.0, T).failures[0].time,
        T - 7200.0
    );
}

/// `set_keep_keys` / `set_keep_matches` leave out what the caller does not read, and
/// nothing else changes; a kept value holding `<F-` keeps every key.
#[test]
fn keep_keys_and_matches() {
    let regexes = [
        r"^<F-MLFID>\S+</F-MLFID> user <F-USER>\S+</F-USER> port <F-PORT>\d+</F-PORT> from <HOST>$",
        r"^user <F-USER>\S+</F-USER> port <F-PORT>\d+</F-PORT> from <HOST>$",
    ];
    let lines = [
        "c1 user bob port 22 from 192.0.2.1",
        "c1 user eve port 23 from 192.0.2.1",
        "user <F-PORT> port 24 from 192.0.2.2",
        "user carol port 25 from 192.0.2.3",
    ];
    for re in regexes {
        let mut full = filter(cfg(&[re]));
        let mut lean = filter(cfg(&[re]));
        lean.set_keep_keys(Some(vec!["user".into(), "ip".into()]));
        lean.set_keep_matches(false);
        let mut seen = 0;
        for line in lines {
            let a = full.process_entry(line, T, T);
            let b = lean.process_entry(line, T, T);
            assert_eq!(a.failures.len(), b.failures.len(), "{re} {line}");
            for (x, y) in a.failures.iter().zip(&b.failures) {
                seen += 1;
                assert_eq!(
                    (&x.fid, x.time, x.kind, x.regex, x.pending),
                    (&y.fid, y.time, y.kind, y.regex, y.pending)
                );
                assert!(!x.matches.is_empty() && y.matches.is_empty());
                if x.data.get("user").and_then(|v| v.as_str()) == Some("<F-PORT>") {
                    // Tag text in a kept value: everything is kept.
                    assert_eq!(x.data, y.data, "{line}");
                } else {
                    let want: BTreeMap<String, serde_json::Value> = x
                        .data
                        .iter()
                        .filter(|(k, _)| *k == "user" || *k == "ip")
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect();
                    assert_eq!(y.data, want, "{line}");
                    assert!(x.data.len() > y.data.len(), "{:?}", x.data);
                }
            }
        }
        assert!(seen >= 2, "{re}: {seen} failures");
    }
}

/// The dotted-quad check behind the id fast path takes exactly what the standard
/// parser takes (which is what `addr::canonical` keeps unchanged).
#[test]
fn plain_ipv4_agrees_with_std_parser() {
    let fixed = [
        "0.0.0.0",
        "1.2.3.4",
        "255.255.255.255",
        "256.1.1.1",
        "01.2.3.4",
        "1.2.3.04",
        "1.2.3",
        "1.2.3.4.5",
        "1..3.4",
        ".1.2.3",
        "1.2.3.",
        "249.250.199.100",
        "260.0.0.1",
        "1.2.3.4 ",
        "a.b.c.d",
        "192.0.2.1/24",
        "1000.1.1.1",
        "10.0.0.1",
        "0.00.0.0",
    ];
    for s in fixed {
        assert_eq!(
            is_plain_ipv4(s),
            s.parse::<std::net::Ipv4Addr>().is_ok(),
            "{s:?}"
        );
    }
    // Every string of up to 9 characters over digits and dots from a small alphabet.
    let alphabet = [b'0', b'1', b'2', b'5', b'9', b'.'];
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    for _ in 0..200_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let len = 7 + (x % 9) as usize;
        let s: String = (0..len)
            .map(|i| alphabet[((x >> (i * 3 + 5)) % alphabet.len() as u64) as usize] as char)
            .collect();
        assert_eq!(
            is_plain_ipv4(&s),
            s.parse::<std::net::Ipv4Addr>().is_ok(),
            "{s:?}"
        );
    }
}

/// A `LineResult` handed back line after line (`process_line_into`, whose failures'
/// strings and maps are overwritten) holds exactly what a fresh one from
/// `process_line` holds: every stock filter over its sample log, with every key, with
/// a few keys and no matched lines, and with fail2ban's ordered data.
#[test]
fn reused_results_equal_fresh_ones() {
    let Some((confdir, logs)) = crate::stock::reference() else {
        return;
    };
    let names = crate::stock::filter_names(confdir);
    let (mut lines_seen, mut failures) = (0usize, 0usize);
    for name in names {
        let Ok(def) = bailiff_config::read_filter(confdir, &name, &[]) else {
            continue;
        };
        let Ok(bytes) = std::fs::read(logs.join(&name)) else {
            continue;
        };
        let text = String::from_utf8_lossy(&bytes).into_owned();
        for (variant, check_all) in [(0, true), (1, false), (2, true)] {
            let cfg = FilterConfig {
                prefregex: def.prefregex.clone(),
                failregex: def.failregex.clone(),
                ignoreregex: def.ignoreregex.clone(),
                maxlines: def.maxlines.unwrap_or(1),
                datepattern: def.datepattern.clone(),
                check_all,
                any_year: true,
                ..FilterConfig::default()
            };
            let Ok(mut fresh) = Filter::new(&cfg, Zone::parse_logtimezone("UTC").unwrap(), T)
            else {
                continue;
            };
            let mut reused = Filter::new(&cfg, Zone::parse_logtimezone("UTC").unwrap(), T).unwrap();
            for f in [&mut fresh, &mut reused] {
                f.set_ignore_pending(!check_all);
                match variant {
                    1 => {
                        f.set_keep_keys(Some(vec!["ip".into(), "user".into()]));
                        f.set_keep_matches(false);
                    }
                    2 => f.set_ordered_data(true),
                    _ => {}
                }
            }
            let mut res = LineResult::default();
            for line in text.lines().filter(|l| !l.starts_with('#')) {
                let a = fresh.process_line(line, T);
                reused.process_line_into(line, T, &mut res);
                assert_eq!(
                    format!("{a:?}"),
                    format!("{res:?}"),
                    "{name} ({variant}): {line}"
                );
                lines_seen += 1;
                failures += a.failures.len();
            }
        }
    }
    assert!(
        lines_seen > 3_000 && failures > 1_000,
        "{lines_seen} lines, {failures} failures"
    );
}

/// The IPv6 ids formatted without `core::fmt` are those `addr::canonical` gives:
/// random addresses rich in zero groups, IPv4-mapped and -compatible ones, and
/// text that is no address.
#[test]
fn ipv6_ids_agree_with_canonical() {
    let mut x: u64 = 0x1234_5678_9abc_def1;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut texts: Vec<String> = [
        "::",
        "::1",
        "1::",
        "::ffff:192.0.2.1",
        "::ffff:c000:0201",
        "::102:304",
        "0:0:0:0:0:0:1.2.3.4",
        "2001:DB8:0:0::1",
        "1:0:0:2:0:0:0:3",
        "1:0:0:2:0:0:3:4",
        "fe80::1%eth0",
        "[::1]",
        "::1/64",
        "1.2.3.4",
        "not:an:address",
        "1:2:3:4:5:6:7:8:9",
        "abcd:ef01:2345:6789:abcd:ef01:2345:6789",
        "0:1:0:1:0:1:0:1",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for _ in 0..20_000 {
        let r = next();
        let seg: Vec<u16> = (0..8)
            .map(|i| {
                let v = (next() & 0xffff) as u16;
                // Mostly zero groups, some small, some full.
                match (r >> (i * 3)) & 7 {
                    0..=3 => 0,
                    4 => v & 0xf,
                    5 => v & 0xff,
                    _ => v,
                }
            })
            .collect();
        let a = std::net::Ipv6Addr::new(
            seg[0], seg[1], seg[2], seg[3], seg[4], seg[5], seg[6], seg[7],
        );
        // Written as `Display` does, and in full with upper case.
        texts.push(a.to_string());
        texts.push(
            seg.iter()
                .map(|w| format!("{w:X}"))
                .collect::<Vec<_>>()
                .join(":"),
        );
    }
    for t in &texts {
        for (cidr, fam) in [
            (Cidr::Fam(Family::V6), Family::V6),
            (Cidr::Fam(Family::Any), Family::Any),
        ] {
            let mut got = String::new();
            ipaddr_into(t, cidr, &mut got);
            assert_eq!(got, addr::canonical(t, fam, None), "{t}");
        }
        let mut got = String::new();
        ipaddr_into(t, Cidr::Unspec, &mut got);
        assert_eq!(got, addr::canonical_any(t), "{t}");
    }
}

/// The hand-written IPv6 reader accepts exactly what the standard parser accepts
/// (texts without a dotted quad), with the same groups: random texts over the
/// characters that matter, and every Display form of random addresses cut short
/// or lengthened.
#[test]
fn hex_ipv6_reader_agrees_with_std() {
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    const CHARS: &[u8] = b"0123456789abcdefABCDEFgG::::::: ";
    let mut texts: Vec<String> = [
        "",
        ":",
        "::",
        ":::",
        "::1",
        "1::",
        "1:2:3:4:5:6:7:8",
        "1:2:3:4:5:6:7:8:9",
        "1:2:3:4:5:6:7::",
        "::2:3:4:5:6:7:8",
        "1::3:4:5:6:7:8",
        "1:2:3:4:5:6:7:8::",
        "12345::",
        "1:23456::",
        "1:::2",
        ":1::",
        "1::2::3",
        "ffff::FFFF",
        "0:0::0:0",
        "00000::",
        "1:2:3:4:5:6::7:8",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for _ in 0..200_000 {
        let r = next();
        let len = (r % 24) as usize;
        let t: String = (0..len)
            .map(|_| char::from(CHARS[(next() % CHARS.len() as u64) as usize]))
            .collect();
        texts.push(t);
        let seg: Vec<u16> = (0..8)
            .map(|i| match (r >> (8 + i * 2)) & 3 {
                0 | 1 => 0,
                2 => (next() & 0xff) as u16,
                _ => next() as u16,
            })
            .collect();
        let a = std::net::Ipv6Addr::new(
            seg[0], seg[1], seg[2], seg[3], seg[4], seg[5], seg[6], seg[7],
        );
        let d = a.to_string();
        if !d.contains('.') {
            let cut = (r >> 40) as usize % (d.len() + 1);
            texts.push(d[..cut].to_string());
            texts.push(format!("{d}:{:x}", r >> 48));
            texts.push(d);
        }
    }
    let mut accepted = 0;
    for t in &texts {
        let want = t.parse::<std::net::Ipv6Addr>().ok().map(|a| a.segments());
        assert_eq!(parse_hex_ipv6(t.as_bytes()), want, "{t:?}");
        accepted += usize::from(want.is_some());
    }
    // Both sides of the rule were exercised.
    assert!(accepted > 100_000 && accepted < texts.len(), "{accepted}");
}

/// `has_tag` finds `<F-` at every place and length, and nothing else.
#[test]
fn has_tag_finds_every_place() {
    for len in 0..40 {
        for at in 0..len {
            for (put, want) in [("<F-", true), ("<f-", false), ("<F", false), ("F-", false)] {
                let mut t = vec![b'a'; len];
                for (j, c) in put.bytes().enumerate() {
                    if at + j < len {
                        t[at + j] = c;
                    }
                }
                let t = String::from_utf8(t).unwrap();
                let want = want && at + put.len() <= len;
                assert_eq!(has_tag(&t), want, "{t:?}");
            }
        }
    }
}
