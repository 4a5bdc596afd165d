//! Helpers shared by the real-daemon tests of this crate.

use std::time::{Duration, Instant};

pub fn wait_for(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("timed out waiting for {what}");
}

/// Find a key in the JSON status (nested pairs or objects), wherever it is.
pub fn find<'a>(v: &'a serde_json::Value, key: &str) -> Option<&'a serde_json::Value> {
    match v {
        serde_json::Value::Object(m) => {
            if let Some(x) = m.get(key) {
                return Some(x);
            }
            m.values().find_map(|x| find(x, key))
        }
        serde_json::Value::Array(a) => {
            if a.len() == 2 && a[0].as_str() == Some(key) {
                return Some(&a[1]);
            }
            a.iter().find_map(|x| find(x, key))
        }
        _ => None,
    }
}
