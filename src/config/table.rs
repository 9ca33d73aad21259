//! The README's configuration table, generated from the flags ([`super::ServeArgs`]: flag,
//! variable, help) and the defaults ([`super::Config::default`]), so the README cannot drift
//! from the code: a unit test compares the two (`UPDATE_README=1 cargo test config::` rewrites
//! it).

use clap::Args;

use super::Config;

/// Marks the generated table in `README.md`.
pub const BEGIN: &str = "<!-- config table: generated from src/config, do not edit -->";
/// Ends it.
pub const END: &str = "<!-- /config table -->";

/// Defaults that depend on the machine, in words.
fn default_text(section: &str, key: &str, value: Option<&toml::Value>) -> String {
    match (section, key, value) {
        ("ice", "addresses", _) => "`127.0.0.1` and the default route's address".into(),
        ("server", "assets_dir", _) => "`./assets`, else the source tree's".into(),
        (_, _, None) => "–".into(),
        (_, _, Some(toml::Value::Array(a))) if a.is_empty() => "–".into(),
        (_, _, Some(toml::Value::String(s))) => format!("`{s}`"),
        (_, _, Some(v)) => format!("`{v}`"),
    }
}

/// The table, between its markers.
pub fn markdown() -> String {
    let defaults = toml::Table::try_from(Config::default()).expect("the defaults serialize");
    let command = super::ServeArgs::augment_args(clap::Command::new("tessera"));
    let mut out = format!("{BEGIN}\n| flag | environment | file | default | what |\n|---|---|---|---|---|\n");
    for arg in command.get_arguments() {
        let (Some(long), Some(heading)) = (arg.get_long(), arg.get_help_heading()) else { continue };
        let section = heading.trim_start_matches('[').trim_end_matches(']');
        let key = arg.get_id().as_str();
        let env = arg.get_env().map(|e| e.to_string_lossy().into_owned()).unwrap_or_default();
        let value = defaults.get(section).and_then(|s| s.get(key));
        let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default().replace('\n', " ");
        out += &format!(
            "| `--{long}` | `{env}` | `[{section}] {key}` | {} | {help} |\n",
            default_text(section, key, value)
        );
    }
    out + END
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_readme_table_matches_the_code() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
        let readme = std::fs::read_to_string(path).unwrap();
        let (begin, end) = (readme.find(BEGIN).expect("the README has the table"), readme.find(END).unwrap());
        let (current, wanted) = (&readme[begin..end + END.len()], markdown());
        if current != wanted && std::env::var_os("UPDATE_README").is_some() {
            std::fs::write(path, format!("{}{wanted}{}", &readme[..begin], &readme[end + END.len()..])).unwrap();
            return;
        }
        assert_eq!(current, wanted, "README.md's configuration table is stale: UPDATE_README=1 cargo test config::");
    }

    #[test]
    fn every_setting_has_a_flag_in_its_section() {
        let table = markdown();
        let defaults = toml::Table::try_from(Config::default()).unwrap();
        for (section, keys) in &defaults {
            for key in keys.as_table().unwrap().keys() {
                assert!(table.contains(&format!("`[{section}] {key}`")), "[{section}] {key} has no flag");
            }
        }
        for key in ["admin_key", "announce_ip", "udp_ports", "stun", "turn_secret"] {
            assert!(table.contains(&format!("] {key}`")), "{key}");
        }
    }
}
