//! Decode plans: the metadata's type trees compiled once per trace into [`Node`] trees that
//! the decoder walks for every event.
//!
//! Compilation resolves everything that does not depend on the data: byte order (`native` →
//! the trace's), alignment, display names (one leading `_` stripped in the context and payload
//! scopes), which clock an integer updates, and the sequence-length and variant-tag
//! references. Every integer or enum gets a *slot*; the decoder stores each decoded integer
//! in its slot, so a sequence or variant reads its length or tag with one index instead of a
//! name lookup. References are resolved lexically (innermost struct first, then the outer
//! ones, then the other scopes of the event), or absolutely (`event.fields.len`,
//! `stream.event.context.x`...).

use std::sync::Arc;

use super::tsdl::{AstOrder, ByteOrder, Clock, EnumTy, IntTy, Metadata, MetadataError, Ty};
use super::value::IntFormat;

/// Most integer slots one trace may use.
const MAX_SLOTS: u32 = 1 << 22;

/// An integer as the decoder needs it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct IntDesc {
    pub(crate) size: u8,
    pub(crate) align: u32,
    pub(crate) signed: bool,
    pub(crate) le: bool,
    pub(crate) fmt: IntFormat,
}

/// What decoding an integer does besides producing a value.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Roles {
    /// Updates the stream clock (a clock-mapped integer other than `timestamp_end`).
    pub(crate) clock: bool,
    /// An `id` of the event header: the last one decoded is the event class id.
    pub(crate) event_id: bool,
}

#[derive(Debug)]
pub(crate) enum Node {
    Int {
        d: IntDesc,
        slot: u32,
        roles: Roles,
    },
    Enum {
        d: IntDesc,
        slot: u32,
        roles: Roles,
        /// `(first, last, label)`, inclusive ranges.
        map: Arc<[(i128, i128, Arc<str>)]>,
    },
    Float {
        align: u32,
        double: bool,
        le: bool,
    },
    Str,
    Struct {
        align: u32,
        names: Arc<[Arc<str>]>,
        fields: Box<[Node]>,
    },
    Variant {
        tag_slot: u32,
        tag_signed: bool,
        /// `(first, last, option index)` from the tag enum's labels.
        choices: Box<[(i128, i128, u32)]>,
        options: Box<[(Arc<str>, Node)]>,
    },
    Array {
        elem: Box<Node>,
        len: u64,
        /// 8-bit UTF-8 integers: decoded as a string (babeltrace2 does the same).
        text: bool,
    },
    Seq {
        elem: Box<Node>,
        len_slot: u32,
        len_signed: bool,
        text: bool,
    },
}

impl Node {
    /// Alignment in bits (a variant aligns as its selected option, so 1 here).
    pub(crate) fn align(&self) -> u32 {
        match self {
            Node::Int { d, .. } | Node::Enum { d, .. } => d.align,
            Node::Float { align, .. } | Node::Struct { align, .. } => *align,
            Node::Str => 8,
            Node::Variant { .. } => 1,
            Node::Array { elem, .. } | Node::Seq { elem, .. } => elem.align(),
        }
    }

    /// Smallest size in bits a value of this type can have (used to bound sequence lengths).
    pub(crate) fn min_bits(&self) -> u64 {
        match self {
            Node::Int { d, .. } | Node::Enum { d, .. } => u64::from(d.size),
            Node::Float { double, .. } => {
                if *double {
                    64
                } else {
                    32
                }
            }
            Node::Str => 8,
            Node::Struct { fields, .. } => fields
                .iter()
                .fold(0u64, |a, n| a.saturating_add(n.min_bits())),
            Node::Variant { options, .. } => {
                options.iter().map(|(_, n)| n.min_bits()).min().unwrap_or(0)
            }
            Node::Array { elem, len, .. } => elem.min_bits().saturating_mul(*len),
            Node::Seq { .. } => 0,
        }
    }
}

/// Slots of the named top-level fields of the packet header and context.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct KnownSlots {
    pub(crate) magic: Option<u32>,
    pub(crate) stream_id: Option<u32>,
    pub(crate) stream_instance_id: Option<u32>,
    pub(crate) timestamp_begin: Option<u32>,
    pub(crate) timestamp_end: Option<u32>,
    pub(crate) content_size: Option<u32>,
    pub(crate) packet_size: Option<u32>,
    pub(crate) packet_seq_num: Option<u32>,
    pub(crate) events_discarded: Option<u32>,
    pub(crate) cpu_id: Option<u32>,
}

