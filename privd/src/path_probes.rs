//! The path probes: uprobe events on the C library's open functions
//! ([`proto::ftrace::PATH_PROBES`]) that record the path a program opens. This kernel's
//! system call events carry only the path's address, and it has neither event probes
//! nor kprobes to read it; a uprobe with a `ustring` fetch does. privd defines them at
//! start-up, before its sandbox, from its own configuration only (the library path and
//! the symbols are never a client's), and removes them at exit. A definition costs
//! nothing until an instance enables it; sessiond enables them with the system calls,
//! in the caller's own instance, where `set_event_pid` filters them like any event.
//!
//! The dynamic loader opens the libraries a program needs with system calls of its own,
//! through none of the C library's functions; its `openat` sites have no symbol, so
//! privd finds them in the loader beside the C library (`ld-linux-x86-64.so.2`) by
//! their exact code (see [`loader_openat_sites`]) and probes each one.
//!
//! A library is checked before it is probed: a regular file owned by root and writable
//! only by root (every process that maps it takes the probe), and each probed address
//! must lie in an executable segment of its ELF file.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use proto::ftrace::{
    LOADER_PROBE_PREFIX, MAX_LOADER_PROBES, PATH_PROBES, PATH_PROBE_FIELD, PATH_PROBE_GROUP,
};

/// The loader's file name, looked for beside the C library.
const LOADER: &str = "ld-linux-x86-64.so.2";

/// Why the path probes could not be defined (privd then runs without them).
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("cannot read {0}: {1}")]
    Read(PathBuf, std::io::Error),
    #[error("{0} must be a regular file owned by root and writable only by root")]
    Unsafe(PathBuf),
    #[error("{0} is not a usable ELF file: {1}")]
    Elf(PathBuf, ElfError),
    #[error("{0} has none of the open functions to probe")]
    NoSymbol(PathBuf),
    #[error("cannot define the probes in {0}: {1}")]
    Write(PathBuf, std::io::Error),
}

/// What is wrong with an ELF file.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ElfError {
    #[error("not a 64-bit little-endian ELF file")]
    NotElf64,
    #[error("the {0} lies outside the file")]
    OutOfBounds(&'static str),
    #[error("no dynamic symbol table")]
    NoDynsym,
}

/// The probes privd defined; removed by [`PathProbes::remove`].
#[derive(Debug)]
pub struct PathProbes {
    uprobe_events: PathBuf,
    defined: Vec<String>,
}

impl PathProbes {
    /// Defines the probes on `library` in the tracefs at `tracefs`, after removing any
    /// left by a privd that did not exit cleanly.
    pub fn define(tracefs: &Path, library: &Path) -> Result<PathProbes, ProbeError> {
        let (library, elf) = read_trusted(library)?;
        let symbols: Vec<&str> = PATH_PROBES.iter().map(|p| p.symbol).collect();
        let offsets =
            file_offsets(&elf, &symbols).map_err(|e| ProbeError::Elf(library.clone(), e))?;
        let uprobe_events = tracefs.join("uprobe_events");
        let mut probes = PathProbes {
            uprobe_events,
            defined: Vec::new(),
        };
        probes.remove_all();
        for (p, off) in PATH_PROBES.iter().zip(offsets) {
            let Some(off) = off else { continue };
            probes
                .append(&definition(p.event, &library, off, p.register))
                .map_err(|e| ProbeError::Write(probes.uprobe_events.clone(), e))?;
            probes.defined.push(p.event.to_string());
        }
        if probes.defined.is_empty() {
            return Err(ProbeError::NoSymbol(library));
        }
        // The loader's own opens, where its code is the one known (else without them).
        let loader = library.with_file_name(LOADER);
        match read_trusted(&loader).and_then(|(path, elf)| {
            let sites = loader_openat_sites(&elf).map_err(|e| ProbeError::Elf(path.clone(), e))?;
            Ok((path, sites))
        }) {
            Ok((path, sites)) if !sites.is_empty() => {
                for (i, (off, register)) in sites.into_iter().take(MAX_LOADER_PROBES).enumerate() {
                    let event = format!("{LOADER_PROBE_PREFIX}{i}");
                    probes
                        .append(&definition(&event, &path, off, register))
                        .map_err(|e| ProbeError::Write(probes.uprobe_events.clone(), e))?;
                    probes.defined.push(event);
                }
            }
            Ok((path, _)) => eprintln!(
                "lttng-privd: no openat site of a known form in {}: the loader's opens will carry no file name",
                path.display()
            ),
            Err(e) => eprintln!(
                "lttng-privd: no loader probes ({e}): the loader's opens will carry no file name"
            ),
        }
        Ok(probes)
    }

