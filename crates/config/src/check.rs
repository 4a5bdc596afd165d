//! placeholder
pub struct CheckSummary;
pub fn check(_: &std::path::Path) -> Result<CheckSummary, Vec<crate::ConfigError>> {
    todo!()
}