#[derive(Debug)]
pub(crate) struct EventPlan {
    pub(crate) name: Arc<str>,
    pub(crate) context: Option<Node>,
    pub(crate) fields: Option<Node>,
}

#[derive(Debug)]
pub(crate) struct StreamPlan {
    pub(crate) id: u64,
    pub(crate) clock: Clock,
    pub(crate) packet_context: Option<Node>,
    pub(crate) slots: KnownSlots,
    pub(crate) event_header: Option<Node>,
    pub(crate) event_context: Option<Node>,
    /// The event classes, sorted by id (see [`StreamPlan::event`]).
    pub(crate) events: Vec<(u64, EventPlan)>,
    /// The only event class, used when the event header has no `id`.
    pub(crate) single_event: Option<u64>,
}

impl StreamPlan {
    /// The event class with this id.
    #[inline]
    pub(crate) fn event(&self, id: u64) -> Option<&EventPlan> {
        let i = self.events.binary_search_by_key(&id, |(k, _)| *k).ok()?;
        self.events.get(i).map(|(_, e)| e)
    }
}

/// Everything needed to decode the streams of one trace.
#[derive(Debug)]
pub(crate) struct TracePlan {
    pub(crate) packet_header: Option<Node>,
    pub(crate) slots: KnownSlots,
    pub(crate) streams: Vec<StreamPlan>,
    pub(crate) slot_count: usize,
}

impl TracePlan {
    pub(crate) fn stream(&self, id: Option<u64>) -> Option<&StreamPlan> {
        match id {
            Some(id) => self.streams.iter().find(|s| s.id == id),
            None if self.streams.len() == 1 => self.streams.first(),
            None => None,
        }
    }
}

#[derive(Debug, Clone)]
enum Info {
    Int {
        slot: u32,
        signed: bool,
    },
    Enum {
        slot: u32,
        signed: bool,
        ty: Arc<EnumTy>,
    },
    Struct(Vec<(String, Info)>),
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    PacketHeader,
    PacketContext,
    EventHeader,
    StreamEventContext,
    EventContext,
    Fields,
}

impl Scope {
    fn prefix(self) -> &'static str {
        match self {
            Scope::PacketHeader => "trace.packet.header",
            Scope::PacketContext => "stream.packet.context",
            Scope::EventHeader => "stream.event.header",
            Scope::StreamEventContext => "stream.event.context",
            Scope::EventContext => "event.context",
            Scope::Fields => "event.fields",
        }
    }

    fn strips_underscore(self) -> bool {
        matches!(
            self,
            Scope::StreamEventContext | Scope::EventContext | Scope::Fields
        )
    }
}

struct Compiler<'a> {
    order: ByteOrder,
    clocks: &'a [Clock],
    next_slot: u32,
    /// Finished root scopes, searched after the lexical ones.
    roots: Vec<(Scope, Info)>,
    /// Open structs, innermost last.
    lexical: Vec<Vec<(String, Info)>>,
    scope: Scope,
    /// First clock a packet-context or event-header integer maps to.
    stream_clock: Option<String>,
}

fn invalid(msg: String) -> MetadataError {
    MetadataError::Invalid(msg)
}