    /// The events defined (`system:event`).
    pub fn events(&self) -> Vec<String> {
        self.defined
            .iter()
            .map(|e| format!("{PATH_PROBE_GROUP}:{e}"))
            .collect()
    }

    /// Removes the probes (call it once no instance enables them).
    pub fn remove(mut self) {
        self.remove_all();
    }

    fn remove_all(&mut self) {
        let loader = (0..MAX_LOADER_PROBES).map(|i| format!("{LOADER_PROBE_PREFIX}{i}"));
        for event in PATH_PROBES
            .iter()
            .map(|p| p.event.to_string())
            .chain(loader)
        {
            // Absent is fine; busy means an instance still uses it (it goes with the
            // next privd's start-up).
            let _ = self.append(&format!("-:{PATH_PROBE_GROUP}/{event}"));
        }
        self.defined.clear();
    }

    /// Appends one line: never truncate `uprobe_events`, which would remove every
    /// uprobe of the machine.
    fn append(&self, line: &str) -> std::io::Result<()> {
        let mut f = OpenOptions::new().append(true).open(&self.uprobe_events)?;
        f.write_all(format!("{line}\n").as_bytes())
    }
}

/// Reads a library to probe, after checking that only root can change it.
fn read_trusted(path: &Path) -> Result<(PathBuf, Vec<u8>), ProbeError> {
    let path = path
        .canonicalize()
        .map_err(|e| ProbeError::Read(path.to_path_buf(), e))?;
    let meta = std::fs::metadata(&path).map_err(|e| ProbeError::Read(path.clone(), e))?;
    if !meta.is_file() || meta.uid() != 0 || meta.mode() & 0o022 != 0 {
        return Err(ProbeError::Unsafe(path));
    }
    let elf = std::fs::read(&path).map_err(|e| ProbeError::Read(path.clone(), e))?;
    Ok((path, elf))
}

/// `p:GROUP/EVENT LIBRARY:0xOFFSET path=+0(%REG):ustring`.
fn definition(event: &str, library: &Path, offset: u64, register: &str) -> String {
    format!(
        "p:{PATH_PROBE_GROUP}/{event} {}:{offset:#x} {PATH_PROBE_FIELD}=+0({register}):ustring",
        library.display(),
    )
}

/// `mov $257,%eax`: `openat`'s number into the system call register.
const MOV_OPENAT_NR: [u8; 5] = [0xb8, 0x01, 0x01, 0x00, 0x00];
/// `syscall`, then glibc's inline error check `cmp $-4096,%rax`.
const SYSCALL_CHECKED: [u8; 8] = [0x0f, 0x05, 0x48, 0x3d, 0x00, 0xf0, 0xff, 0xff];

/// The `openat` sites of a dynamic loader: the file offset of each `mov $257,%eax`
/// that glibc's inline system call puts right before `syscall` and its error check,
/// and the register that holds the path there (`%si` at the `syscall`, or `%di` when
/// the one instruction between moves it from there). Only these exact forms are
/// recognised: with 13 bytes or more matched, the probed byte starts an instruction
/// (a uprobe placed inside one would break every program), and anything else is
/// skipped. Each site lies in an executable segment.
pub fn loader_openat_sites(elf: &[u8]) -> Result<Vec<(u64, &'static str)>, ElfError> {
    // Between the two: nothing, or instructions that leave %eax alone.
    const BETWEEN: [(&[u8], &str); 2] = [
        (&[], "%si"),
        // mov %rdi,%rsi; mov $AT_FDCWD,%edi (open() as openat(AT_FDCWD, ...)).
        (&[0x48, 0x89, 0xfe, 0xbf, 0x9c, 0xff, 0xff, 0xff], "%di"),
    ];
    let mut sites = Vec::new();
    for (_, filesz, offset) in exec_segments(elf)? {
        let start = usize::try_from(offset).map_err(|_| ElfError::OutOfBounds("segment"))?;
        let len = usize::try_from(filesz).map_err(|_| ElfError::OutOfBounds("segment"))?;
        let code = elf
            .get(
                start
                    ..start
                        .checked_add(len)
                        .ok_or(ElfError::OutOfBounds("segment"))?,
            )
            .ok_or(ElfError::OutOfBounds("segment"))?;
        for at in 0..code.len().saturating_sub(MOV_OPENAT_NR.len()) {
            if code[at..].starts_with(&MOV_OPENAT_NR) {
                let rest = &code[at + MOV_OPENAT_NR.len()..];
                for (between, register) in BETWEEN {
                    if rest.starts_with(between)
                        && rest[between.len()..].starts_with(&SYSCALL_CHECKED)
                    {
                        sites.push(((start + at) as u64, register));
                    }
                }
            }
        }
    }
    Ok(sites)
}

