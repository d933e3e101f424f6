//! `lttng`: the command line of the tracer.
//!
//! The commands and flags of LTTng 2.13 for userspace tracing, with the same meanings:
//! `create`, `destroy`, `enable-channel`, `enable-event`, `disable-event`, `add-context`,
//! `start`, `stop`, `list`, `status`, `snapshot record`, `view`, `version`; and
//! `trace -- CMD`, which traces one command in a private session and prints its events.
//! Commands that need a session use `-s NAME`, else the current session (set by
//! `create`, remembered in `.lttngrc`). The session daemon is started on demand.
//!
//! Exit codes: 0 success; 1 the command failed (the daemon refused, or `view` found
//! corrupt data); 2 usage errors or a trace that cannot be read at all. `trace` exits
//! with the traced command's status.
#![deny(unsafe_code)]

/// `println!` that ends the command quietly when the reader of its output went away
/// (`lttng list | head`), as a C tool killed by SIGPIPE would, instead of panicking;
/// any other write error is reported. Defined before the modules and code that use it.
macro_rules! println {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if let Err(e) = writeln!(std::io::stdout(), $($arg)*) {
            crate::stdout_failed(e);
        }
    }};
}

mod localtime;
mod view;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context};
use clap::{Args, Parser, Subcommand};
use lttng::{current, Buffers, ChannelSpec, Client, ContextKind, EventRule, LogLevelFilter};
use proto::event::LogLevel;

#[derive(Parser)]
#[command(
    name = "lttng",
    about = "Trace your programs (and, for the tracing group, the kernel)",
    disable_version_flag = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args)]
struct Domain {
    /// Userspace domain (applications instrumented with libust).
    #[arg(short = 'u', long = "userspace")]
    userspace: bool,
    /// Kernel domain.
    #[arg(short = 'k', long = "kernel")]
    kernel: bool,
}

impl Domain {
    fn require_userspace(&self) -> anyhow::Result<()> {
        if self.kernel {
            return Err(usage(
                "kernel tracing is not available in this build yet: use -u",
            ));
        }
        if !self.userspace {
            return Err(usage("please specify a domain: -u for userspace"));
        }
        Ok(())
    }
}