pub(crate) fn compile(md: &Metadata) -> Result<TracePlan, MetadataError> {
    let mut c = Compiler {
        order: md.byte_order,
        clocks: &md.clocks,
        next_slot: 0,
        roots: Vec::new(),
        lexical: Vec::new(),
        scope: Scope::PacketHeader,
        stream_clock: None,
    };
    let packet_header = c.root(Scope::PacketHeader, md.packet_header.as_ref())?;
    let mut slots = KnownSlots::default();
    let header_info = c.roots.clone();
    slots.magic = top_slot(&header_info, "magic");
    slots.stream_id = top_slot(&header_info, "stream_id");
    slots.stream_instance_id = top_slot(&header_info, "stream_instance_id");

    let mut stream_classes: Vec<_> = md.streams.iter().collect();
    // No stream block: events belong to an implicit stream class 0.
    let implicit = super::tsdl::StreamClass {
        id: 0,
        event_header: None,
        packet_context: None,
        event_context: None,
    };
    if stream_classes.is_empty() {
        stream_classes.push(&implicit);
    }
    let mut streams = Vec::new();
    for sc in stream_classes {
        if streams.iter().any(|s: &StreamPlan| s.id == sc.id) {
            return Err(invalid(format!("duplicate stream class id {}", sc.id)));
        }
        c.roots.truncate(1);
        c.stream_clock = None;
        let packet_context = c.root(Scope::PacketContext, sc.packet_context.as_ref())?;
        let mut s = slots;
        {
            let ctx = &c.roots[1..];
            s.timestamp_begin = top_slot(ctx, "timestamp_begin");
            s.timestamp_end = top_slot(ctx, "timestamp_end");
            s.content_size = top_slot(ctx, "content_size");
            s.packet_size = top_slot(ctx, "packet_size");
            s.packet_seq_num = top_slot(ctx, "packet_seq_num");
            s.events_discarded = top_slot(ctx, "events_discarded");
            s.cpu_id = top_slot(ctx, "cpu_id");
        }
        let event_header = c.root(Scope::EventHeader, sc.event_header.as_ref())?;
        let event_context = c.root(Scope::StreamEventContext, sc.event_context.as_ref())?;
        let clock = match &c.stream_clock {
            Some(name) => c
                .clocks
                .iter()
                .find(|k| &k.name == name)
                .cloned()
                .ok_or_else(|| invalid(format!("integer mapped to unknown clock {name:?}")))?,
            None if c.clocks.len() == 1 => c.clocks[0].clone(),
            None => Clock::default_clock(),
        };
        let stream_roots = c.roots.len();
        let mut events: Vec<(u64, EventPlan)> = Vec::new();
        for ev in md.events.iter().filter(|e| e.stream_id == sc.id) {
            c.roots.truncate(stream_roots);
            let context = c.root(Scope::EventContext, ev.context.as_ref())?;
            let fields = c.root(Scope::Fields, ev.fields.as_ref())?;
            let plan = EventPlan {
                name: ev.name.as_str().into(),
                context,
                fields,
            };
            events.push((ev.id, plan));
        }
        events.sort_by_key(|(id, _)| *id);
        if let Some(w) = events.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(invalid(format!(
                "duplicate event id {} in stream class {}",
                w[0].0, sc.id
            )));
        }
        let single_event = match events.as_slice() {
            [(id, _)] => Some(*id),
            _ => None,
        };
        streams.push(StreamPlan {
            id: sc.id,
            clock,
            packet_context,
            slots: s,
            event_header,
            event_context,
            events,
            single_event,
        });
    }
    Ok(TracePlan {
        packet_header,
        slots,
        streams,
        slot_count: c.next_slot as usize,
    })
}

fn top_slot(roots: &[(Scope, Info)], name: &str) -> Option<u32> {
    let (_, Info::Struct(fields)) = roots.last()? else {
        return None;
    };
    fields
        .iter()
        .rev()
        .find(|(n, _)| n == name)
        .and_then(|(_, i)| match i {
            Info::Int { slot, .. } | Info::Enum { slot, .. } => Some(*slot),
            _ => None,
        })
}

