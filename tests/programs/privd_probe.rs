//! Test program: a client of `lttng-privd` driven by lines on stdin, one answer line
//! per command on stdout.
//!
//! `privd_probe SOCKET` connects to SOCKET; `privd_probe --fd N` uses the already
//! connected descriptor N (handed over by someone else). Commands come one per line
//! on stdin, or as the arguments after the socket (`privd_probe --fd 0 hello list`,
//! for a socket handed over as stdin). Commands: `hello`, `list`,
//! `create`, `enable EVENT...`, `start`, `stop`, `header-page`, `header-event`,
//! `count EVENT` (reads every CPU's
//! `trace_pipe_raw` and counts the records of EVENT, decoding the ftrace pages),
//! `destroy`, `quit`. Answers: `ok ...`, `denied: ...`, `error: ...`.
//!
//! `privd_probe --hold N SOCKET` opens N connections one after the other, says hello
//! on each and prints the answer (a line per connection), then `held` and keeps them
//! all open until its stdin closes.

use std::io::{BufRead, Read, Write};
use std::os::fd::{AsFd, FromRawFd, OwnedFd};

use proto::clock::Source;
use proto::wire::privd::{PrivReply, PrivRequest};
use proto::wire::socket;

fn call(sock: &OwnedFd, req: &PrivRequest) -> Result<(PrivReply, Vec<OwnedFd>), String> {
    socket::send(sock.as_fd(), req, &[]).map_err(|e| e.to_string())?;
    let r = socket::recv::<PrivReply>(sock.as_fd()).map_err(|e| e.to_string())?;
    Ok((r.msg, r.fds))
}

fn answer(r: &Result<(PrivReply, Vec<OwnedFd>), String>) -> String {
    match r {
        Ok((PrivReply::Denied(t), _)) => format!("denied: {t}"),
        Ok((PrivReply::Error(t), _)) => format!("error: {t}"),
        Ok((PrivReply::Events(v), _)) => format!("ok {}", v.join(",")),
        Ok((other, _)) => format!("ok {other:?}"),
        Err(e) => format!("error: {e}"),
    }
}

/// Counts the records whose `common_type` is `id` in one ftrace page.
fn count_in_page(page: &[u8], id: u16) -> usize {
    let commit = u64::from_le_bytes(page[8..16].try_into().unwrap());
    let size = (commit & 0x07ff_ffff) as usize;
    let data = &page[16..(16 + size).min(page.len())];
    let (mut at, mut n) = (0usize, 0usize);
    while at + 4 <= data.len() {
        let h = u32::from_le_bytes(data[at..at + 4].try_into().unwrap());
        let type_len = h & 0x1f;
        let (payload, next) = match type_len {
            0 => {
                let len = u32::from_le_bytes(data[at + 4..at + 8].try_into().unwrap()) as usize;
                (at + 8, at + 4 + len.div_ceil(4) * 4)
            }
            1..=28 => (at + 4, at + 4 + type_len as usize * 4),
            29 => {
                if h >> 5 == 0 {
                    break;
                }
                let len = u32::from_le_bytes(data[at + 4..at + 8].try_into().unwrap()) as usize;
                (usize::MAX, at + 4 + len)
            }
            _ => (usize::MAX, at + 8),
        };
        if payload != usize::MAX && payload + 2 <= data.len() {
            let ty = u16::from_le_bytes([data[payload], data[payload + 1]]);
            if ty == id {
                n += 1;
            }
        }
        if next <= at {
            break;
        }
        at = next;
    }
    n
}

