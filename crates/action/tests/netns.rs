//! Real traffic through real rulesets in network namespaces: a ban counts only when
//! packets stop. Needs root and `ip netns`; runs for real when CI=true, skips loudly
//! otherwise when namespaces are not permitted.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use bailiff_action::nft::{Ban, NftBackend, NftJail, NftTable};
use bailiff_action::{CommandAction, HostNames, Target, Ticket};
use bailiff_e2e::{Lab, ATK4, ATK4_OTHER_NET, ATK6, OTHER_PORT, PORT, SRV4, SRV4B, SRV6};

/// The lab shared with the end-to-end tests (`bailiff_e2e::Lab`); `_tag` names the
/// test for the reader only.
fn lab(_tag: &str) -> Option<Lab> {
    match Lab::new() {
        Ok(l) => Some(l),
        Err(e) => {
            common::skip(&format!("network namespaces unavailable: {e}"));
            None
        }
    }
}

/// Run an nft script inside the lab's server namespace; it must succeed.
fn nft_script(lab: &Lab, script: &str) {
    if let Err(e) = lab.nft(&[script]) {
        panic!("{e}");
    }
}

fn t(s: &str) -> Target {
    s.parse().unwrap()
}

fn backend(lab: &Lab, jail: NftJail) -> NftBackend {
    NftBackend::new(jail).with_command(lab.srv_argv("nft"))
}

#[test]
fn nft_ban_and_unban_ipv4_and_ipv6() {
    let Some(lab) = lab("b") else { return };
    let jail = NftJail::new("sshd", Some(&PORT.to_string()), "tcp", "reject").unwrap();
    let mut nft = backend(&lab, jail);
    nft.start(&[]).unwrap();
    assert!(lab.connects_to(ATK4[0], SRV4, PORT));

    nft.ban(&[Ban::new(t(ATK4[0]), None), Ban::new(t(ATK6[0]), None)])
        .unwrap();
    assert!(
        !lab.connects_to(ATK4[0], SRV4, PORT),
        "banned IPv4 still connects"
    );
    assert!(
        lab.connects_to(ATK4[1], SRV4, PORT),
        "the other IPv4 is blocked too"
    );
    assert!(
        !lab.connects_to(ATK6[0], SRV6, PORT),
        "banned IPv6 still connects"
    );
    assert!(
        lab.connects_to(ATK6[1], SRV6, PORT),
        "the other IPv6 is blocked too"
    );
    assert!(
        lab.connects_to(ATK4[0], SRV4, OTHER_PORT),
        "the rule must only cover the jail's port"
    );

    let rs = lab.ruleset();
    assert!(rs.contains("table inet bailiff"), "{rs}");
    assert!(rs.contains("flags interval,timeout"), "{rs}");

    nft.unban(&[t(ATK4[0]), t(ATK6[0])]).unwrap();
    assert!(
        lab.connects_to(ATK4[0], SRV4, PORT),
        "unbanned IPv4 still blocked"
    );
    assert!(
        lab.connects_to(ATK6[0], SRV6, PORT),
        "unbanned IPv6 still blocked"
    );

    // unbanning what is not banned is not an error
    nft.unban(&[t(ATK4[0]), t("192.0.2.99")]).unwrap();
    nft.stop().unwrap();
    assert!(
        !lab.ruleset().contains("bailiff"),
        "stop leaves the table behind"
    );
}

