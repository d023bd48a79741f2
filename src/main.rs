//! The `feedsmith` binary: parse the command line, call the library, map the outcome to an
//! exit code. Errors are printed with their whole cause chain.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use clap::Parser;
use feedsmith::{Build, Config};
use feedsmith::{BuildCmd, CheckArgs, Cli, Command, ServeArgs};

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        // Colours only for a person at a terminal: a log file or a pipe gets plain text.
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .init();
    let result = match cli.command {
        Command::Build(args) => build(&args),
        Command::Check(args) => check(&args),
        Command::Serve(args) => serve(&args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            // A closed stdout (e.g. `| head`) is not a failure.
            if let Some(io) = e.downcast_ref::<std::io::Error>() {
                if io.kind() == std::io::ErrorKind::BrokenPipe {
                    return ExitCode::SUCCESS;
                }
            }
            // Not eprintln!, which panics when stderr cannot be written (a full disk under a
            // redirected log): the exit code still tells.
            let _ = writeln!(std::io::stderr(), "feedsmith: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// A build allocates and frees hundreds of megabytes from several threads: glibc grows and
/// shrinks each thread's heap a page range at a time, one `mprotect` call each (28,000 of them
/// in a 10,000-post build). A 64 MiB top pad makes that a handful. Not for `serve`, whose
/// resident memory the pad could keep high.
fn grow_heaps_in_large_steps() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes a malloc tunable; called before the build's threads start.
    unsafe {
        libc::mallopt(libc::M_TOP_PAD, 64 << 20);
    }
}

fn build(cmd: &BuildCmd) -> anyhow::Result<ExitCode> {
    let args = &cmd.build;
    let config = args.config()?;
    let posts_dir = &config.paths.posts;
    if !posts_dir.is_dir() {
        anyhow::bail!("posts directory {} does not exist", posts_dir.display());
    }
    grow_heaps_in_large_steps();
    let mut b = Build::run(&config, args.list_options(), chrono::Utc::now());
    let mut err = std::io::stderr().lock();
    for e in b.errors() {
        writeln!(err, "skipped {e}")?;
    }
    let sync = b.write(&config);
    for note in &b.asset_notes {
        writeln!(err, "skipped {note}")?;
    }
    for (route, why) in &b.failures {
        writeln!(err, "not published {route}: {why}")?;
    }
    for e in &sync.errors {
        writeln!(err, "error: {e}")?;
    }
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "built {} posts into {} documents{} in {} ms ({} written, {} unchanged, {} removed{}{}) → {}",
        b.listing.len(),
        b.documents + b.archive_pages,
        match b.assets_copied {
            0 => String::new(),
            1 => " and 1 asset".to_owned(),
            n => format!(" and {n} assets"),
        },
        b.elapsed.as_millis(),
        sync.written,
        sync.unchanged,
        sync.removed,
        plural(b.site.errors.len(), "bad post skipped", "bad posts skipped"),
        plural(b.failures.len(), "document failed", "documents failed"),
        config.paths.output.display(),
    )?;
    // What the output holds, by kind: the cost of each setting is visible.
    let kinds: Vec<String> = sync
        .kinds
        .iter()
        .map(|(kind, t)| format!("{}: {} files, {}", kind.label(), t.files, size(t.bytes)))
        .collect();
    if !kinds.is_empty() {
        writeln!(out, "  {}", kinds.join("; "))?;
    }
    if cmd.ping {
        ping(&config, &sync)?;
    }
    // The process ends here: freeing every post and document one by one (tens of
    // milliseconds at 10,000 posts) would only delay the exit.
    std::mem::forget(b);
    Ok(if sync.errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `build --ping`: the external hubs told of the feeds the build changed. A hub that is down is
/// reported, not an error: the feeds are built, and the next build pings again.
fn ping(config: &Config, sync: &feedsmith::SyncReport) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    if config.hub.external.is_empty() {
        writeln!(out, "ping: no hub.external configured; nothing pinged")?;
        return Ok(());
    }
    let (topics, pinged) = feedsmith::ping(config, sync);
    if topics == 0 {
        writeln!(out, "ping: no feed changed; nothing pinged")?;
        return Ok(());
    }
    for p in &pinged {
        match &p.outcome {
            Ok(()) => writeln!(out, "pinged {} for {topics} changed feeds: accepted", p.hub)?,
            Err(why) => {
                writeln!(out, "pinged {} for {topics} changed feeds: failed", p.hub)?;
                writeln!(
                    std::io::stderr(),
                    "warning: hub {} did not accept the ping: {why}",
                    p.hub
                )?;
            }
        }
    }
    Ok(())
}

/// A byte count for people: `512 B`, `3.4 KB`, `296.1 MB` (decimal units, as `du --si`).
fn size(bytes: u64) -> String {
    let b = bytes as f64;
    if bytes < 1000 {
        format!("{bytes} B")
    } else if b < 1e6 {
        format!("{:.1} KB", b / 1e3)
    } else if b < 1e9 {
        format!("{:.1} MB", b / 1e6)
    } else {
        format!("{:.2} GB", b / 1e9)
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    match n {
        0 => String::new(),
        1 => format!(", 1 {one}"),
        n => format!(", {n} {many}"),
    }
}

fn check(args: &CheckArgs) -> anyhow::Result<ExitCode> {
    let mut config = Config::load(args.config.as_deref())?;
    if let Some(p) = &args.posts {
        config.paths.posts.clone_from(p);
    }
    if !config.paths.posts.is_dir() {
        anyhow::bail!(
            "posts directory {} does not exist",
            config.paths.posts.display()
        );
    }
    let ctx = config.parse_context();
    let site = feedsmith::Site::load(&config.paths.posts, &ctx, args.drafts);
    let mut err = std::io::stderr().lock();
    for e in site.errors.values() {
        writeln!(err, "{e}")?;
    }
    let bad = site.errors.len();
    let mut out = std::io::stdout().lock();
    writeln!(out, "{} posts ok, {bad} bad", site.posts.len())?;
    Ok(if bad == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn serve(args: &ServeArgs) -> anyhow::Result<ExitCode> {
    let mut config = args.build.config()?;
    if let Some(listen) = args.listen {
        config.server.listen = listen;
    }
    if let Some(steering) = args.steering {
        config.server.steering = steering.is_on();
    }
    feedsmith::serve(config, args.build.list_options())?;
    Ok(ExitCode::SUCCESS)
}
