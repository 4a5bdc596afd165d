//! The embedded default configuration, the lookup order and the overlay of a
//! directory over the embedded tree.

use std::fs;
use std::path::Path;

use bailiff_config::{
    check_source, dump_stream_source, load_source, read_filter_source, resolve_confdir_in,
    ConfSource,
};

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, text).unwrap();
}

fn prop(spec: &bailiff_config::ActionSpec, key: &str) -> String {
    spec.get(key)
        .and_then(|v| v.py_str())
        .unwrap_or_else(|| panic!("action {} has no {key}", spec.actname))
}

#[test]
fn lookup_order() {
    let tmp = tempfile::tempdir().unwrap();
    let bailiff = tmp.path().join("bailiff");
    let f2b = tmp.path().join("fail2ban");
    let explicit = tmp.path().join("mine");

    // nothing on disk: the embedded tree alone
    assert_eq!(
        resolve_confdir_in(None, &bailiff, &f2b),
        ConfSource::Embedded
    );
    // a fail2ban directory without jail.conf does not count
    fs::create_dir_all(&f2b).unwrap();
    assert_eq!(
        resolve_confdir_in(None, &bailiff, &f2b),
        ConfSource::Embedded
    );
    write(&f2b, "jail.conf", "[DEFAULT]\n");
    assert_eq!(
        resolve_confdir_in(None, &bailiff, &f2b),
        ConfSource::Dir(f2b.clone())
    );
    // /etc/bailiff wins over /etc/fail2ban, even empty
    fs::create_dir_all(&bailiff).unwrap();
    assert_eq!(
        resolve_confdir_in(None, &bailiff, &f2b),
        ConfSource::Overlay(bailiff.clone())
    );
    // -c wins over everything, used as is (even when it does not exist)
    assert_eq!(
        resolve_confdir_in(Some(&explicit), &bailiff, &f2b),
        ConfSource::Dir(explicit.clone())
    );
}

#[test]
fn embedded_default_protects_ssh() {
    let cfg = load_source(&ConfSource::Embedded).unwrap();
    assert!(cfg.skipped.is_empty(), "skipped jails: {:?}", cfg.skipped);
    let names: Vec<&str> = cfg.jails.iter().map(|j| j.name.as_str()).collect();
    assert_eq!(names, ["sshd", "recidive"]);

    assert_eq!(cfg.server.dbfile, "/var/lib/bailiff/bailiff.sqlite3");
    assert_eq!(cfg.server.socket, "/run/bailiff/bailiff.sock");
    assert_eq!(cfg.server.pidfile, "/run/bailiff/bailiff.pid");
    assert_eq!(cfg.server.logtarget, "/var/log/bailiff.log");

    let sshd = cfg.jail("sshd").unwrap();
    assert_eq!(sshd.backend, "auto");
    assert_eq!(
        sshd.logpaths
            .iter()
            .map(|l| l.pattern.as_str())
            .collect::<Vec<_>>(),
        ["/var/log/auth.log"]
    );
    let f = sshd.filter.as_ref().expect("sshd has a filter");
    assert!(!f.failregex.is_empty());
    assert!(
        !f.journalmatch.is_empty(),
        "sshd must be readable from the journal"
    );
    assert_eq!(sshd.actions.len(), 1);
    let a = &sshd.actions[0];
    // the daemon's built-in nftables backend is chosen by this file name and ban shape
    assert_eq!(a.file, "nftables-multiport");
    assert!(
        prop(a, "actionban").starts_with("nft add element inet bailiff "),
        "{}",
        prop(a, "actionban")
    );
    assert_eq!(prop(a, "port"), "ssh");
    assert_eq!(prop(a, "table"), "bailiff");

    let rec = cfg.jail("recidive").unwrap();
    assert_eq!(rec.actions[0].file, "nftables-allports");
    assert_eq!(
        rec.logpaths
            .iter()
            .map(|l| l.pattern.as_str())
            .collect::<Vec<_>>(),
        [cfg.server.logtarget.as_str()]
    );
    assert!(rec.bantime_secs().unwrap() > sshd.bantime_secs().unwrap());

    // the same reading for the client dump and the checker
    let stream = dump_stream_source(&ConfSource::Embedded).unwrap();
    let starts: Vec<String> = stream
        .iter()
        .filter(|c| c[0] == "start")
        .map(|c| c[1].as_str().unwrap().to_string())
        .collect();
    assert_eq!(starts, ["sshd", "recidive"]);
    check_source(&ConfSource::Embedded).unwrap();
}

#[test]
fn every_embedded_jail_resolves_when_enabled() {
    // enabling every jail of the embedded jail.conf finds each filter and action
    let tmp = tempfile::tempdir().unwrap();
    let jail_conf = bailiff_config::embedded::file("jail.conf").unwrap();
    let mut local = String::from("[DEFAULT]\nenabled = true\n");
    for line in jail_conf.lines() {
        if line.starts_with('[') && !line.starts_with("[DEFAULT]") && !line.starts_with("[INC") {
            local.push_str(&format!(
                "{line}\nlogpath = {}/x.log\n",
                tmp.path().display()
            ));
        }
    }
    write(tmp.path(), "x.log", "");
    let dir = tmp.path().join("etc");
    write(&dir, "jail.local", &local);
    let cfg = load_source(&ConfSource::Overlay(dir)).unwrap();
    assert!(cfg.skipped.is_empty(), "skipped jails: {:?}", cfg.skipped);
    assert!(cfg.jails.len() > 10, "{} jails", cfg.jails.len());
}