#[test]
fn nft_element_timeout_expires_in_the_kernel() {
    let Some(lab) = lab("t") else { return };
    let jail = NftJail::new("sshd", Some(&PORT.to_string()), "tcp", "reject").unwrap();
    let mut nft = backend(&lab, jail);
    nft.start(&[]).unwrap();
    let life = Duration::from_secs(3);
    let t0 = Instant::now();
    nft.ban(&[
        Ban::new(t(ATK4[0]), Some(life)),
        Ban::new(t(ATK6[0]), Some(life)),
    ])
    .unwrap();
    assert!(!lab.connects_to(ATK4[0], SRV4, PORT));
    assert!(!lab.connects_to(ATK6[0], SRV6, PORT));
    assert!(t0.elapsed() < life, "checks took too long to prove the ban");
    std::thread::sleep(life.saturating_sub(t0.elapsed()) + Duration::from_millis(700));
    assert!(
        lab.connects_to(ATK4[0], SRV4, PORT),
        "element did not expire"
    );
    assert!(
        lab.connects_to(ATK6[0], SRV6, PORT),
        "element did not expire"
    );
    // the backend still believes they are banned: unban must cope with the kernel
    nft.unban(&[t(ATK4[0]), t(ATK6[0])]).unwrap();

    // prolonging replaces the kernel timeout of a live ban
    let t0 = Instant::now();
    nft.ban(&[Ban::new(t(ATK4[1]), Some(life))]).unwrap();
    nft.prolong(&[Ban::new(t(ATK4[1]), Some(Duration::from_secs(600)))])
        .unwrap();
    std::thread::sleep(life.saturating_sub(t0.elapsed()) + Duration::from_millis(700));
    assert!(
        !lab.connects_to(ATK4[1], SRV4, PORT),
        "prolonged ban expired at its old timeout"
    );
    // and a fresh ban works again
    nft.ban(&[Ban::new(t(ATK4[0]), None)]).unwrap();
    assert!(!lab.connects_to(ATK4[0], SRV4, PORT));
}

#[test]
fn nft_cidr_ban_blocks_a_whole_network() {
    let Some(lab) = lab("c") else { return };
    let jail = NftJail::new("web", None, "tcp", "reject").unwrap();
    let mut nft = backend(&lab, jail);
    nft.start(&[]).unwrap();
    nft.ban(&[
        Ban::new(t(ATK4[0]), None),
        Ban::new(t("10.77.0.0/30"), None),
    ])
    .unwrap();
    // a network over an already banned address and network, and a network inside it
    nft.ban(&[
        Ban::new(t("10.77.0.0/24"), None),
        Ban::new(t("10.77.0.0/28"), None),
    ])
    .unwrap();
    for port in [PORT, OTHER_PORT] {
        assert!(!lab.connects_to(ATK4[0], SRV4, port), "allports: {port}");
        assert!(!lab.connects_to(ATK4[1], SRV4, port), "allports: {port}");
    }
    assert!(
        lab.connects_to(ATK4_OTHER_NET, SRV4B, PORT),
        "another /24 is blocked"
    );
    nft.ban(&[Ban::new(t("fd00:77::/64"), None)]).unwrap();
    assert!(!lab.connects_to(ATK6[0], SRV6, PORT));
    assert!(!lab.connects_to(ATK6[1], SRV6, PORT));
    nft.unban(&[t("10.77.0.0/24"), t("fd00:77::/64")]).unwrap();
    assert!(
        lab.connects_to(ATK4[1], SRV4, PORT),
        "network unban did not lift the ban"
    );
    assert!(
        lab.connects_to(ATK6[1], SRV6, PORT),
        "network unban did not lift the ban"
    );
    // the /30 was replaced by the /24; the address banned on its own stays banned
    assert!(
        !lab.connects_to(ATK4[0], SRV4, PORT),
        "an address ban must outlive the network ban"
    );
    nft.unban(&[t(ATK4[0])]).unwrap();
    assert!(lab.connects_to(ATK4[0], SRV4, PORT));
}

