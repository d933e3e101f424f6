//! The C ABI of `<lttng/ust-rs.h>`: `#[no_mangle]` functions and the structures they
//! read.
//!
//! # Safety
//!
//! The pointers come from code the tracepoint headers generate: descriptions in
//! static storage of the registering module, call-site objects in its writable data
//! (valid until it unregisters them from its destructor), slots on the probe's stack.
//! Strings are read only up to their NUL. A call site's `state`, `probe` and `data`
//! are accessed atomically (the call site reads them with `__atomic_load_n`).
#![allow(unsafe_code)]

use std::collections::HashMap;
use std::ffi::{c_char, c_int, c_void, CStr};
use std::sync::atomic::{AtomicI32, AtomicPtr, Ordering};
use std::sync::Mutex;

use libust::{Slot, Tracepoint};
use proto::event::{Base, EventDesc, FieldDesc, FieldType, IntType, LogLevel};

use crate::desc::{self, RawEvent, RawField};

#[repr(C)]
pub struct EnumEntry {
    label: *const c_char,
    start: i64,
    end: i64,
    is_auto: u8,
    padding: [u8; 7],
}

#[repr(C)]
pub struct Enum {
    name: *const c_char,
    entries: *const EnumEntry,
    count: u32,
}

#[repr(C)]
pub struct Field {
    name: *const c_char,
    kind: u8,
    size: u8,
    is_signed: u8,
    base: u8,
    network: u8,
    text: u8,
    length_size: u8,
    length_signed: u8,
    length: u32,
    enum_desc: *const Enum,
}

#[repr(C)]
pub struct Event {
    struct_size: u32,
    provider: *const c_char,
    name: *const c_char,
    loglevel: *const c_int,
    model_emf_uri: *const *const c_char,
    signature: *const c_char,
    fields: *const Field,
    nr_fields: u32,
    probe: *const c_void,
}

#[repr(C)]
pub struct Provider {
    struct_size: u32,
    abi: u32,
    name: *const c_char,
    events: *const *const Event,
    nr_events: u32,
}

#[repr(C)]
pub struct Callsite {
    struct_size: u32,
    state: AtomicI32,
    provider: *const c_char,
    name: *const c_char,
    signature: *const c_char,
    probe: AtomicPtr<c_void>,
    data: AtomicPtr<c_void>,
    provider_ref: *mut c_int,
}

/// `struct lttng_ust_rs_slot`: the payload pointer, then room for a [`Slot`].
#[repr(C)]
pub struct CSlot {
    dst: *mut c_void,
    opaque: [u64; 8],
}

const _: () = assert!(std::mem::size_of::<Slot>() <= std::mem::size_of::<CSlot>());
const _: () = assert!(std::mem::align_of::<Slot>() <= std::mem::align_of::<CSlot>());

/// The ABI version of `<lttng/ust-rs.h>` this library implements.
const ABI: u32 = 1;
/// Most events one provider may declare.
const MAX_EVENTS: u32 = 65536;

/// A C event whose provider is registered: its tracepoint, probe and signature.
struct Probe {
    tp: &'static Tracepoint,
    probe: usize,
    signature: String,
    /// The provider object that registered it (address).
    provider: usize,
}

#[derive(Default)]
struct State {
    probes: HashMap<(String, String), Probe>,
    /// Registered call sites (addresses of `Callsite`s), connected or not.
    callsites: Vec<usize>,
    warned_signature: bool,
}

static STATE: Mutex<Option<State>> = Mutex::new(None);

fn with_state<R>(f: impl FnOnce(&mut State) -> R) -> R {
    let mut g = STATE.lock().unwrap_or_else(|e| e.into_inner());
    f(g.get_or_insert_with(State::default))
}