#[derive(Subcommand)]
enum Command {
    /// Create a tracing session (and make it the current one).
    Create {
        /// Session name (default: auto-<date>-<time>).
        name: Option<String>,
        /// Where the trace goes (default: ~/lttng-traces/NAME-<date>-<time>).
        #[arg(short = 'o', long = "output", value_name = "DIR")]
        output: Option<PathBuf>,
        /// Snapshot mode: overwrite-mode channels, written by `snapshot record`.
        #[arg(long)]
        snapshot: bool,
    },
    /// Destroy a tracing session (stopping it first, so nothing recorded is lost).
    Destroy {
        /// Session name (default: the current session).
        name: Option<String>,
        /// Destroy every session.
        #[arg(short = 'a', long)]
        all: bool,
    },
    /// Create or re-enable a channel.
    EnableChannel {
        #[command(flatten)]
        domain: Domain,
        /// Channel name.
        name: String,
        #[arg(short = 's', long = "session")]
        session: Option<String>,
        /// Sub-buffer size in bytes (k, M suffixes allowed; a power of two).
        #[arg(long = "subbuf-size", value_parser = parse_size)]
        subbuf_size: Option<u64>,
        /// Number of sub-buffers per CPU (a power of two).
        #[arg(long = "num-subbuf")]
        num_subbuf: Option<u64>,
        /// Flight-recorder mode: overwrite the oldest sub-buffer when full.
        #[arg(long, conflicts_with = "discard")]
        overwrite: bool,
        /// Drop new events when full, counting them (the default).
        #[arg(long)]
        discard: bool,
        /// Close partially filled sub-buffers every this many microseconds.
        #[arg(long = "switch-timer", value_name = "US")]
        switch_timer: Option<u64>,
        /// In discard mode, how long a thread whose buffer is full waits for the
        /// consumer before dropping its event, in microseconds: 0 drops at once (LTTng's
        /// default), `inf` waits the longest an app allows (100000), the default.
        #[arg(long = "blocking-timeout", value_name = "US", value_parser = parse_blocking_timeout)]
        blocking_timeout: Option<u64>,
        /// One set of buffers per process.
        #[arg(long = "buffers-pid", conflicts_with = "buffers_uid")]
        buffers_pid: bool,
        /// One set of buffers per user (the default).
        #[arg(long = "buffers-uid")]
        buffers_uid: bool,
    },
    /// Enable events: names or globs such as `myapp:*`, comma-separated.
    EnableEvent {
        #[command(flatten)]
        domain: Domain,
        /// Event names or globs, comma-separated.
        names: Option<String>,
        /// Every event (`*`).
        #[arg(short = 'a', long)]
        all: bool,
        #[arg(short = 's', long = "session")]
        session: Option<String>,
        /// Channel (default channel0, created if needed).
        #[arg(short = 'c', long = "channel")]
        channel: Option<String>,
        /// Only events at this level or more severe (e.g. INFO, TRACE_WARNING).
        #[arg(long = "loglevel", conflicts_with = "loglevel_only")]
        loglevel: Option<String>,
        /// Only events at exactly this level.
        #[arg(long = "loglevel-only")]
        loglevel_only: Option<String>,
        /// Event names or globs to leave out, comma-separated.
        #[arg(short = 'x', long = "exclude")]
        exclude: Option<String>,
        /// Kernel: record system calls (entry and exit): the ones named (`open,openat`),
        /// or all of them with `--all` or no name.
        #[arg(long)]
        syscall: bool,
    },
    /// Disable event rules (by the name or glob they were enabled with).
    DisableEvent {
        #[command(flatten)]
        domain: Domain,
        /// Event names or globs, comma-separated.
        names: Option<String>,
        /// Every rule of the channel.
        #[arg(short = 'a', long)]
        all: bool,
        #[arg(short = 's', long = "session")]
        session: Option<String>,
        #[arg(short = 'c', long = "channel")]
        channel: Option<String>,
    },
    /// Record context fields with every event.
    AddContext {
        #[command(flatten)]
        domain: Domain,
        /// Context type (repeatable): vpid, vtid or procname with -u; with -k pid, tid,
        /// ppid, procname, prio, vpid, vtid, vppid, hostname, preemptible,
        /// need_reschedule.
        #[arg(short = 't', long = "type", required = true)]
        types: Vec<String>,
        #[arg(short = 's', long = "session")]
        session: Option<String>,
        #[arg(short = 'c', long = "channel")]
        channel: Option<String>,
    },
    /// Start recording.
    Start {
        /// Session name (default: the current session).
        name: Option<String>,
    },
    /// Stop recording; returns once everything recorded is written.
    Stop {
        /// Session name (default: the current session).
        name: Option<String>,
    },
    /// List sessions, one session's details, or the tracepoints of running apps.
    List {
        /// A session to describe.
        name: Option<String>,
        /// List the tracepoints of the registered applications.
        #[arg(short = 'u', long = "userspace")]
        userspace: bool,
        /// List the kernel events you may enable.
        #[arg(short = 'k', long = "kernel")]
        kernel: bool,
        /// With -k: the system calls (`enable-event -k --syscall NAMES|--all`).
        #[arg(long)]
        syscall: bool,
    },
    /// Show the current session.
    Status,
    /// Snapshot commands.
    Snapshot {
        #[command(subcommand)]
        action: SnapshotAction,
    },
    /// Trace a command: private session, every userspace event; prints its events and
    /// where the trace is.
    Trace {
        /// Where the trace goes (default: ~/lttng-traces/trace-<pid>-<date>-<time>).
        #[arg(short = 'o', long = "output", value_name = "DIR")]
        output: Option<PathBuf>,
        /// Do not print the events (only where the trace is).
        #[arg(long)]
        quiet: bool,
        /// Also the kernel events of the command's process tree (scheduling, process
        /// life cycle, system calls); needs the tracing group.
        #[arg(short = 'k', long = "kernel")]
        kernel: bool,
        /// The command and its arguments.
        #[arg(last = true, required = true)]
        command: Vec<String>,
    },
    /// Print the events of a trace, like babeltrace2's text output.
    View {
        /// Session whose trace to show (default: the current session).
        #[arg(short = 's', long = "session", conflicts_with_all = ["path", "trace_path"])]
        session: Option<String>,
        /// Run this program on the trace instead (e.g. `babeltrace2`).
        #[arg(long, value_name = "PROGRAM")]
        viewer: Option<String>,
        /// The trace directory (same as PATH).
        #[arg(
            long = "trace-path",
            short = 't',
            value_name = "DIR",
            conflicts_with = "path"
        )]
        trace_path: Option<PathBuf>,
        /// A trace directory, or a directory holding several traces (e.g. a session output).
        path: Option<PathBuf>,
    },
    /// Show the version of this tool.
    Version,
}