#[test]
fn nft_check_and_repair_after_flush_ruleset() {
    let Some(lab) = lab("r") else { return };
    let jail = NftJail::new("sshd", Some(&PORT.to_string()), "tcp", "reject").unwrap();
    let mut nft = backend(&lab, jail);
    let bans = [Ban::new(t(ATK4[0]), None), Ban::new(t(ATK6[0]), None)];
    nft.start(&bans).unwrap();
    let recorded: Vec<Target> = bans.iter().map(|b| b.target).collect();
    let report = nft.check(&recorded).unwrap();
    assert!(report.is_sane(), "{report:?}");
    assert!(!lab.connects_to(ATK4[0], SRV4, PORT));

    nft_script(&lab, "flush ruleset");
    assert!(
        lab.connects_to(ATK4[0], SRV4, PORT),
        "flush ruleset should lift the ban"
    );
    let report = nft.check(&recorded).unwrap();
    assert!(!report.is_sane());
    assert!(!report.table);
    assert_eq!(report.missing, recorded);
    nft.repair(&bans).unwrap();
    assert!(nft.check(&recorded).unwrap().is_sane());
    assert!(
        !lab.connects_to(ATK4[0], SRV4, PORT),
        "repair did not restore the IPv4 ban"
    );
    assert!(
        !lab.connects_to(ATK6[0], SRV6, PORT),
        "repair did not restore the IPv6 ban"
    );

    // an element removed behind our back is reported as missing
    nft_script(
        &lab,
        &format!(
            "delete element inet bailiff addr-set-sshd {{ {} }}",
            ATK4[0]
        ),
    );
    let report = nft.check(&recorded).unwrap();
    assert_eq!(report.missing, vec![t(ATK4[0])]);
    assert!(report.table && report.chain && report.sets && report.rules);
}

/// A ban after someone flushed the ruleset re-creates the table with every ban
/// bailiff had applied (keeping the time each had left in the kernel) plus the new
/// one, and says so once.
#[test]
fn nft_ban_after_flush_ruleset_recreates_the_table_with_every_ban() {
    let Some(lab) = lab("f") else { return };
    let jail = NftJail::new("sshd", Some(&PORT.to_string()), "tcp", "reject").unwrap();
    let mut nft = backend(&lab, jail);
    nft.start(&[]).unwrap();
    nft.ban(&[
        Ban::new(t(ATK4[0]), Some(Duration::from_secs(600))),
        Ban::new(t(ATK6[0]), None),
    ])
    .unwrap();
    assert!(!nft.take_self_repaired());
    nft_script(&lab, "flush ruleset");
    assert!(
        lab.connects_to(ATK4[0], SRV4, PORT),
        "flush did not lift the ban"
    );
    nft.ban(&[Ban::new(t(ATK4[1]), Some(Duration::from_secs(600)))])
        .unwrap();
    assert!(
        nft.take_self_repaired(),
        "the re-created table was not reported"
    );
    assert!(!nft.take_self_repaired(), "reported twice");
    for (a, dst) in [(ATK4[0], SRV4), (ATK4[1], SRV4), (ATK6[0], SRV6)] {
        assert!(
            !lab.connects_to(a, dst, PORT),
            "{a} not blocked after the re-created table\n{}",
            lab.ruleset()
        );
    }
    assert!(lab.connects_to(ATK6[1], SRV6, PORT));
    // the restored element kept its kernel timeout (about 600 s left), the
    // permanent one has none
    let set4 = lab
        .nft(&["list", "set", "inet", "bailiff", "addr-set-sshd"])
        .unwrap();
    let line = set4.replace(',', "\n");
    let restored = line
        .lines()
        .find(|l| l.contains(ATK4[0]))
        .unwrap_or_else(|| panic!("{set4}"));
    assert!(restored.contains("expires"), "{set4}");
    let set6 = lab
        .nft(&["list", "set", "inet", "bailiff", "addr6-set-sshd"])
        .unwrap();
    let line6 = set6.replace(',', "\n");
    let permanent = line6
        .lines()
        .find(|l| l.contains(ATK6[0]))
        .unwrap_or_else(|| panic!("{set6}"));
    assert!(!permanent.contains("expires"), "{set6}");
    // unban still works on the re-created table
    nft.unban(&[t(ATK4[0])]).unwrap();
    assert!(lab.connects_to(ATK4[0], SRV4, PORT));
    assert!(nft.check(&[t(ATK4[1]), t(ATK6[0])]).unwrap().is_sane());
}

fn many(n: usize) -> Vec<Ban> {
    // n distinct addresses in 100.64.0.0/10, plus the attacker
    let mut v: Vec<Ban> = (0..n as u32 - 1)
        .map(|i| {
            let a = std::net::Ipv4Addr::from(0x6440_0000u32 + i * 3 + 1);
            Ban::new(Target::host(a.into()), Some(Duration::from_secs(3600)))
        })
        .collect();
    v.push(Ban::new(t(ATK4[0]), Some(Duration::from_secs(3600))));
    v
}

