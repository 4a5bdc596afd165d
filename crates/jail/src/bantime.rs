//! `bantime.increment`: ban-time arithmetic for repeat offenders.

use crate::formula::{Formula, FormulaError, Vars, DEFAULT_FORMULA};
use crate::JailError;

/// The `bantime.*` options, parsed. Time strings (`maxtime`, `rndtime`) are given in
/// seconds: the config reader converts them.
#[derive(Debug, Clone, PartialEq)]
pub struct BanTimeIncrement {
    /// `bantime.factor`, evaluated.
    pub factor: f64,
    /// `bantime.formula` (ignored when `multipliers` is not empty).
    pub formula: Formula,
    /// `bantime.multipliers`.
    pub multipliers: Vec<i64>,
    /// `bantime.maxtime` in seconds.
    pub max_time: Option<f64>,
    /// `bantime.rndtime` in seconds.
    pub rnd_time: Option<f64>,
    /// `bantime.overalljails`: count earlier bans in every jail, not just this one.
    pub overall_jails: bool,
}

/// The raw option values as they appear in `jail.conf` (all optional).
#[derive(Debug, Clone, Default)]
pub struct BanTimeOptions<'a> {
    pub factor: Option<&'a str>,
    pub formula: Option<&'a str>,
    pub multipliers: Option<&'a str>,
    pub max_time: Option<f64>,
    pub rnd_time: Option<f64>,
    pub overall_jails: bool,
}

impl Default for BanTimeIncrement {
    fn default() -> BanTimeIncrement {
        BanTimeIncrement {
            factor: 1.0,
            formula: Formula::parse(DEFAULT_FORMULA).expect("default formula parses"),
            multipliers: Vec::new(),
            max_time: None,
            rnd_time: None,
            overall_jails: false,
        }
    }
}

impl BanTimeIncrement {
    /// Parses the options. An empty string counts as unset, as in fail2ban.
    pub fn from_options(o: &BanTimeOptions<'_>) -> Result<BanTimeIncrement, JailError> {
        fn nonempty(s: Option<&str>) -> Option<&str> {
            s.map(str::trim).filter(|s| !s.is_empty())
        }
        let factor = match nonempty(o.factor) {
            Some(f) => Formula::eval_const(f)?,
            None => 1.0,
        };
        let formula = Formula::parse(nonempty(o.formula).unwrap_or(DEFAULT_FORMULA))?;
        let multipliers = match nonempty(o.multipliers) {
            Some(m) => m
                .split_whitespace()
                .map(|x| {
                    x.parse::<i64>().map_err(|_| JailError::BadOption {
                        option: "bantime.multipliers".into(),
                        value: m.to_string(),
                        message: format!("{x:?} is not an integer"),
                    })
                })
                .collect::<Result<Vec<_>, _>>()?,
            None => Vec::new(),
        };
        Ok(BanTimeIncrement {
            factor,
            formula,
            multipliers,
            max_time: o.max_time,
            rnd_time: o.rnd_time,
            overall_jails: o.overall_jails,
        })
    }

    /// fail2ban's `evformula`: the ban time for an id banned `ban_count` times before.
    /// `random` is a value in `[0, 1)` supplied by the caller (used with `rndtime`).
    pub fn calc(&self, ban_time: f64, ban_count: u32, random: f64) -> Result<f64, FormulaError> {
        let mut t = if !self.multipliers.is_empty() {
            let idx = (ban_count as usize).min(self.multipliers.len() - 1);
            ban_time * self.factor * self.multipliers[idx] as f64
        } else {
            let v = self.formula.eval(&Vars {
                ban_time,
                ban_count: i64::from(ban_count),
                ban_factor: self.factor,
            })?;
            ban_time.max(v.as_f64())
        };
        if let Some(max) = self.max_time {
            t = t.min(max);
        }
        if let Some(rnd) = self.rnd_time {
            t += random.clamp(0.0, 1.0) * rnd;
        }
        Ok(t)
    }

    /// The longest ban this jail may give (`getMaxBanTime` with increment on):
    /// `maxtime`, or -1 (unbounded) when unset.
    pub fn max_ban_time(&self) -> f64 {
        self.max_time.unwrap_or(-1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        // (options, bantime, count, random, expected), expectations by hand.
        let e = std::f64::consts::E;
        struct C<'a> {
            o: BanTimeOptions<'a>,
            bt: f64,
            n: u32,
            r: f64,
            want: f64,
        }
        let cases = [
            C {
                o: BanTimeOptions::default(),
                bt: 600.0,
                n: 1,
                r: 0.0,
                want: 1200.0,
            },
            C {
                o: BanTimeOptions::default(),
                bt: 600.0,
                n: 4,
                r: 0.0,
                want: 9600.0,
            },
            C {
                o: BanTimeOptions::default(),
                bt: 1.0,
                n: 30,
                r: 0.0,
                want: 1048576.0,
            },
            C {
                o: BanTimeOptions {
                    factor: Some("2"),
                    ..Default::default()
                },
                bt: 600.0,
                n: 1,
                r: 0.0,
                want: 2400.0,
            },
            C {
                o: BanTimeOptions {
                    max_time: Some(3600.0),
                    ..Default::default()
                },
                bt: 600.0,
                n: 5,
                r: 0.0,
                want: 3600.0,
            },
            C {
                o: BanTimeOptions {
                    rnd_time: Some(100.0),
                    ..Default::default()
                },
                bt: 600.0,
                n: 1,
                r: 0.25,
                want: 1225.0,
            },
            C {
                o: BanTimeOptions {
                    multipliers: Some("1 5 30 60"),
                    ..Default::default()
                },
                bt: 60.0,
                n: 2,
                r: 0.0,
                want: 1800.0,
            },
            C {
                o: BanTimeOptions {
                    multipliers: Some("1 5 30 60"),
                    ..Default::default()
                },
                bt: 60.0,
                n: 9,
                r: 0.0,
                want: 3600.0,
            },
            C {
                o: BanTimeOptions {
                    formula: Some(
                        "ban.Time * math.exp(float(ban.Count+1)*banFactor)/math.exp(1*banFactor)",
                    ),
                    ..Default::default()
                },
                bt: 600.0,
                n: 2,
                r: 0.0,
                want: 600.0 * e * e,
            },
            C {
                // a formula giving less than bantime is raised to bantime
                o: BanTimeOptions {
                    formula: Some("ban.Time / 10"),
                    ..Default::default()
                },
                bt: 600.0,
                n: 2,
                r: 0.0,
                want: 600.0,
            },
        ];
        for (i, c) in cases.iter().enumerate() {
            let inc = BanTimeIncrement::from_options(&c.o).expect("options");
            let got = inc.calc(c.bt, c.n, c.r).expect("calc");
            assert!((got - c.want).abs() < 1e-6, "case {i}: {got} != {}", c.want);
        }
    }

    #[test]
    fn bad_options() {
        let bad = [
            BanTimeOptions {
                formula: Some("os.system('x')"),
                ..Default::default()
            },
            BanTimeOptions {
                factor: Some("ban.Time"),
                ..Default::default()
            },
            BanTimeOptions {
                multipliers: Some("1 two 3"),
                ..Default::default()
            },
        ];
        for o in bad {
            let e = BanTimeIncrement::from_options(&o).expect_err("must fail");
            let msg = e.to_string();
            assert!(msg.contains("bantime"), "{msg}");
        }
    }
}