#[derive(Subcommand)]
enum SnapshotAction {
    /// Write what the buffers hold now as a new trace.
    Record {
        #[arg(short = 's', long = "session")]
        session: Option<String>,
        /// Name of the snapshot (default: snapshot).
        #[arg(short = 'n', long = "name")]
        name: Option<String>,
    },
}

/// A mistake in how the command was called (exit status 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Usage(String);

fn usage(msg: impl Into<String>) -> anyhow::Error {
    Usage(msg.into()).into()
}

/// Standard output cannot be written: a closed pipe ends the command (exit 0, its
/// reader wanted no more), anything else is an error (exit 1).
fn stdout_failed(e: std::io::Error) -> ! {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
    eprintln!("Error: cannot write to standard output: {e}");
    std::process::exit(1);
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("Error: {e:#}");
            ExitCode::from(if e.is::<Usage>() { 2 } else { 1 })
        }
    }
}

/// The session a command acts on: the one named, else the current one.
fn session_or_current(name: Option<String>) -> anyhow::Result<String> {
    name.or_else(current::get).ok_or_else(|| {
        usage("no session given and no current session: create one with `lttng create NAME` or pass -s NAME")
    })
}

fn split_list(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(str::to_string)
        .collect()
}

fn parse_level(s: &str) -> anyhow::Result<LogLevel> {
    let bare = s.trim().to_ascii_uppercase();
    let bare = bare.strip_prefix("TRACE_").unwrap_or(&bare);
    LogLevel::parse(bare)
        .ok_or_else(|| anyhow!("unknown log level '{s}' (EMERG, ALERT, CRIT, ERR, WARNING, NOTICE, INFO, DEBUG_SYSTEM, ..., DEBUG_LINE, DEBUG)"))
}

/// privd's path probes: an implementation detail of `--syscall` (they give `openat`
/// entries their file name), not shown.
fn is_path_probe(event: &str) -> bool {
    event
        .strip_prefix(proto::ftrace::PATH_PROBE_GROUP)
        .is_some_and(|r| r.starts_with(':'))
}

/// `--blocking-timeout`: microseconds, or `inf` for the longest wait an app allows.
fn parse_blocking_timeout(s: &str) -> Result<u64, String> {
    if s == "inf" {
        return Ok(proto::ring::writer::MAX_BLOCKING_TIMEOUT_US);
    }
    s.parse::<u64>()
        .map_err(|_| format!("'{s}' is not a number of microseconds or 'inf'"))
}

fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (num, mult) = match s.chars().last() {
        Some('k' | 'K') => (&s[..s.len() - 1], 1u64 << 10),
        Some('M') => (&s[..s.len() - 1], 1 << 20),
        Some('G') => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    num.parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .ok_or_else(|| format!("'{s}' is not a size (e.g. 4096, 64k, 1M)"))
}