#[test]
fn nft_restores_20000_bans_in_one_transaction() {
    let Some(lab) = lab("m") else { return };
    let jail = NftJail::new("sshd", Some(&PORT.to_string()), "tcp", "reject").unwrap();
    let mut nft = backend(&lab, jail);
    for n in [20_000usize, 100_000] {
        let bans = many(n);
        let t0 = Instant::now();
        let took = nft.start(&bans).unwrap();
        eprintln!(
            "MEASURED: start with {n} bans in one transaction: {:?} (wall {:?})",
            took,
            t0.elapsed()
        );
        // How fast is bench/bulk-ban's question (beside fail2ban, in the same
        // run); this test only proves that the restored bans are enforced.
        assert!(
            !lab.connects_to(ATK4[0], SRV4, PORT),
            "restored ban not enforced"
        );
        assert!(lab.connects_to(ATK4[1], SRV4, PORT));
        let recorded: Vec<Target> = bans.iter().map(|b| b.target).collect();
        let t1 = Instant::now();
        let report = nft.check(&recorded).unwrap();
        eprintln!("MEASURED: check of {n} recorded bans: {:?}", t1.elapsed());
        assert!(report.is_sane(), "missing {}", report.missing.len());
    }
    // a batch of 10,000 new bans, then unbanning them, each one transaction
    let extra: Vec<Ban> = (0..10_000u32)
        .map(|i| {
            Ban::new(
                Target::host(std::net::Ipv4Addr::from(0x0a40_0000u32 + i).into()),
                None,
            )
        })
        .collect();
    let t0 = Instant::now();
    nft.ban(&extra).unwrap();
    eprintln!(
        "MEASURED: ban batch of 10000 on top of 100000: {:?}",
        t0.elapsed()
    );
    let t0 = Instant::now();
    nft.unban(&extra.iter().map(|b| b.target).collect::<Vec<_>>())
        .unwrap();
    eprintln!("MEASURED: unban batch of 10000: {:?}", t0.elapsed());
    assert!(!lab.connects_to(ATK4[0], SRV4, PORT));
}

#[test]
fn stock_nftables_multiport_applied_natively() {
    let stock = Path::new("/etc/fail2ban/action.d/nftables-multiport.conf");
    if !stock.exists() {
        common::skip("/etc/fail2ban/action.d/nftables-multiport.conf is not installed");
        return;
    }
    let Some(lab) = lab("n") else { return };
    let port = PORT.to_string();
    let props = common::read_action(
        stock,
        &[("name", "sshd"), ("port", &port), ("protocol", "tcp")],
    );
    let host = HostNames {
        fq: "h".into(),
        short: "h".into(),
    };
    let jail = NftJail::from_action("sshd", "nftables-multiport", &props, &host)
        .unwrap()
        .expect("recognised");
    assert_eq!(jail.table, NftTable::fail2ban());
    let mut nft = backend(&lab, jail);
    nft.start(&[]).unwrap();
    nft.ban(&[Ban::new(t(ATK4[0]), None), Ban::new(t(ATK6[1]), None)])
        .unwrap();
    assert!(!lab.connects_to(ATK4[0], SRV4, PORT));
    assert!(!lab.connects_to(ATK6[1], SRV6, PORT));
    assert!(lab.connects_to(ATK4[1], SRV4, PORT));
    let rs = lab.ruleset();
    for name in [
        "table inet f2b-table",
        "chain f2b-chain",
        "set addr-set-sshd",
        "set addr6-set-sshd",
    ] {
        assert!(rs.contains(name), "{name} missing from\n{rs}");
    }
    assert!(
        rs.contains(&format!("tcp dport {PORT} ip saddr @addr-set-sshd reject")),
        "{rs}"
    );
}

