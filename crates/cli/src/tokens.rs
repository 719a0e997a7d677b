//! `rdesk token create|list|revoke`: an app's tokens. The whole token is
//! printed once, at creation; lists show ids (the token's visible prefix),
//! names and dates only.

use anyhow::Result;
use clap::Subcommand;
use rdesk_core::desk::Desk;

use crate::output::Output;

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Make a token for an app; it is printed once and cannot be shown again.
    Create {
        slug: String,
        #[arg(long)]
        host: String,
        /// What the token is for, e.g. "dashboard" (1 to 40 letters, digits, spaces, . _ - @).
        #[arg(long, default_value = "token")]
        name: String,
    },
    /// List an app's tokens: ids (the visible prefix), names and dates, never a token.
    List {
        slug: String,
        #[arg(long)]
        host: String,
    },
    /// Revoke a token by its id or prefix: new logins with it are refused,
    /// other tokens are untouched.
    Revoke {
        slug: String,
        /// The id or prefix `rdesk token list` shows (`0123abcd` or `rdt_0123abcd_`).
        id: String,
        #[arg(long)]
        host: String,
    },
}

pub async fn run(desk: &Desk, command: TokenCommand, out: &Output) -> Result<()> {
    match command {
        TokenCommand::Create { slug, host, name } => {
            let made = desk.create_token(&host, &slug, &name).await?;
            if out.json {
                out.emit(&made);
            } else {
                println!("{}", made.token);
                eprintln!(
                    "token `{}` ({}) for `{}` on {}: shown this once; the host keeps only its hash",
                    made.name, made.id, made.slug, made.host
                );
            }
        }
        TokenCommand::List { slug, host } => {
            let tokens = desk.tokens(&host, &slug).await?;
            if out.json {
                out.emit(&tokens);
            } else if tokens.is_empty() {
                println!(
                    "`{slug}` has no tokens (`rdesk token create {slug} --host {host}` makes one)"
                );
            } else {
                for t in &tokens {
                    println!("{}…  {}  created {}", t.prefix, t.name, t.created_ms);
                }
            }
        }
        TokenCommand::Revoke { slug, id, host } => {
            let revoked = desk.revoke_token(&host, &slug, &id).await?;
            if out.json {
                out.emit(&revoked);
            } else {
                println!(
                    "revoked token `{}` ({}) of `{slug}`",
                    revoked.name, revoked.id
                );
            }
        }
    }
    Ok(())
}
