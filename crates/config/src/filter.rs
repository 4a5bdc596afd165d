//! Filters (`filter.d/NAME`) resolved into [`FilterDef`].

use std::path::Path;

use crate::defreader::{DefReader, Val, FILTER_OPTS};
use crate::fs::Loader;
use crate::omap::OMap;
use crate::reader::ConfigSet;
use crate::{ConfigError, FilterDef};

/// Build a [`FilterDef`] from a combined, tag-substituted option map.
pub(crate) fn filter_def(name: &str, comb: &OMap<Option<String>>) -> FilterDef {
    let mut def = FilterDef {
        name: name.to_string(),
        ..Default::default()
    };
    let lines = |v: &str| -> Vec<String> {
        v.split('\n')
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect()
    };
    for (k, v) in comb.iter() {
        let Some(v) = v else { continue };
        match k.as_str() {
            "prefregex" => def.prefregex = Some(v.clone()),
            "failregex" => def.failregex = lines(v),
            "ignoreregex" => def.ignoreregex = lines(v),
            "maxlines" => {
                def.maxlines = match crate::defreader::convert(v, crate::defreader::OptType::Int) {
                    Val::Int(i) if i >= 0 => Some(i as usize),
                    _ => None,
                }
            }
            "datepattern" => def.datepattern = Some(v.clone()),
            "journalmatch" => def.journalmatch = lines(v),
            "usedns" => def.usedns = Some(v.clone()),
            _ => {
                def.options.insert(k.clone(), v.clone());
            }
        }
    }
    def
}

pub(crate) fn args_map(args: &[(String, String)]) -> OMap<String> {
    args.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// Read a filter as fail2ban-regex does: the file set of `filter.d/NAME`, `logtype`
/// chosen from `backend` unless given, no jail options.
pub fn read_filter_with(
    loader: &Loader,
    confdir: &Path,
    name: &str,
    args: &[(String, String)],
    backend: &str,
) -> Result<FilterDef, ConfigError> {
    let base = confdir.to_string_lossy();
    let res = format!("filter.d/{name}");
    let Some(cfg) = ConfigSet::read_resource(loader, &base, &res)? else {
        return Err(ConfigError::at(
            &format!("{}/{res}.conf", base.trim_end_matches('/')),
            0,
            "",
            "filter",
            format!("no filter named {name:?} (no readable file for it)"),
        ));
    };
    resolve(
        &cfg,
        name,
        &format!("{}/{res}.conf", base.trim_end_matches('/')),
        args,
        backend,
    )
}

pub(crate) fn resolve(
    cfg: &ConfigSet,
    name: &str,
    file: &str,
    args: &[(String, String)],
    backend: &str,
) -> Result<FilterDef, ConfigError> {
    let mut r = DefReader::new(
        std::rc::Rc::new(cfg.clone()),
        file.to_string(),
        FILTER_OPTS,
        args_map(args),
    );
    r.apply_auto_options(backend);
    r.get_options(&OMap::new(), false)?;
    let comb = r.combined(&[])?;
    Ok(filter_def(name, &comb))
}

/// Read a filter from an explicit file and its includes.
pub fn read_filter_file_with(
    loader: &Loader,
    path: &Path,
    args: &[(String, String)],
    backend: &str,
) -> Result<FilterDef, ConfigError> {
    let p = path.to_string_lossy().to_string();
    let Some(cfg) = ConfigSet::read_explicit(loader, &p)? else {
        return Err(ConfigError::at(
            &p,
            0,
            "",
            "",
            "cannot read filter file".into(),
        ));
    };
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_default();
    resolve(&cfg, &name, &p, args, backend)
}
