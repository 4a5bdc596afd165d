//! placeholder
pub struct Config;
pub struct JailSpec;
pub struct ActionSpec;
pub struct LogPath;
pub struct ServerOptions;
pub fn load(_: &std::path::Path) -> Result<Config, crate::ConfigError> {
    todo!()
}
pub fn dump_stream(_: &std::path::Path) -> Result<Vec<serde_json::Value>, crate::ConfigError> {
    todo!()
}
