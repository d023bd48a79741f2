//! The command line (SPEC §4): `build`, `serve`, `check`.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::Config;
use crate::site::ListOptions;

/// Turns a directory of posts into RSS, Atom and JSON feeds, and serves them.
#[derive(Debug, Parser)]
#[command(name = "feedsmith", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build every feed into the output directory, then exit.
    Build(BuildCmd),
    /// Build, write, then serve the feeds over HTTP and republish on every change.
    Serve(ServeArgs),
    /// Report every bad post; exit 1 if there is any.
    Check(CheckArgs),
}

/// Options shared by `build` and `serve`.
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Config file [default: feedsmith.toml if present]
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Posts directory [default: posts]
    #[arg(long, value_name = "DIR")]
    pub posts: Option<PathBuf>,
    /// Output directory [default: feeds]
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Site URL that links are made against [default: the server's own address]
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// Include drafts (`_drafts/` and `draft: true`)
    #[arg(long)]
    pub drafts: bool,
    /// Include posts dated in the future
    #[arg(long)]
    pub future: bool,
}

#[derive(Debug, Args)]
pub struct BuildCmd {
    #[command(flatten)]
    pub build: BuildArgs,
    /// Then tell the external WebSub hubs (`hub.external`) of the feeds whose files changed
    #[arg(long)]
    pub ping: bool,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub build: BuildArgs,
    /// Address to listen on [default: 127.0.0.1:8080]
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// One event loop per core, connections steered by CPU (`on`), or one multi-thread
    /// runtime (`off`) [default: server.steering, on on Linux]
    #[arg(long, value_name = "on|off")]
    pub steering: Option<Switch>,
}

/// A setting turned `on` or `off` on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Switch {
    On,
    Off,
}

impl Switch {
    pub fn is_on(self) -> bool {
        self == Switch::On
    }
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Config file [default: feedsmith.toml if present]
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Posts directory [default: posts]
    #[arg(long, value_name = "DIR")]
    pub posts: Option<PathBuf>,
    /// Also check drafts
    #[arg(long)]
    pub drafts: bool,
}

impl BuildArgs {
    /// Loads the config and applies the command-line overrides.
    pub fn config(&self) -> anyhow::Result<Config> {
        let mut config = Config::load(self.config.as_deref())?;
        if let Some(p) = &self.posts {
            config.paths.posts.clone_from(p);
        }
        if let Some(o) = &self.out {
            config.paths.output.clone_from(o);
        }
        if let Some(u) = &self.url {
            crate::config::parse_site_url(u).map_err(|e| anyhow::anyhow!("--url: {e:#}"))?;
            config.site.url = Some(u.clone());
        }
        Ok(config)
    }

    pub fn list_options(&self) -> ListOptions {
        ListOptions {
            drafts: self.drafts,
            future: self.future,
        }
    }
}