#[test]
fn stock_iptables_multiport_through_the_runner() {
    let stock = Path::new("/etc/fail2ban/action.d/iptables-multiport.conf");
    if !stock.exists() || Path::new("/usr/sbin/iptables").metadata().is_err() {
        common::skip("iptables or /etc/fail2ban/action.d/iptables-multiport.conf is not installed");
        return;
    }
    let Some(lab) = lab("i") else { return };
    let port = PORT.to_string();
    let props = common::read_action(
        stock,
        &[
            ("name", "sshd"),
            ("port", &port),
            ("protocol", "tcp"),
            ("chain", "INPUT"),
        ],
    );
    let host = HostNames {
        fq: "h".into(),
        short: "h".into(),
    };
    let shell = vec![
        "ip".into(),
        "netns".into(),
        "exec".into(),
        lab.srv.clone(),
        "/bin/sh".into(),
        "-c".into(),
    ];
    let mut act = CommandAction::new("sshd", "iptables-multiport", props, host)
        .unwrap()
        .with_shell(shell);
    act.start().unwrap();
    let b4 = Ticket::new(t(ATK4[0]));
    let b6 = Ticket::new(t(ATK6[0]));
    act.ban(&b4).unwrap();
    act.ban(&b6).unwrap();
    assert!(
        !lab.connects_to(ATK4[0], SRV4, PORT),
        "iptables ban not enforced"
    );
    assert!(
        !lab.connects_to(ATK6[0], SRV6, PORT),
        "ip6tables ban not enforced"
    );
    assert!(lab.connects_to(ATK4[1], SRV4, PORT));
    assert!(lab.connects_to(ATK6[1], SRV6, PORT));
    act.unban(&b4).unwrap();
    act.unban(&b6).unwrap();
    assert!(lab.connects_to(ATK4[0], SRV4, PORT));
    assert!(lab.connects_to(ATK6[0], SRV6, PORT));
    act.stop().unwrap();
}

#[test]
fn action_facade_restores_checks_and_repairs() {
    use bailiff_action::{Action, ActionOptions};
    let stock = Path::new("/etc/fail2ban/action.d/nftables-allports.conf");
    if !stock.exists() {
        common::skip("/etc/fail2ban/action.d/nftables-allports.conf is not installed");
        return;
    }
    let Some(lab) = lab("f") else { return };
    let mut opts = ActionOptions::new(HostNames {
        fq: "h".into(),
        short: "h".into(),
    });
    opts.nft_command = lab.srv_argv("nft");
    let props = common::read_action(stock, &[("name", "recidive"), ("protocol", "tcp")]);
    let mut act = Action::from_properties("recidive", "nftables-allports", props, &opts).unwrap();
    assert!(
        matches!(act, Action::Nft { .. }),
        "stock nftables file must run natively"
    );
    let now = 1_800_000_000;
    let ticket = |ip: &str, bantime: i64| {
        let mut t = Ticket::new(t(ip));
        t.time = now;
        t.bantime = bantime;
        t
    };
    // restored at start: one permanent, one with 10 minutes left
    let restored = [ticket(ATK4[0], -1), ticket(ATK6[0], 600)];
    act.start(now, &restored).unwrap();
    for port in [PORT, OTHER_PORT] {
        assert!(
            !lab.connects_to(ATK4[0], SRV4, port),
            "allports ban on {port}"
        );
        assert!(
            !lab.connects_to(ATK6[0], SRV6, port),
            "allports ban on {port}"
        );
    }
    act.ban(now, &[ticket(ATK4[1], 600)]).unwrap();
    assert!(!lab.connects_to(ATK4[1], SRV4, PORT));
    let active = [
        restored[0].clone(),
        restored[1].clone(),
        ticket(ATK4[1], 600),
    ];
    assert!(
        !act.check_and_repair(now, &active).unwrap(),
        "nothing to repair yet"
    );

    nft_script(&lab, "flush ruleset");
    assert!(lab.connects_to(ATK4[0], SRV4, PORT));
    assert!(
        act.check_and_repair(now, &active).unwrap(),
        "a repair was needed"
    );
    assert!(
        !lab.connects_to(ATK4[0], SRV4, PORT),
        "repair did not restore enforcement"
    );
    assert!(
        !lab.connects_to(ATK4[1], SRV4, PORT),
        "repair did not restore enforcement"
    );
    assert!(
        !lab.connects_to(ATK6[0], SRV6, PORT),
        "repair did not restore enforcement"
    );

    act.unban(&[ticket(ATK4[1], 600)]).unwrap();
    assert!(lab.connects_to(ATK4[1], SRV4, PORT));
    act.stop(&active).unwrap();
    assert!(lab.connects_to(ATK4[0], SRV4, PORT));
    assert!(
        !lab.ruleset().contains("f2b-table"),
        "stop leaves the table"
    );
}