/// The executable loadable segments of `elf`: (vaddr, filesz, offset).
fn exec_segments(elf: &[u8]) -> Result<Vec<(u64, u64, u64)>, ElfError> {
    const PT_LOAD: u32 = 1;
    const PF_X: u32 = 1;
    if elf.get(..6) != Some(b"\x7fELF\x02\x01") {
        return Err(ElfError::NotElf64);
    }
    let bad = ElfError::OutOfBounds;
    let phoff = u64_at(elf, 0x20).ok_or(bad("header"))?;
    let phentsize = u64::from(u16_at(elf, 0x36).ok_or(bad("header"))?);
    let phnum = u64::from(u16_at(elf, 0x38).ok_or(bad("header"))?);
    if phentsize < 56 {
        return Err(bad("header"));
    }
    let mut exec = Vec::new();
    for i in 0..phnum {
        let ph = phoff
            .checked_add(i * phentsize)
            .ok_or(bad("program header"))?;
        let p_type = u32_at(elf, ph).ok_or(bad("program header"))?;
        let p_flags = u32_at(elf, ph + 4).ok_or(bad("program header"))?;
        if p_type == PT_LOAD && p_flags & PF_X != 0 {
            let offset = u64_at(elf, ph + 8).ok_or(bad("program header"))?;
            let vaddr = u64_at(elf, ph + 16).ok_or(bad("program header"))?;
            let filesz = u64_at(elf, ph + 32).ok_or(bad("program header"))?;
            exec.push((vaddr, filesz, offset));
        }
    }
    Ok(exec)
}

fn u16_at(b: &[u8], at: u64) -> Option<u16> {
    let at = usize::try_from(at).ok()?;
    Some(u16::from_le_bytes(
        b.get(at..at.checked_add(2)?)?.try_into().ok()?,
    ))
}