#[test]
fn overlay_local_files_extend_the_embedded_tree() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("etc");
    let log = tmp.path().join("nginx-error.log");
    fs::write(&log, "").unwrap();
    write(
        &dir,
        "jail.local",
        &format!(
            "[DEFAULT]\nbantime = 2h\nignoreip = 192.0.2.7\n\n[nginx-http-auth]\nenabled = true\nlogpath = {}\n",
            log.display()
        ),
    );
    write(&dir, "jail.d/off.local", "[recidive]\nenabled = false\n");
    write(
        &dir,
        "filter.d/sshd.local",
        "[Definition]\nfailregex = %(known/failregex)s\n            ^bailiff-test-marker from <HOST>$\n",
    );
    let src = ConfSource::Overlay(dir.clone());
    let cfg = load_source(&src).unwrap();
    let names: Vec<&str> = cfg.jails.iter().map(|j| j.name.as_str()).collect();
    assert_eq!(names, ["sshd", "nginx-http-auth"]);
    let nginx = cfg.jail("nginx-http-auth").unwrap();
    assert_eq!(nginx.bantime_secs().unwrap(), 7200.0);
    assert_eq!(nginx.logpaths[0].files, [log.to_string_lossy().to_string()]);

    let base = read_filter_source(&ConfSource::Embedded, "sshd", &[]).unwrap();
    let ext = read_filter_source(&src, "sshd", &[]).unwrap();
    assert_eq!(ext.failregex.len(), base.failregex.len() + 1);
    assert_eq!(&ext.failregex[..base.failregex.len()], &base.failregex[..]);
    assert_eq!(
        ext.failregex.last().unwrap(),
        "^bailiff-test-marker from <HOST>$"
    );
    // the jail sees the extended filter too
    let sshd = cfg.jail("sshd").unwrap();
    assert_eq!(sshd.filter.as_ref().unwrap().failregex, ext.failregex);
}

#[test]
fn overlay_adds_whole_new_files() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("etc");
    let log = tmp.path().join("app.log");
    fs::write(&log, "").unwrap();
    write(
        &dir,
        "filter.d/myapp.conf",
        "[Definition]\nfailregex = ^login failed for <HOST>$\n",
    );
    write(
        &dir,
        "jail.d/myapp.conf",
        &format!(
            "[myapp]\nenabled = true\nlogpath = {}\nport = 8080\n",
            log.display()
        ),
    );
    let cfg = load_source(&ConfSource::Overlay(dir)).unwrap();
    let app = cfg.jail("myapp").expect("jail from jail.d/myapp.conf");
    assert_eq!(
        app.filter.as_ref().unwrap().failregex,
        ["^login failed for <HOST>$"]
    );
    assert_eq!(app.actions[0].file, "nftables-multiport");
}

#[test]
fn explicit_dir_has_no_embedded_base() {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "jail.local", "[sshd]\nenabled = true\n");
    let cfg = load_source(&ConfSource::Dir(tmp.path().to_path_buf())).unwrap();
    // no embedded jail.conf ([DEFAULT] filter, banaction) nor filter.d under it
    let j = cfg.jail("sshd").unwrap();
    assert!(j.filter.is_none(), "{:?}", j.filter);
    assert!(j.actions.is_empty());
    assert!(read_filter_source(&ConfSource::Dir(tmp.path().to_path_buf()), "sshd", &[]).is_err());
}

#[test]
fn path_forms_reach_the_same_sources() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("etc");
    write(&dir, "jail.d/off.local", "[recidive]\nenabled = false\n");
    for src in [
        ConfSource::Embedded,
        ConfSource::Overlay(dir.clone()),
        ConfSource::Dir(dir.clone()),
    ] {
        let p = src.to_path();
        assert_eq!(ConfSource::from_path(&p), src);
        // the path-based readers the server and the tester call take the same forms
        let by_path = bailiff_config::load(&p).unwrap();
        let by_src = load_source(&src).unwrap();
        assert_eq!(by_path.confdir, p.to_string_lossy());
        assert_eq!(
            by_path.jails.iter().map(|j| &j.name).collect::<Vec<_>>(),
            by_src.jails.iter().map(|j| &j.name).collect::<Vec<_>>()
        );
        assert_eq!(
            bailiff_config::jail::dump_stream(&p).unwrap(),
            dump_stream_source(&src).unwrap()
        );
    }
    let overlay = bailiff_config::load(&ConfSource::Overlay(dir.clone()).to_path()).unwrap();
    assert_eq!(
        overlay
            .jails
            .iter()
            .map(|j| j.name.as_str())
            .collect::<Vec<_>>(),
        ["sshd"]
    );
    let f = bailiff_config::read_filter(&ConfSource::Embedded.to_path(), "sshd", &[]).unwrap();
    assert!(!f.failregex.is_empty());
}

#[test]
fn materialized_overlay_reads_like_the_overlay() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("etc");
    write(
        &dir,
        "filter.d/sshd.local",
        "[Definition]\nfailregex = %(known/failregex)s\n            ^marker <HOST>$\n",
    );
    let src = ConfSource::Overlay(dir);
    let out = tmp.path().join("out");
    src.materialize(&out).unwrap();
    assert_eq!(
        read_filter_source(&ConfSource::Dir(out), "sshd", &[]).unwrap(),
        read_filter_source(&src, "sshd", &[]).unwrap()
    );
}