#[test]
fn native_backend_takes_over_a_ruleset_made_by_the_stock_file() {
    let stock = Path::new("/etc/fail2ban/action.d/nftables-multiport.conf");
    if !stock.exists() {
        common::skip("/etc/fail2ban/action.d/nftables-multiport.conf is not installed");
        return;
    }
    let Some(lab) = lab("o") else { return };
    let port = PORT.to_string();
    let props = common::read_action(
        stock,
        &[("name", "sshd"), ("port", &port), ("protocol", "tcp")],
    );
    let host = HostNames {
        fq: "h".into(),
        short: "h".into(),
    };
    // first the file itself, through the runner, the way fail2ban would run it
    let shell = vec![
        "ip".into(),
        "netns".into(),
        "exec".into(),
        lab.srv.clone(),
        "/bin/sh".into(),
        "-c".into(),
    ];
    let mut file = CommandAction::new("sshd", "nftables-multiport", props.clone(), host.clone())
        .unwrap()
        .with_shell(shell);
    file.start().unwrap();
    file.ban(&Ticket::new(t(ATK4[0]))).unwrap();
    file.ban(&Ticket::new(t(ATK6[0]))).unwrap();
    assert!(
        !lab.connects_to(ATK4[0], SRV4, PORT),
        "the stock file's ban is not enforced"
    );
    assert!(
        !lab.connects_to(ATK6[0], SRV6, PORT),
        "the stock file's ban is not enforced"
    );
    assert!(file.check(bailiff_action::Family::Inet4).unwrap());

    // then the native backend on the same names: it replaces the set and its rule
    let jail = NftJail::from_action("sshd", "nftables-multiport", &props, &host)
        .unwrap()
        .unwrap();
    let mut nft = backend(&lab, jail);
    nft.start(&[Ban::new(t(ATK4[1]), None)]).unwrap();
    assert!(
        lab.connects_to(ATK4[0], SRV4, PORT),
        "start must reset the set to the given bans"
    );
    assert!(!lab.connects_to(ATK4[1], SRV4, PORT));
    let rs = lab.ruleset();
    assert_eq!(
        rs.matches("saddr @addr-set-sshd ").count(),
        1,
        "old rule left behind:\n{rs}"
    );
    assert!(nft.check(&[t(ATK4[1])]).unwrap().is_sane());
}

#[test]
fn start_recreates_a_chain_with_another_priority() {
    let Some(lab) = lab("p") else { return };
    nft_script(&lab, "add table inet bailiff");
    nft_script(
        &lab,
        "add chain inet bailiff input { type filter hook input priority 0 ; }",
    );
    let jail = NftJail::new("sshd", Some(&PORT.to_string()), "tcp", "reject").unwrap();
    let mut nft = backend(&lab, jail);
    nft.start(&[Ban::new(t(ATK4[0]), None)]).unwrap();
    assert!(!lab.connects_to(ATK4[0], SRV4, PORT));
    assert!(nft.check(&[t(ATK4[0])]).unwrap().is_sane());
    assert!(
        lab.ruleset().contains("priority filter - 1"),
        "{}",
        lab.ruleset()
    );
    // a foreign rule in a chain with another priority is not thrown away
    nft_script(&lab, "flush ruleset");
    nft_script(&lab, "add table inet bailiff");
    nft_script(
        &lab,
        "add chain inet bailiff input { type filter hook input priority 0 ; }",
    );
    nft_script(&lab, "add rule inet bailiff input tcp dport 9999 accept");
    let e = nft.start(&[]).unwrap_err();
    assert!(e.to_string().contains("other rules"), "{e}");
}