impl Compiler<'_> {
    fn root(&mut self, scope: Scope, ty: Option<&Ty>) -> Result<Option<Node>, MetadataError> {
        self.scope = scope;
        let Some(ty) = ty else {
            self.roots.push((scope, Info::Other));
            return Ok(None);
        };
        if !matches!(ty, Ty::Struct(_)) {
            return Err(invalid(format!("{} is not a struct", scope.prefix())));
        }
        self.lexical.clear();
        let (node, info) = self.node(ty, "", 0)?;
        self.roots.push((scope, info));
        Ok(Some(node))
    }

    fn slot(&mut self) -> Result<u32, MetadataError> {
        let s = self.next_slot;
        if s >= MAX_SLOTS {
            return Err(MetadataError::TooLarge {
                what: "number of integer fields",
                limit: u64::from(MAX_SLOTS),
            });
        }
        self.next_slot += 1;
        Ok(s)
    }

    fn int_desc(&self, t: &IntTy) -> IntDesc {
        let le = match t.order {
            AstOrder::Native => self.order == ByteOrder::Little,
            AstOrder::Fixed(o) => o == ByteOrder::Little,
        };
        IntDesc {
            size: t.size as u8,
            align: t.align,
            signed: t.signed,
            le,
            fmt: IntFormat {
                base: t.base,
                size: t.size as u8,
            },
        }
    }

    fn roles(&mut self, t: &IntTy, name: &str, depth: u32) -> Roles {
        let mut map = t.map.clone();
        let well_known_time = match self.scope {
            Scope::EventHeader => name == "timestamp",
            Scope::PacketContext => {
                depth == 1 && (name == "timestamp_begin" || name == "timestamp_end")
            }
            _ => false,
        };
        if map.is_none() && well_known_time && self.clocks.len() == 1 {
            map = Some(self.clocks[0].name.clone());
        }
        if let Some(m) = &map {
            if matches!(self.scope, Scope::PacketContext | Scope::EventHeader)
                && self.stream_clock.is_none()
            {
                self.stream_clock = Some(m.clone());
            }
        }
        let is_end = self.scope == Scope::PacketContext && depth == 1 && name == "timestamp_end";
        Roles {
            clock: map.is_some() && !is_end,
            event_id: self.scope == Scope::EventHeader && name == "id",
        }
    }

    /// Compiles one type; `depth` is 1 for the fields of a root struct.
    fn node(&mut self, ty: &Ty, name: &str, depth: u32) -> Result<(Node, Info), MetadataError> {
        if depth > super::tsdl::MAX_DEPTH * 2 {
            return Err(MetadataError::TooDeep {
                line: 0,
                limit: super::tsdl::MAX_DEPTH,
            });
        }
        Ok(match ty {
            Ty::Int(t) => {
                let slot = self.slot()?;
                let roles = self.roles(t, name, depth);
                (
                    Node::Int {
                        d: self.int_desc(t),
                        slot,
                        roles,
                    },
                    Info::Int {
                        slot,
                        signed: t.signed,
                    },
                )
            }
            Ty::Enum(e) => {
                let slot = self.slot()?;
                let roles = self.roles(&e.container, name, depth);
                let map: Arc<[(i128, i128, Arc<str>)]> = e
                    .entries
                    .iter()
                    .map(|(l, a, b)| (*a, *b, l.clone()))
                    .collect();
                (
                    Node::Enum {
                        d: self.int_desc(&e.container),
                        slot,
                        roles,
                        map,
                    },
                    Info::Enum {
                        slot,
                        signed: e.container.signed,
                        ty: e.clone(),
                    },
                )
            }
            Ty::Float(f) => {
                let le = match f.order {
                    AstOrder::Native => self.order == ByteOrder::Little,
                    AstOrder::Fixed(o) => o == ByteOrder::Little,
                };
                (
                    Node::Float {
                        align: f.align,
                        double: f.mant_dig == 53,
                        le,
                    },
                    Info::Other,
                )
            }
            Ty::Str => (Node::Str, Info::Other),
            Ty::Struct(s) => {
                self.lexical.push(Vec::new());
                let mut fields = Vec::with_capacity(s.fields.len());
                let mut align = s.align.max(1);
                for f in &s.fields {
                    let (node, info) = match self.node(&f.ty, &f.name, depth + 1) {
                        Ok(x) => x,
                        Err(e) => {
                            self.lexical.pop();
                            return Err(e);
                        }
                    };
                    align = align.max(node.align());
                    if let Some(top) = self.lexical.last_mut() {
                        top.push((f.name.clone(), info));
                    }
                    fields.push((self.display_name(&f.name), node));
                }
                let infos = self.lexical.pop().unwrap_or_default();
                let (names, fields): (Vec<Arc<str>>, Vec<Node>) = fields.into_iter().unzip();
                (
                    Node::Struct {
                        align,
                        names: names.into(),
                        fields: fields.into_boxed_slice(),
                    },
                    Info::Struct(infos),
                )
            }
            Ty::Variant(v) => {
                let tag = v.tag.as_deref().ok_or_else(|| {
                    invalid(format!(
                        "variant {name:?} has no tag (untagged variants are not supported)"
                    ))
                })?;
                let (tag_slot, tag_signed, tag_ty) = match self.resolve(tag) {
                    Some(Info::Enum { slot, signed, ty }) => (slot, signed, ty),
                    Some(_) => {
                        return Err(invalid(format!(
                            "variant {name:?}: tag {tag:?} is not an enumeration"
                        )))
                    }
                    None => {
                        return Err(invalid(format!(
                            "variant {name:?}: tag {tag:?} not found in an enclosing scope"
                        )))
                    }
                };
                let mut options = Vec::with_capacity(v.options.len());
                for o in &v.options {
                    let (node, _) = self.node(&o.ty, &o.name, depth + 1)?;
                    options.push((o.name.clone(), node));
                }
                let strip = |s: &str| s.strip_prefix('_').unwrap_or(s).to_string();
                let mut choices = Vec::new();
                for (label, lo, hi) in &tag_ty.entries {
                    let found = options
                        .iter()
                        .position(|(n, _)| n == &**label)
                        .or_else(|| options.iter().position(|(n, _)| strip(n) == strip(label)));
                    if let Some(i) = found {
                        choices.push((*lo, *hi, i as u32));
                    }
                }
                let options = options
                    .into_iter()
                    .map(|(n, node)| (self.display_name(&n), node))
                    .collect();
                (
                    Node::Variant {
                        tag_slot,
                        tag_signed,
                        choices: choices.into_boxed_slice(),
                        options,
                    },
                    Info::Other,
                )
            }
            Ty::Array(elem, len) => {
                let (e, _) = self.node(elem, name, depth + 1)?;
                let text = is_text(elem);
                (
                    Node::Array {
                        elem: Box::new(e),
                        len: *len,
                        text,
                    },
                    Info::Other,
                )
            }
            Ty::Seq(elem, path) => {
                let (len_slot, len_signed) = match self.resolve(path) {
                    Some(Info::Int { slot, signed }) | Some(Info::Enum { slot, signed, .. }) => {
                        (slot, signed)
                    }
                    Some(_) => {
                        return Err(invalid(format!(
                            "sequence {name:?}: length {path:?} is not an integer"
                        )))
                    }
                    None => {
                        return Err(invalid(format!(
                            "sequence {name:?}: length field {path:?} not found before it"
                        )))
                    }
                };
                let (e, _) = self.node(elem, name, depth + 1)?;
                (
                    Node::Seq {
                        elem: Box::new(e),
                        len_slot,
                        len_signed,
                        text: is_text(elem),
                    },
                    Info::Other,
                )
            }
        })
    }

    fn display_name(&self, raw: &str) -> Arc<str> {
        if self.scope.strips_underscore() {
            raw.strip_prefix('_').unwrap_or(raw).into()
        } else {
            raw.into()
        }
    }

    /// Finds the integer or enum a sequence length or variant tag refers to.
    fn resolve(&self, path: &str) -> Option<Info> {
        for scope in [
            Scope::Fields,
            Scope::EventContext,
            Scope::StreamEventContext,
            Scope::EventHeader,
            Scope::PacketContext,
            Scope::PacketHeader,
        ] {
            if let Some(rest) = path
                .strip_prefix(scope.prefix())
                .and_then(|r| r.strip_prefix('.'))
            {
                if scope == self.scope {
                    // Absolute path into the scope being compiled: the open structs.
                    return self.lexical.first().and_then(|root| lookup(root, rest));
                }
                let (_, info) = self.roots.iter().rev().find(|(s, _)| *s == scope)?;
                let Info::Struct(fields) = info else {
                    return None;
                };
                return lookup(fields, rest);
            }
        }
        for open in self.lexical.iter().rev() {
            if let Some(i) = lookup(open, path) {
                return Some(i);
            }
        }
        for (_, info) in self.roots.iter().rev() {
            if let Info::Struct(fields) = info {
                if let Some(i) = lookup(fields, path) {
                    return Some(i);
                }
            }
        }
        None
    }
}

fn lookup(fields: &[(String, Info)], path: &str) -> Option<Info> {
    let mut current: &[(String, Info)] = fields;
    let mut found: Option<&Info> = None;
    for part in path.split('.') {
        if let Some(info) = found {
            let Info::Struct(inner) = info else {
                return None;
            };
            current = inner;
        }
        found = Some(&current.iter().rev().find(|(n, _)| n == part)?.1);
    }
    found.cloned()
}

fn is_text(elem: &Ty) -> bool {
    matches!(elem, Ty::Int(i) if i.size == 8 && i.utf8 && i.align % 8 == 0)
}