fn absolute(p: &Path) -> anyhow::Result<PathBuf> {
    if p.is_absolute() {
        Ok(p.to_path_buf())
    } else {
        Ok(std::env::current_dir()
            .context("cannot resolve the output directory")?
            .join(p))
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Version => {
            println!("lttng (lttng-rs) {}", env!("CARGO_PKG_VERSION"));
        }
        Command::Create {
            name,
            output,
            snapshot,
        } => {
            let output = output.as_deref().map(absolute).transpose()?;
            let mut c = Client::connect_or_start()?;
            let (name, out) = c.create(name.as_deref(), output.as_deref(), snapshot)?;
            current::set(&name).context("cannot remember the current session in .lttngrc")?;
            if snapshot {
                println!("Snapshot session {name} created.");
                println!("Default snapshot output set to {out}");
            } else {
                println!("Session {name} created.");
                println!("Traces will be output to {out}");
            }
        }
        Command::Destroy { name, all } => {
            let mut c = Client::connect()?;
            let names = if all {
                c.list()?.into_iter().map(|s| s.name).collect()
            } else {
                vec![session_or_current(name)?]
            };
            for n in names {
                println!("Destroying session {n}..");
                c.destroy(&n)?;
                println!("Session {n} destroyed");
                if current::get().as_deref() == Some(n.as_str()) {
                    current::clear().context("cannot update .lttngrc")?;
                }
            }
        }
        Command::EnableChannel {
            domain,
            name,
            session,
            subbuf_size,
            num_subbuf,
            overwrite,
            discard,
            switch_timer,
            blocking_timeout,
            buffers_pid,
            buffers_uid,
        } => {
            if domain.kernel {
                let session = session_or_current(session)?;
                let bytes = subbuf_size
                    .unwrap_or(1 << 20)
                    .saturating_mul(num_subbuf.unwrap_or(4));
                let kb = u32::try_from(bytes / 1024).unwrap_or(u32::MAX);
                Client::connect()?.enable_kernel_channel(&session, kb)?;
                println!("Kernel channel {name} enabled for session {session} ({kb} KiB per CPU, within lttng-privd's cap)");
                return Ok(ExitCode::SUCCESS);
            }
            domain.require_userspace()?;
            let session = session_or_current(session)?;
            let spec = ChannelSpec {
                name: name.clone(),
                subbuf_size,
                num_subbuf,
                overwrite: if overwrite {
                    Some(true)
                } else if discard {
                    Some(false)
                } else {
                    None
                },
                switch_timer_us: switch_timer,
                blocking_timeout_us: blocking_timeout,
                buffers: if buffers_pid {
                    Some(Buffers::PerPid)
                } else if buffers_uid {
                    Some(Buffers::PerUid)
                } else {
                    None
                },
            };
            Client::connect()?.enable_channel(&session, spec)?;
            println!("UST channel {name} enabled for session {session}");
        }
        Command::EnableEvent {
            domain,
            names,
            all,
            session,
            channel,
            loglevel,
            loglevel_only,
            exclude,
            syscall,
        } => {
            if domain.kernel {
                let session = session_or_current(session)?;
                // `--syscall [NAMES|--all]`: system calls only; else tracepoints.
                let (patterns, syscalls) = match (syscall, all, names) {
                    (true, true, Some(_)) => {
                        return Err(usage(
                            "--syscall: give system call names or --all, not both",
                        ))
                    }
                    (true, _, None) => (Vec::new(), Some(Vec::new())),
                    (true, false, Some(n)) => {
                        let names = split_list(&n);
                        if let Some(bad) =
                            names.iter().find(|n| ctf::syscalls::native_nr(n).is_none())
                        {
                            return Err(usage(format!(
                                "'{bad}' is not a system call (see `lttng list -k --syscall`)"
                            )));
                        }
                        (Vec::new(), Some(names))
                    }
                    (false, true, _) => (vec!["*".to_string()], None),
                    (false, false, Some(n)) => (split_list(&n), None),
                    (false, false, None) => {
                        return Err(usage("give event names or globs, --all or --syscall"))
                    }
                };
                let named = syscalls.clone().unwrap_or_default();
                let enabled = Client::connect()?.enable_kernel_events(
                    &session,
                    patterns,
                    syscalls.clone(),
                )?;
                if syscalls.is_some() {
                    if named.is_empty() {
                        println!("All Kernel system calls are enabled in channel channel0");
                    }
                    for n in &named {
                        println!("Kernel syscall {n} enabled in channel channel0");
                    }
                } else {
                    for e in enabled.iter().filter(|e| !is_path_probe(e)) {
                        println!("Kernel event {e} created in channel channel0");
                    }
                }
                return Ok(ExitCode::SUCCESS);
            }
            domain.require_userspace()?;
            let session = session_or_current(session)?;
            let patterns = match (all, names) {
                (true, _) => vec!["*".to_string()],
                (false, Some(n)) => split_list(&n),
                (false, None) => return Err(usage("give event names or globs, or --all")),
            };
            let filter = match (loglevel, loglevel_only) {
                (Some(l), _) => Some(LogLevelFilter::AtLeast(parse_level(&l)?)),
                (_, Some(l)) => Some(LogLevelFilter::Only(parse_level(&l)?)),
                _ => None,
            };
            let exclude = exclude.as_deref().map(split_list).unwrap_or_default();
            let mut c = Client::connect()?;
            let ch = channel.clone().unwrap_or_else(|| "channel0".into());
            for p in patterns {
                let rule = EventRule {
                    pattern: p.clone(),
                    loglevel: filter,
                    exclude: exclude.clone(),
                };
                c.enable_event(&session, channel.as_deref(), rule)?;
                println!("UST event {p} created in channel {ch}");
            }
        }
        Command::DisableEvent {
            domain,
            names,
            all,
            session,
            channel,
        } => {
            if domain.kernel {
                let session = session_or_current(session)?;
                let patterns = match (all, names) {
                    (true, _) => vec!["*".to_string()],
                    (false, Some(n)) => split_list(&n),
                    (false, None) => return Err(usage("give event names, or --all")),
                };
                let disabled = Client::connect()?.disable_kernel_events(&session, patterns)?;
                for e in disabled.iter().filter(|e| !is_path_probe(e)) {
                    println!("Kernel event {e} disabled in channel channel0 for session {session}");
                }
                return Ok(ExitCode::SUCCESS);
            }
            domain.require_userspace()?;
            let session = session_or_current(session)?;
            let mut c = Client::connect()?;
            let ch = channel.clone().unwrap_or_else(|| "channel0".into());
            if all {
                c.disable_event(&session, channel.as_deref(), None)?;
                println!("All UST events are disabled in channel {ch}");
            } else {
                let names = names.ok_or_else(|| usage("give event names, or --all"))?;
                for n in split_list(&names) {
                    c.disable_event(&session, channel.as_deref(), Some(&n))?;
                    println!("UST event {n} disabled in channel {ch} for session {session}");
                }
            }
        }
        Command::AddContext {
            domain,
            types,
            session,
            channel,
        } => {
            if domain.kernel && !domain.userspace {
                let session = session_or_current(session)?;
                let kinds = types
                    .iter()
                    .flat_map(|t| split_list(t))
                    .map(|t| {
                        proto::event::KernelContext::parse(&t).ok_or_else(|| {
                            let all: Vec<&str> = proto::event::KernelContext::ALL
                                .iter()
                                .map(|c| c.name())
                                .collect();
                            usage(format!(
                                "unknown kernel context type '{t}' ({})",
                                all.join(", ")
                            ))
                        })
                    })
                    .collect::<anyhow::Result<Vec<_>>>()?;
                Client::connect()?.add_kernel_context(&session, kinds.clone())?;
                for k in kinds {
                    println!("kernel context {} added to all channels", k.name());
                }
                return Ok(ExitCode::SUCCESS);
            }
            domain.require_userspace()?;
            let session = session_or_current(session)?;
            let kinds = types
                .iter()
                .flat_map(|t| split_list(t))
                .map(|t| {
                    ContextKind::parse(&t)
                        .ok_or_else(|| anyhow!("unknown context type '{t}' (vpid, vtid, procname)"))
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            Client::connect()?.add_context(&session, channel.as_deref(), kinds.clone())?;
            for k in kinds {
                println!("UST context {} added to all channels", k.name());
            }
        }
        Command::Start { name } => {
            let name = session_or_current(name)?;
            Client::connect()?.start(&name)?;
            println!("Tracing started for session {name}");
        }
        Command::Stop { name } => {
            let name = session_or_current(name)?;
            println!("Waiting for data availability");
            Client::connect()?.stop(&name)?;
            println!("Tracing stopped for session {name}");
        }
        Command::List {
            name,
            userspace,
            kernel,
            syscall,
        } => {
            if kernel && syscall {
                let events = Client::connect_or_start()?.list_kernel_events()?;
                if !events.iter().any(|e| e == "raw_syscalls:sys_enter") {
                    return Err(anyhow!(
                        "lttng-privd does not allow system call tracing here"
                    ));
                }
                println!("System calls:\n-------------");
                for call in ctf::syscalls::native_calls() {
                    println!("      {} (type: syscall)", call.name);
                }
                return Ok(ExitCode::SUCCESS);
            }
            if kernel {
                let events = Client::connect_or_start()?.list_kernel_events()?;
                println!("Kernel events:\n-------------");
                for e in events.iter().filter(|e| !is_path_probe(e)) {
                    let (sys, name) = e.split_once(':').unwrap_or(("", e));
                    let name = ctf::kernel::lttng_event_name(name);
                    println!("      {name} (loglevel: TRACE_EMERG (0)) (type: tracepoint) [{sys}]");
                }
                return Ok(ExitCode::SUCCESS);
            }
            let mut c = Client::connect()?;
            if userspace {
                print_tracepoints(&mut c)?;
            } else if let Some(n) = name {
                print_session(&mut c, &n)?;
            } else {
                let sessions = c.list()?;
                if sessions.is_empty() {
                    println!("Currently no available tracing session");
                } else {
                    println!("Available tracing sessions:");
                    let cur = current::get();
                    for (i, s) in sessions.iter().enumerate() {
                        let mark = if cur.as_deref() == Some(s.name.as_str()) {
                            " (current)"
                        } else {
                            ""
                        };
                        let state = if s.active { "active" } else { "inactive" };
                        let snap = if s.snapshot { " snapshot" } else { "" };
                        println!(
                            "  {}) {} ({}) [{state}{snap}]{mark}",
                            i + 1,
                            s.name,
                            s.output
                        );
                    }
                    println!("\nUse lttng list <session_name> for more details");
                }
            }
        }
        Command::Status => {
            let name = current::get()
                .ok_or_else(|| anyhow!("no current session: create one with `lttng create`"))?;
            let mut c = Client::connect()?;
            print_session(&mut c, &name)?;
        }
        Command::Snapshot {
            action: SnapshotAction::Record { session, name },
        } => {
            let session = session_or_current(session)?;
            let path = Client::connect()?.snapshot_record(&session, name.as_deref())?;
            println!("Snapshot recorded successfully for session {session}");
            println!("Snapshot written to {path}");
        }
        Command::Trace {
            output,
            quiet,
            kernel,
            command,
        } => return trace_command(output, quiet, kernel, &command),
        Command::View {
            session,
            viewer,
            trace_path,
            path,
        } => {
            let path = match path.or(trace_path) {
                Some(p) => p,
                None => {
                    let name = session_or_current(session)?;
                    PathBuf::from(Client::connect()?.session(&name)?.summary.output)
                }
            };
            if let Some(program) = viewer {
                return Err(view::exec_viewer(&program, &path).into());
            }
            return Ok(match view::view(&path) {
                Ok(code) => code.into(),
                Err(e) => {
                    eprintln!("Error: {e}");
                    view::EXIT_USAGE.into()
                }
            });
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_session(c: &mut Client, name: &str) -> anyhow::Result<()> {
    let d = c.session(name)?;
    let s = &d.summary;
    println!(
        "Tracing session {}: [{}{}]",
        s.name,
        if s.active { "active" } else { "inactive" },
        if s.snapshot { " snapshot" } else { "" }
    );
    println!("    Trace output: {}", s.output);
    println!(
        "    Buffers: {}; applications writing: {}",
        match d.buffers {
            Buffers::PerUid => "per user",
            Buffers::PerPid => "per process",
        },
        d.apps
    );
    if !d.sandboxed {
        println!("    Consumer: NOT sandboxed");
    }
    if d.consumer_restarts > 0 {
        println!("    Consumer restarted {} time(s)", d.consumer_restarts);
    }
    if !d.kernel_events.is_empty() {
        println!("\n=== Domain: Linux kernel ===\n");
        println!("    Recording event rules:");
        for e in d.kernel_events.iter().filter(|e| !is_path_probe(e)) {
            println!("      {e} [enabled]");
        }
        if let Some(calls) = &d.kernel_syscalls {
            println!("    System calls recorded: {}", calls.join(", "));
        }
        if d.kernel_consumer_restarts > 0 {
            println!(
                "    Kernel consumer restarted {} time(s)",
                d.kernel_consumer_restarts
            );
        }
    }
    println!("\n=== Domain: User space ===\n");
    for ch in &d.channels {
        println!("- {}: [enabled]", ch.name);
        println!("    Attributes:");
        println!(
            "      Event-loss mode:  {}",
            if ch.overwrite { "overwrite" } else { "discard" }
        );
        println!("      Sub-buffer size:  {} bytes", ch.subbuf_size);
        println!("      Sub-buffer count: {}", ch.num_subbuf);
        println!(
            "      Switch timer:     {}",
            if ch.switch_timer_us == 0 {
                "inactive".to_string()
            } else {
                format!("{} µs", ch.switch_timer_us)
            }
        );
        if !ch.overwrite {
            println!("      Blocking timeout: {} µs", ch.blocking_timeout_us);
        }
        println!("    Statistics:");
        println!("      Discarded events: {}", ch.discarded);
        println!("      Lost packets:     {}", ch.lost_packets);
        if !ch.contexts.is_empty() {
            let names: Vec<&str> = ch.contexts.iter().map(|k| k.name()).collect();
            println!("    Contexts: {}", names.join(", "));
        }
        println!("    Recording event rules:");
        for e in &ch.events {
            let level = match e.rule.loglevel {
                None => String::new(),
                Some(LogLevelFilter::AtLeast(l)) => format!(" (loglevel <= TRACE_{})", l.name()),
                Some(LogLevelFilter::Only(l)) => format!(" (loglevel == TRACE_{})", l.name()),
            };
            let excl = if e.rule.exclude.is_empty() {
                String::new()
            } else {
                format!(" [exclusions: {}]", e.rule.exclude.join(","))
            };
            println!(
                "      {}{level}{excl} [{}]",
                e.rule.pattern,
                if e.enabled { "enabled" } else { "disabled" }
            );
        }
        println!();
    }
    Ok(())
}

fn print_tracepoints(c: &mut Client) -> anyhow::Result<()> {
    println!("UST events:\n-------------\n");
    for app in c.list_tracepoints()? {
        println!("PID: {} - Name: {}", app.pid, app.procname);
        for (name, level) in app.tracepoints {
            println!(
                "      {name} (loglevel: TRACE_{} ({})) (type: tracepoint)",
                level.name(),
                level as u8
            );
        }
        println!();
    }
    Ok(())
}

/// `lttng trace -- CMD`: a private session around one command.
fn trace_command(
    output: Option<PathBuf>,
    quiet: bool,
    kernel: bool,
    command: &[String],
) -> anyhow::Result<ExitCode> {
    let output = output.as_deref().map(absolute).transpose()?;
    let mut c = Client::connect_or_start()?;
    let name = format!("trace-{}", std::process::id());
    let (name, out) = c.create(Some(&name), output.as_deref(), false)?;
    let result = (|| -> anyhow::Result<std::process::ExitStatus> {
        c.enable_event(&name, None, EventRule::pattern("*"))?;
        if !kernel {
            c.start(&name)?;
            let status = std::process::Command::new(&command[0])
                .args(&command[1..])
                .status()
                .with_context(|| format!("cannot run {}", command[0]))?;
            c.stop(&name)?;
            return Ok(status);
        }
        let sched = [
            "sched_switch",
            "sched_wakeup",
            "sched_process_fork",
            "sched_process_exec",
            "sched_process_exit",
        ];
        c.enable_kernel_events(&name, sched.map(String::from).to_vec(), Some(Vec::new()))?;
        // The command starts stopped (a shell that stops itself, then execs it), so
        // that the kernel records exactly its process tree from its first instruction.
        let mut child = std::process::Command::new("/bin/sh")
            .args(["-c", "kill -STOP $$; exec \"$@\"", "sh"])
            .args(command)
            .spawn()
            .with_context(|| format!("cannot run {}", command[0]))?;
        let pid = child.id();
        wait_stopped(pid)?;
        eprintln!("Tracing process {pid} and its children");
        c.kernel_pids(&name, vec![pid])?;
        c.start(&name)?;
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid as i32),
            nix::sys::signal::Signal::SIGCONT,
        )
        .context("cannot resume the command")?;
        let status = child.wait().context("waiting for the command")?;
        c.stop(&name)?;
        Ok(status)
    })();
    let destroyed = c.destroy(&name);
    let status = result?;
    destroyed?;
    let mut code = 0u8;
    if !quiet {
        code = view::view(Path::new(&out)).unwrap_or(view::EXIT_USAGE);
    }
    eprintln!("Trace written to {out}");
    let exit = status.code().map(|c| c as u8).unwrap_or(128 + 9);
    Ok(ExitCode::from(if exit != 0 { exit } else { code }))
}

/// Waits (up to 5 s) until process `pid` is stopped.
fn wait_stopped(pid: u32) -> anyhow::Result<()> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let state = stat
            .rsplit_once(')')
            .and_then(|(_, r)| r.split_whitespace().next());
        if state == Some("T") {
            return Ok(());
        }
        if std::time::Instant::now() > deadline {
            bail!("the command did not start (process {pid} never stopped)");
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}