fn u32_at(b: &[u8], at: u64) -> Option<u32> {
    let at = usize::try_from(at).ok()?;
    Some(u32::from_le_bytes(
        b.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}

fn u64_at(b: &[u8], at: u64) -> Option<u64> {
    let at = usize::try_from(at).ok()?;
    Some(u64::from_le_bytes(
        b.get(at..at.checked_add(8)?)?.try_into().ok()?,
    ))
}

/// The file offset of each function in `names` among the dynamic symbols of the ELF
/// image `elf` (what a uprobe is placed at), if it is defined there and lies in an
/// executable loadable segment. Every offset and count is bounds-checked.
pub fn file_offsets(elf: &[u8], names: &[&str]) -> Result<Vec<Option<u64>>, ElfError> {
    const SHT_DYNSYM: u32 = 11;
    const STT_FUNC: u8 = 2;
    let exec = exec_segments(elf)?;
    let bad = ElfError::OutOfBounds;
    let shoff = u64_at(elf, 0x28).ok_or(bad("header"))?;
    let shentsize = u64::from(u16_at(elf, 0x3a).ok_or(bad("header"))?);
    let shnum = u64::from(u16_at(elf, 0x3c).ok_or(bad("header"))?);
    if shentsize < 64 {
        return Err(bad("header"));
    }
    let section = |i: u64| shoff.checked_add(i.checked_mul(shentsize)?);
    let dynsym = (0..shnum)
        .filter_map(section)
        .find(|&sh| u32_at(elf, sh + 4) == Some(SHT_DYNSYM))
        .ok_or(ElfError::NoDynsym)?;
    let sym_off = u64_at(elf, dynsym + 24).ok_or(bad("symbol table"))?;
    let sym_size = u64_at(elf, dynsym + 32).ok_or(bad("symbol table"))?;
    let sym_ent = u64_at(elf, dynsym + 56).ok_or(bad("symbol table"))?;
    let link = u64::from(u32_at(elf, dynsym + 40).ok_or(bad("symbol table"))?);
    let strtab = section(link).ok_or(bad("string table"))?;
    let str_off = u64_at(elf, strtab + 24).ok_or(bad("string table"))?;
    let str_size = u64_at(elf, strtab + 32).ok_or(bad("string table"))?;
    let strings = usize::try_from(str_off)
        .ok()
        .zip(usize::try_from(str_size).ok())
        .and_then(|(o, s)| elf.get(o..o.checked_add(s)?))
        .ok_or(bad("string table"))?;
    if sym_ent < 24 {
        return Err(bad("symbol table"));
    }
    let mut found: Vec<Option<u64>> = vec![None; names.len()];
    for k in 0..sym_size / sym_ent {
        let sym = sym_off
            .checked_add(k * sym_ent)
            .ok_or(bad("symbol table"))?;
        let name_at = u32_at(elf, sym).ok_or(bad("symbol table"))? as usize;
        let info = *elf
            .get(usize::try_from(sym + 4).map_err(|_| bad("symbol table"))?)
            .ok_or(bad("symbol table"))?;
        let shndx = u16_at(elf, sym + 6).ok_or(bad("symbol table"))?;
        let value = u64_at(elf, sym + 8).ok_or(bad("symbol table"))?;
        if info & 0xf != STT_FUNC || shndx == 0 {
            continue;
        }
        let Some(name) = strings
            .get(name_at..)
            .and_then(|s| s.split(|&b| b == 0).next())
        else {
            continue;
        };
        let Some(i) = names.iter().position(|n| n.as_bytes() == name) else {
            continue;
        };
        found[i] = exec
            .iter()
            .find(|(vaddr, filesz, _)| value >= *vaddr && value - vaddr < *filesz)
            .and_then(|(vaddr, _, offset)| (value - vaddr).checked_add(*offset))
            .filter(|&off| off < elf.len() as u64);
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIBC: &str = "/usr/lib/x86_64-linux-gnu/libc.so.6";

    #[test]
    fn the_open_functions_are_found_in_this_machines_c_library() {
        let elf = std::fs::read(LIBC).expect("the C library");
        let names = ["open64", "openat64", "__open_nocancel", "no_such_function"];
        let offs = file_offsets(&elf, &names).unwrap();
        assert!(offs[0].is_some() && offs[1].is_some(), "{offs:?}");
        assert_ne!(offs[0], offs[1]);
        assert_eq!(offs[3], None);
        // `open` is an alias of `open64`: the same code.
        assert_eq!(file_offsets(&elf, &["open"]).unwrap()[0], offs[0]);
    }

    #[test]
    fn malformed_elf_files_are_refused_without_panicking() {
        let elf = std::fs::read(LIBC).expect("the C library");
        assert_eq!(file_offsets(b"", &["open64"]), Err(ElfError::NotElf64));
        assert_eq!(
            file_offsets(b"\x7fELF\x01\x01", &["open64"]),
            Err(ElfError::NotElf64)
        );
        // Every truncation, and every header field set to huge values.
        for cut in [7, 0x40, 4096, elf.len() / 2] {
            let r = file_offsets(&elf[..cut], &["open64"]);
            assert!(
                r.is_err() || r.as_ref().unwrap()[0].is_none(),
                "{cut}: {r:?}"
            );
        }
        for at in [0x20, 0x28, 0x36, 0x38, 0x3a, 0x3c] {
            let mut e = elf.clone();
            e[at..at + 2].copy_from_slice(&[0xff, 0xff]);
            let _ = file_offsets(&e, &["open64"]);
        }
    }

    const LOADER_PATH: &str = "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2";

    #[test]
    fn the_loaders_openat_sites_are_found_by_their_exact_code() {
        let elf = std::fs::read(LOADER_PATH).expect("the dynamic loader");
        let sites = loader_openat_sites(&elf).unwrap();
        assert!(
            !sites.is_empty() && sites.len() <= MAX_LOADER_PROBES,
            "{sites:?}"
        );
        for &(off, register) in &sites {
            let at = off as usize;
            assert_eq!(elf[at..at + 5], MOV_OPENAT_NR, "{off:#x}");
            assert!(["%si", "%di"].contains(&register));
        }
        // glibc's open() as openat(AT_FDCWD, path): the path still in %di at the probe.
        assert!(sites.iter().any(|&(_, r)| r == "%di"), "{sites:?}");
        // One byte off the known form, and the site is not taken.
        let (off, _) = sites[0];
        let mut e = elf.clone();
        let trailer = off as usize + 5 + SYSCALL_CHECKED.len() - 1;
        e[trailer] ^= 0xff;
        let fewer = loader_openat_sites(&e).unwrap();
        assert!(!fewer.contains(&sites[0]), "{fewer:?}");
        // No panic on broken files.
        assert_eq!(loader_openat_sites(b""), Err(ElfError::NotElf64));
        for cut in [7, 0x40, 4096, elf.len() / 2] {
            let _ = loader_openat_sites(&elf[..cut]);
        }
        let mut e = elf.clone();
        e[0x38..0x3a].copy_from_slice(&[0xff, 0xff]);
        let _ = loader_openat_sites(&e);
    }

    #[test]
    fn a_definition_names_the_library_offset_and_register() {
        assert_eq!(
            definition(
                PATH_PROBES[1].event,
                Path::new("/lib/libc.so.6"),
                0xf8150,
                PATH_PROBES[1].register
            ),
            "p:lttng_rs_user/lttng_rs_openat_path /lib/libc.so.6:0xf8150 path=+0(%si):ustring"
        );
    }
}
