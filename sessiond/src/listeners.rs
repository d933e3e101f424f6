//! The daemon's two sockets and what one peer can make it hold.
//!
//! - `client.sock` (the `lttng` command): at most `--max-clients` connections at once,
//!   each on a thread of its own; one over the limit is refused with a message
//!   naming the option (from one refusing thread, `proto::wire::admission`). A client
//!   must say hello within `--hello-timeout-ms`, is closed after `--idle-timeout-ms`
//!   without a request (`lttng` reconnects on its next request), and one that does
//!   not read a reply within `--reply-timeout-ms` is dropped (see `client::serve`).
//! - `app.sock` (instrumented programs): at most `--max-registrations` registrations
//!   at once, each on a thread for at most `apps::REGISTER_TIMEOUT`; one over the
//!   limit is closed (the program tries again later, untraced meanwhile). A
//!   registered application costs a descriptor, watched by one thread for all
//!   (`watch`), and counts against `apps::MAX_APPS`.

use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use proto::wire::admission::{Admitted, Limits, Refuser};
use proto::wire::app::DaemonMessage;
use proto::wire::control::Reply;
use proto::wire::{socket, VERSION};

use crate::daemon::{lock, Shared};
use crate::watch::Watcher;
use crate::{apps, client};

/// The stack of a connection's thread.
const CONNECTION_STACK: usize = 512 * 1024;

/// The bounds of the daemon's connections (its command line).
#[derive(Clone, Copy, Debug)]
pub struct Bounds {
    pub max_clients: u32,
    pub max_registrations: u32,
    pub hello_timeout: Duration,
    pub idle_timeout: Duration,
    pub reply_timeout: Duration,
}

/// Serves `client.sock`.
pub fn accept_clients(listener: OwnedFd, daemon: Shared, bounds: Bounds) {
    let limits = Limits::new(bounds.max_clients, bounds.max_clients);
    let refuser = match Refuser::start("lttng-sessiond") {
        Ok(r) => r,
        Err(e) => {
            eprintln!("lttng-sessiond: cannot start the refusing thread: {e}");
            return;
        }
    };
    accept(&listener, |sock| match limits.admit(0) {
        Ok(admitted) => {
            let d = daemon.clone();
            serve_on_thread(admitted, move || client::serve(d, sock, bounds));
        }
        Err(over) => {
            let why = format!(
                "lttng-sessiond serves {} clients already, its limit (lttng-sessiond --max-clients): try again when other lttng commands have ended",
                match over {
                    proto::wire::admission::Over::PerKey { held, .. }
                    | proto::wire::admission::Over::Total { held } => held,
                }
            );
            eprintln!("lttng-sessiond: refused a client: {why}");
            let _ = refuser.refuse(sock, &Reply::Error(why));
        }
    });
}

/// Serves `app.sock`.
pub fn accept_apps(listener: OwnedFd, daemon: Shared, bounds: Bounds, watcher: Arc<Watcher>) {
    let limits = Limits::new(bounds.max_registrations, bounds.max_registrations);
    static REFUSED: AtomicU64 = AtomicU64::new(0);
    accept(&listener, |sock| match limits.admit(0) {
        Ok(admitted) => {
            let (d, w) = (daemon.clone(), watcher.clone());
            serve_on_thread(admitted, move || serve_app(d, sock, &w));
        }
        Err(_) => {
            // Closed unanswered: a refusal would make the program give up for good;
            // this way it tries again a little later.
            let n = REFUSED.fetch_add(1, Ordering::Relaxed) + 1;
            if n.is_power_of_two() {
                eprintln!(
                    "lttng-sessiond: {n} application connection(s) closed so far: {} registrations already in progress (lttng-sessiond --max-registrations)",
                    bounds.max_registrations
                );
            }
        }
    });
}

fn accept(listener: &OwnedFd, mut each: impl FnMut(OwnedFd)) {
    loop {
        match socket::accept(listener.as_fd()) {
            Ok(sock) => each(sock),
            Err(e) => {
                // EMFILE and the like: let connections end before the next one.
                eprintln!("lttng-sessiond: accept: {e}");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

/// Runs `f` on a thread of its own, counted by `admitted` until it ends.
fn serve_on_thread(admitted: Admitted, f: impl FnOnce() + Send + 'static) {
    if let Err(e) = std::thread::Builder::new()
        .name("connection".into())
        .stack_size(CONNECTION_STACK)
        .spawn(move || {
            f();
            drop(admitted);
        })
    {
        eprintln!("lttng-sessiond: cannot serve a connection: {e}");
    }
}

/// Registers one application and hands it to the watcher.
fn serve_app(daemon: Shared, sock: OwnedFd, watcher: &Watcher) {
    let (uid, source) = {
        let d = lock(&daemon);
        (d.uid, d.clock.source)
    };
    let cred = match socket::peer_cred(sock.as_fd()) {
        Ok(c) => c,
        Err(_) => return,
    };
    let hello = match apps::read_registration(sock.as_fd(), cred, uid) {
        Ok(apps::Arrival::Hello(h)) => h,
        Ok(apps::Arrival::More {
            pid,
            first,
            tracepoints,
        }) => {
            let answer = match lock(&daemon).add_app_tracepoints(pid, first, tracepoints) {
                Ok(()) => DaemonMessage::Ready,
                Err(e) => {
                    eprintln!("lttng-sessiond: late tracepoints of pid {pid} refused: {e}");
                    DaemonMessage::Refused(e.to_string())
                }
            };
            let _ = socket::send(sock.as_fd(), &answer, &[]);
            return;
        }
        Err(e) => {
            eprintln!(
                "lttng-sessiond: registration of pid {} refused: {e}",
                cred.pid
            );
            let _ = socket::send(sock.as_fd(), &DaemonMessage::Refused(e.to_string()), &[]);
            client::linger(sock.as_fd());
            return;
        }
    };
    let accepted = DaemonMessage::Accepted {
        version: VERSION,
        clock: source,
    };
    let Ok(watch) = sock.try_clone() else {
        return;
    };
    if socket::send(sock.as_fd(), &accepted, &[]).is_err() {
        return;
    }
    let pid = hello.pid;
    let mut d = lock(&daemon);
    let id = match d.register_app(hello, sock) {
        Ok(id) => id,
        Err(e) => {
            eprintln!("lttng-sessiond: app {pid}: {e}");
            return;
        }
    };
    if let Some(app) = d.apps.iter().find(|a| a.id == id) {
        if let Err(e) = apps::call(&app.sock, &DaemonMessage::Ready, &[]) {
            eprintln!("lttng-sessiond: app {pid} dropped: {e}");
            apps::disconnect(&app.sock);
        }
    }
    // Watched from now on: its hang-up (or the disconnection above) ends it.
    watcher.add(id, watch);
}