/// `--hold N SOCKET`.
fn hold(n: usize, path: &str) {
    let mut held = Vec::new();
    let mut out = std::io::stdout();
    for _ in 0..n {
        let line = match socket::connect(std::path::Path::new(path)) {
            Ok(sock) => {
                let _ = socket::set_timeout(sock.as_fd(), Some(std::time::Duration::from_secs(10)));
                let hello = PrivRequest::Hello {
                    version: proto::wire::VERSION,
                };
                let line = answer(&call(&sock, &hello));
                held.push(sock);
                line
            }
            Err(e) => format!("error: connect: {e}"),
        };
        writeln!(out, "{line}").unwrap();
    }
    writeln!(out, "held").unwrap();
    out.flush().unwrap();
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [flag, n, path] = args.as_slice() {
        if flag == "--hold" {
            return hold(n.parse().expect("a number of connections"), path);
        }
    }
    let (target, commands): (&[String], Vec<String>) = match args.first().map(String::as_str) {
        Some("--fd") if args.len() >= 2 => (&args[..2], args[2..].to_vec()),
        Some(_) => (&args[..1], args[1..].to_vec()),
        None => panic!("usage: privd_probe SOCKET | --fd N [COMMAND...]"),
    };
    let sock: OwnedFd = match target {
        [flag, n] if flag == "--fd" => {
            let fd: i32 = n.parse().expect("fd number");
            // The descriptor was inherited for this purpose and nothing else owns it.
            #[allow(unsafe_code)]
            // SAFETY: fd is an open descriptor handed to this process to own.
            unsafe {
                OwnedFd::from_raw_fd(fd)
            }
        }
        [path] => socket::connect(std::path::Path::new(path)).expect("connect to privd"),
        _ => panic!("usage: privd_probe SOCKET | --fd N"),
    };
    let mut session = 0u32;
    let mut cpus = 0u32;
    let mut out = std::io::stdout();
    let lines: Box<dyn Iterator<Item = String>> = if commands.is_empty() {
        Box::new(std::io::stdin().lock().lines().map_while(Result::ok))
    } else {
        Box::new(commands.into_iter())
    };
    for line in lines {
        let words: Vec<&str> = line.split_whitespace().collect();
        let reply = match words.as_slice() {
            ["hello"] => answer(&call(
                &sock,
                &PrivRequest::Hello {
                    version: proto::wire::VERSION,
                },
            )),
            ["list"] => answer(&call(&sock, &PrivRequest::ListEvents)),
            ["create"] => {
                let r = call(
                    &sock,
                    &PrivRequest::CreateSession {
                        buffer_kb: 1024,
                        clock: Source::Monotonic,
                    },
                );
                if let Ok((
                    PrivReply::Session {
                        session: s,
                        cpus: c,
                    },
                    _,
                )) = &r
                {
                    session = *s;
                    cpus = *c;
                }
                answer(&r)
            }
            ["enable", events @ ..] => answer(&call(
                &sock,
                &PrivRequest::EnableEvents {
                    session,
                    events: events.iter().map(|s| s.to_string()).collect(),
                },
            )),
            ["start"] => answer(&call(&sock, &PrivRequest::Start { session })),
            ["stop"] => answer(&call(&sock, &PrivRequest::Stop { session })),
            ["destroy"] => answer(&call(&sock, &PrivRequest::Destroy { session })),
            ["header-page"] => match call(
                &sock,
                &PrivRequest::Format {
                    session,
                    event: None,
                },
            ) {
                Ok((PrivReply::Text(t), _)) => format!("ok {}", t.lines().count()),
                other => answer(&other),
            },
            ["header-event"] => match call(&sock, &PrivRequest::HeaderEvent { session }) {
                Ok((PrivReply::Text(t), _)) => format!("ok {}", t.lines().next().unwrap_or("")),
                other => answer(&other),
            },
            ["count", event] => {
                let fmt = call(
                    &sock,
                    &PrivRequest::Format {
                        session,
                        event: Some(event.to_string()),
                    },
                );
                match fmt {
                    Ok((PrivReply::Text(t), _)) => {
                        let id: u16 = t
                            .lines()
                            .find_map(|l| l.strip_prefix("ID: "))
                            .and_then(|v| v.trim().parse().ok())
                            .expect("format ID");
                        let mut total = 0;
                        let mut pages = 0;
                        for cpu in 0..cpus {
                            match call(&sock, &PrivRequest::Stream { session, cpu }) {
                                Ok((PrivReply::Stream { .. }, mut fds)) if fds.len() == 1 => {
                                    let mut f = std::fs::File::from(fds.remove(0));
                                    let mut page = vec![0u8; 4096];
                                    while let Ok(4096) = f.read(&mut page) {
                                        pages += 1;
                                        total += count_in_page(&page, id);
                                    }
                                    // Read-only: writing must fail.
                                    if f.write_all(b"x").is_ok() {
                                        total = usize::MAX;
                                    }
                                }
                                other => {
                                    total = usize::MAX;
                                    eprintln!("stream {cpu}: {}", answer(&other));
                                }
                            }
                        }
                        format!("ok found {total} in {pages} pages")
                    }
                    other => answer(&other),
                }
            }
            ["quit"] => return,
            _ => format!("error: unknown command {line:?}"),
        };
        writeln!(out, "{reply}").unwrap();
        out.flush().unwrap();
    }
}
