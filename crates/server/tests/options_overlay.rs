//! bailiff-only server options (`metrics`, `health_*`) are read through the same
//! configuration layers as everything else: a real directory, or the embedded
//! default with an `/etc/bailiff`-style directory laid over it.

use bailiff_config::ConfSource;
use bailiff_server::BailiffOptions;

#[test]
fn metrics_option_is_read_from_an_overlay_on_the_embedded_default() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("fail2ban.local"),
        "[Definition]\nmetrics = 127.0.0.1:9191\nhealth_source_down = 2m\n",
    )
    .unwrap();
    let path = ConfSource::Overlay(dir.path().to_path_buf()).to_path();
    let o = BailiffOptions::read(&path).unwrap();
    assert_eq!(o.metrics.as_deref(), Some("127.0.0.1:9191"));
    assert_eq!(o.thresholds.source_down_after, 120.0);
}

#[test]
fn embedded_default_alone_has_metrics_off() {
    let o = BailiffOptions::read(&ConfSource::Embedded.to_path()).unwrap();
    assert!(
        o.metrics.as_deref().is_none_or(|m| m.trim().is_empty()),
        "{:?}",
        o.metrics
    );
}

#[test]
fn metrics_option_is_read_from_a_plain_directory() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("fail2ban.conf"),
        "[Definition]\nmetrics = 127.0.0.1:9192\n",
    )
    .unwrap();
    let o = BailiffOptions::read(dir.path()).unwrap();
    assert_eq!(o.metrics.as_deref(), Some("127.0.0.1:9192"));
}