/// The text of a C string (lossy), or empty for NULL.
///
/// # Safety
///
/// `p` is NULL or a NUL-terminated string.
unsafe fn text(p: *const c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    // SAFETY: the caller promises a NUL-terminated string.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

/// Reads a C event description.
///
/// # Safety
///
/// `e` points to a description as the headers generate it.
unsafe fn read_event(e: &Event) -> RawEvent {
    // SAFETY: pointers of a generated description are NULL or valid, and its arrays
    // hold the counts they give (the whole block reads only those).
    unsafe {
        let loglevel = (!e.loglevel.is_null()).then(|| *e.loglevel);
        let model_emf_uri = (!e.model_emf_uri.is_null()).then(|| text(*e.model_emf_uri));
        let mut fields = Vec::with_capacity(e.nr_fields.min(1024) as usize);
        for i in 0..e.nr_fields.min(1024) as usize {
            let f = &*e.fields.add(i);
            let mut entries = Vec::new();
            if !f.enum_desc.is_null() {
                let en = &*f.enum_desc;
                for j in 0..en.count.min(proto::event::limits::ENUM_LABELS as u32 + 1) as usize {
                    let x = &*en.entries.add(j);
                    entries.push((text(x.label), x.start, x.end, x.is_auto != 0));
                }
            }
            fields.push(RawField {
                name: text(f.name),
                kind: f.kind,
                size: f.size,
                signed: f.is_signed != 0,
                base: f.base,
                network: f.network != 0,
                text: f.text != 0,
                length_size: f.length_size,
                length_signed: f.length_signed != 0,
                length: f.length,
                entries,
            });
        }
        if e.nr_fields > 1024 {
            // More than the limit: keep one too many so that validation refuses it.
            fields.truncate(proto::event::limits::FIELDS + 1);
        }
        RawEvent {
            provider: text(e.provider),
            name: text(e.name),
            loglevel,
            model_emf_uri,
            fields,
        }
    }
}

/// Registers a provider's events; 0 on success, -1 if refused (said on stderr; the
/// program goes on without them).
///
/// # Safety
///
/// `p` points to a provider description generated by the tracepoint headers.
#[no_mangle]
pub unsafe extern "C" fn lttng_ust_rs_provider_register(p: *const Provider) -> c_int {
    libust::init();
    if p.is_null() {
        return -1;
    }
    // SAFETY: the caller passes a generated provider description.
    let prov = unsafe { &*p };
    // SAFETY: as above.
    let name = unsafe { text(prov.name) };
    let refuse = |why: String| {
        eprintln!(
            "liblttng_ust_rs: provider '{name}' refused: {why}; the program goes on without its events"
        );
        -1
    };
    if prov.abi != ABI || (prov.struct_size as usize) < std::mem::size_of::<Provider>() {
        return refuse(format!(
            "it was built for tracepoint ABI {}, this library implements {ABI}",
            prov.abi
        ));
    }
    if prov.nr_events > MAX_EVENTS {
        return refuse(format!(
            "it declares {} events (at most {MAX_EVENTS})",
            prov.nr_events
        ));
    }
    let mut descs = Vec::with_capacity(prov.nr_events as usize);
    let mut probes = Vec::with_capacity(prov.nr_events as usize);
    for i in 0..prov.nr_events as usize {
        // SAFETY: the array holds nr_events pointers to generated descriptions.
        let e = unsafe { &**prov.events.add(i) };
        if (e.struct_size as usize) < std::mem::size_of::<Event>() {
            return refuse("an event description is too short for this library".into());
        }
        // SAFETY: a generated description.
        let raw = unsafe { read_event(e) };
        match desc::convert(&name, &raw) {
            Ok(d) => descs.push(d),
            Err(e) => return refuse(e.to_string()),
        }
        // SAFETY: as above.
        probes.push((e.probe as usize, unsafe { text(e.signature) }));
    }
    let tps = match libust::register_dynamic(descs) {
        Ok(t) => t,
        Err(e) => return refuse(e.to_string()),
    };
    with_state(|s| {
        for (tp, (probe, signature)) in tps.into_iter().zip(probes) {
            let key = (tp.provider().to_string(), tp.name().to_string());
            s.probes.insert(
                key,
                Probe {
                    tp,
                    probe,
                    signature,
                    provider: p as usize,
                },
            );
        }
        let callsites = s.callsites.clone();
        for cs in callsites {
            connect(s, cs);
        }
    });
    0
}

/// Disconnects a provider's events (its module is being unloaded).
///
/// # Safety
///
/// `p` is a provider passed to [`lttng_ust_rs_provider_register`].
#[no_mangle]
pub unsafe extern "C" fn lttng_ust_rs_provider_unregister(p: *const Provider) {
    with_state(|s| {
        let gone: Vec<(String, String)> = s
            .probes
            .iter()
            .filter(|(_, pr)| pr.provider == p as usize)
            .map(|(k, _)| k.clone())
            .collect();
        for key in gone {
            let Some(pr) = s.probes.remove(&key) else {
                continue;
            };
            for &cs in &s.callsites {
                // SAFETY: registered call sites are valid until unregistered.
                let c = unsafe { &*(cs as *const Callsite) };
                if c.data.load(Ordering::Acquire) == pr.tp as *const Tracepoint as *mut c_void {
                    disconnect(pr.tp, c);
                }
            }
        }
    });
}

/// Connects call site `cs` to its event's probe, if registered with the same
/// argument signature.
fn connect(s: &mut State, cs: usize) {
    // SAFETY: registered call sites are valid until unregistered.
    let c = unsafe { &*(cs as *const Callsite) };
    if !c.probe.load(Ordering::Acquire).is_null() {
        return;
    }
    // SAFETY: generated call sites hold NUL-terminated names.
    let key = unsafe { (text(c.provider), text(c.name)) };
    let Some(pr) = s.probes.get(&key) else {
        return;
    };
    // SAFETY: as above.
    if unsafe { text(c.signature) } != pr.signature {
        if !s.warned_signature {
            s.warned_signature = true;
            eprintln!(
                "liblttng_ust_rs: tracepoint {}:{}: the call site's arguments differ from the provider's; not enabling it (rebuild both with the same provider header)",
                key.0, key.1
            );
        }
        return;
    }
    c.data
        .store(pr.tp as *const Tracepoint as *mut c_void, Ordering::Release);
    c.probe.store(pr.probe as *mut c_void, Ordering::Release);
    // SAFETY: the state word lives as long as the call site is registered; it is
    // removed from the mirrors before the module goes (`disconnect`).
    unsafe { pr.tp.add_mirror(&c.state) };
}

fn disconnect(tp: &Tracepoint, c: &Callsite) {
    tp.remove_mirror(&c.state);
    c.state.store(0, Ordering::Release);
    c.probe.store(std::ptr::null_mut(), Ordering::Release);
}

/// Registers a module's call sites.
///
/// # Safety
///
/// `start` points to `count` pointers to call-site objects that stay valid until
/// [`lttng_ust_rs_callsites_unregister`].
#[no_mangle]
pub unsafe extern "C" fn lttng_ust_rs_callsites_register(
    start: *const *mut Callsite,
    count: usize,
) {
    libust::init();
    if start.is_null() {
        return;
    }
    with_state(|s| {
        for i in 0..count {
            // SAFETY: the caller passes `count` valid pointers (the module's section).
            let cs = unsafe { *start.add(i) } as usize;
            if cs == 0 || s.callsites.contains(&cs) {
                continue;
            }
            s.callsites.push(cs);
            connect(s, cs);
        }
    });
}

/// Forgets a module's call sites (it is being unloaded).
///
/// # Safety
///
/// As [`lttng_ust_rs_callsites_register`], with the same arguments.
#[no_mangle]
pub unsafe extern "C" fn lttng_ust_rs_callsites_unregister(
    start: *const *mut Callsite,
    count: usize,
) {
    if start.is_null() {
        return;
    }
    with_state(|s| {
        for i in 0..count {
            // SAFETY: as in `lttng_ust_rs_callsites_register`.
            let cs = unsafe { *start.add(i) } as usize;
            let Some(at) = s.callsites.iter().position(|&c| c == cs) else {
                continue;
            };
            s.callsites.swap_remove(at);
            // SAFETY: still valid: its module calls this before going away.
            let c = unsafe { &*(cs as *const Callsite) };
            let data = c.data.load(Ordering::Acquire);
            if !data.is_null() {
                // SAFETY: `data` was set by `connect` to a leaked tracepoint.
                disconnect(unsafe { &*(data as *const Tracepoint) }, c);
            }
        }
    });
}

/// Reserves an event of `event` (a call site's `data`) with a payload of
/// `payload_len` bytes: 1 if reserved (write at `slot.dst`), 0 if not recorded.
///
/// # Safety
///
/// `event` is the `data` of a connected call site; `slot` is writable.
#[no_mangle]
pub unsafe extern "C" fn lttng_ust_rs_reserve(
    event: *mut c_void,
    payload_len: usize,
    slot: *mut CSlot,
) -> c_int {
    if event.is_null() || slot.is_null() {
        return 0;
    }
    // SAFETY: a connected call site's data is a leaked tracepoint; the CSlot has room
    // and alignment for a Slot (asserted above), whose first field is `dst`.
    let (tp, s) = unsafe {
        let s = slot.cast::<Slot>();
        s.write(Slot::new());
        (&*(event as *const Tracepoint), &mut *s)
    };
    c_int::from(libust::begin_slot(tp, payload_len, s))
}

/// Commits the reserved event: 1 if it is reserved again in another channel (write
/// the payload again), 0 when done.
///
/// # Safety
///
/// `slot` was filled by [`lttng_ust_rs_reserve`] and its payload written.
#[no_mangle]
pub unsafe extern "C" fn lttng_ust_rs_commit(slot: *mut CSlot) -> c_int {
    if slot.is_null() {
        return 0;
    }
    // SAFETY: filled by lttng_ust_rs_reserve.
    let s = unsafe { &mut *slot.cast::<Slot>() };
    c_int::from(libust::next_slot(s))
}

/// The state word of `lttng_ust_tracef:event`, read by `lttng_ust_tracef()`.
#[no_mangle]
pub static lttng_ust_rs_tracef_state: AtomicI32 = AtomicI32::new(0);

/// The state words of the 15 `lttng_ust_tracelog:*` events, by log level.
#[no_mangle]
pub static lttng_ust_rs_tracelog_state: [AtomicI32; 15] = [const { AtomicI32::new(0) }; 15];

static TRACELOG: Mutex<Vec<&'static Tracepoint>> = Mutex::new(Vec::new());

/// Registers the tracelog events and makes the exported state words follow the
/// tracef and tracelog events.
pub(crate) fn init_builtin_events() {
    // SAFETY: the state words are statics.
    unsafe { libust::lttng_ust_tracef::TP.add_mirror(&lttng_ust_rs_tracef_state) };
    let text = IntType::new(8, true, Base::Dec).text();
    let descs: Vec<EventDesc> = LogLevel::ALL
        .iter()
        .map(|&l| EventDesc {
            provider: "lttng_ust_tracelog".into(),
            name: format!("LTTNG_UST_TRACEPOINT_LOGLEVEL_{}", l.name()),
            loglevel: l,
            model_emf_uri: None,
            fields: vec![
                FieldDesc {
                    name: "line".into(),
                    ty: FieldType::Integer(IntType::new(32, true, Base::Dec)),
                },
                FieldDesc {
                    name: "file".into(),
                    ty: FieldType::String,
                },
                FieldDesc {
                    name: "func".into(),
                    ty: FieldType::String,
                },
                FieldDesc {
                    name: "msg".into(),
                    ty: FieldType::Sequence {
                        elem: text,
                        length: IntType::new(32, false, Base::Dec),
                    },
                },
            ],
        })
        .collect();
    match libust::register_dynamic(descs) {
        Ok(tps) => {
            for (i, tp) in tps.iter().enumerate() {
                // SAFETY: the state words are statics.
                unsafe { tp.add_mirror(&lttng_ust_rs_tracelog_state[i]) };
            }
            *TRACELOG.lock().unwrap_or_else(|e| e.into_inner()) = tps;
        }
        Err(e) => eprintln!("liblttng_ust_rs: the tracelog events are not available: {e}"),
    }
}

/// Records a `tracef` message of `len` bytes.
///
/// # Safety
///
/// `msg` points to `len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn lttng_ust_rs_tracef_record(msg: *const c_char, len: usize) {
    if msg.is_null() {
        return;
    }
    // SAFETY: the caller passes `len` readable bytes.
    let bytes = unsafe { std::slice::from_raw_parts(msg.cast::<u8>(), len) };
    libust::lttng_ust_tracef::emit(libust::field::Text(bytes));
}

