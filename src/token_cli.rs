//! `tessera token`: an access token from the command line, for trying things and for operators
//! without a backend of their own (a backend mints the same tokens with any JWT library).

use std::path::PathBuf;
use std::time::Duration;

use crate::access::{Claims, Keys, TokenRole};
use crate::config::{ServeArgs, ServerArgs};

/// `tessera token`'s flags.
#[derive(Debug, clap::Args)]
pub struct TokenArgs {
    /// The room, or `*` for any.
    #[arg(long)]
    room: String,
    /// Display name fixed by the token (the client's is ignored).
    #[arg(long)]
    name: Option<String>,
    /// What the holder may be.
    #[arg(long, value_enum, default_value = "publisher")]
    role: TokenRole,
    /// Lifetime, e.g. `10m`, `1h`, `7d`.
    #[arg(long, default_value = "1h", value_parser = humantime::parse_duration)]
    ttl: Duration,
    /// The holder, as a publisher, may change the layout.
    #[arg(long)]
    layout: bool,
    /// Secrets as for `serve` (the first one signs).
    #[arg(long, env = "TESSERA_TOKEN_SECRET", hide_env_values = true, value_delimiter = ',')]
    token_secret: Option<Vec<String>>,
    /// A config file whose `[server] token_secret` signs.
    #[arg(long, env = "TESSERA_CONFIG")]
    config: Option<PathBuf>,
}

impl TokenArgs {
    /// The signed token.
    pub fn mint(self) -> anyhow::Result<String> {
        let server = ServerArgs { token_secret: self.token_secret, ..Default::default() };
        let config = ServeArgs { config: self.config, server, ..Default::default() }.resolve()?;
        let keys = Keys::new(&config.server.token_secret)?;
        anyhow::ensure!(keys.enabled(), "no token secret: give --token-secret, TESSERA_TOKEN_SECRET or a config file");
        if let Some(name) = &self.name {
            crate::ids::validate_name(name).map_err(|_| anyhow::anyhow!("--name is not a valid display name"))?;
        }
        anyhow::ensure!(
            self.room == "*" || crate::ids::RoomId::parse(&self.room).is_ok(),
            "--room must be a room name or *"
        );
        let exp = jsonwebtoken::get_current_timestamp() + self.ttl.as_secs().max(1);
        let claims = Claims { room: self.room, name: self.name, role: self.role, exp, nbf: None, layout: self.layout };
        keys.mint(&claims)
    }
}