/// Records a `tracelog` message.
///
/// # Safety
///
/// `file` and `func` are NUL-terminated (or NULL); `msg` points to `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn lttng_ust_rs_tracelog_record(
    level: c_int,
    file: *const c_char,
    line: c_int,
    func: *const c_char,
    msg: *const c_char,
    len: usize,
) {
    let Some(tp) = usize::try_from(level)
        .ok()
        .and_then(|l| TRACELOG.lock().ok()?.get(l).copied())
    else {
        return;
    };
    let cstr = |p: *const c_char| -> &[u8] {
        if p.is_null() {
            return b"";
        }
        // SAFETY: the caller passes NUL-terminated strings.
        unsafe { CStr::from_ptr(p) }.to_bytes()
    };
    let (file, func) = (cstr(file), cstr(func));
    let msg: &[u8] = if msg.is_null() {
        b""
    } else {
        // SAFETY: the caller passes `len` readable bytes.
        unsafe { std::slice::from_raw_parts(msg.cast::<u8>(), len.min(u32::MAX as usize)) }
    };
    let parts: [&[u8]; 7] = [
        &line.to_le_bytes(),
        file,
        b"\0",
        func,
        b"\0",
        &(msg.len() as u32).to_le_bytes(),
        msg,
    ];
    let total: usize = parts.iter().map(|p| p.len()).sum();
    let mut slot = Slot::new();
    let mut more = libust::begin_slot(tp, total, &mut slot);
    while more {
        let mut dst = slot.dst;
        for p in parts {
            // SAFETY: the slot holds `total` writable bytes at `dst`, and the parts
            // add up to `total`.
            unsafe {
                std::ptr::copy_nonoverlapping(p.as_ptr(), dst, p.len());
                dst = dst.add(p.len());
            }
        }
        more = libust::next_slot(&mut slot);
    }
}
