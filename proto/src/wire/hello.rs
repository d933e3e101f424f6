//! The hello: the one message that every release of the tracer reads alike.
//!
//! After a package upgrade, a new `lttng` may meet a session daemon still running the
//! old release (or an old `lttng` a new daemon, an old daemon a new consumer). Their
//! messages may differ in everything but this: in each protocol the first message and
//! its answer are variant 0 of their enum and begin with the protocol version, which
//! postcard writes as two varints. A receiver reads those two numbers before it
//! decodes anything else ([`version_of`], [`super::socket::recv_hello`]), so that a
//! peer of another release is told so in words, never answered "malformed message"
//! nor misread. The refusals keep their variants too, so that the text of one reaches
//! the peer's user. The tests pin all of these encodings: changing one breaks every
//! mixed pair of releases.

/// The protocol version a hello carries, or `None` if `bytes` are not a hello (not
/// variant 0, or too short to say).
pub fn version_of(bytes: &[u8]) -> Option<u32> {
    let (variant, rest) = varint(bytes)?;
    if variant != 0 {
        return None;
    }
    varint(rest).map(|(v, _)| v)
}

/// One postcard varint of a `u32`: at most five bytes of seven bits, low first.
fn varint(bytes: &[u8]) -> Option<(u32, &[u8])> {
    let mut value: u64 = 0;
    for (i, &b) in bytes.iter().take(5).enumerate() {
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return u32::try_from(value).ok().map(|v| (v, &bytes[i + 1..]));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::version_of;
    use crate::clock::Source;
    use crate::wire::app::{AppMessage, DaemonMessage};
    use crate::wire::consumer::{ConsumerReply, ConsumerRequest};
    use crate::wire::control::{Reply, Request};
    use crate::wire::privd::{PrivReply, PrivRequest};

    fn bytes<T: serde::Serialize>(m: &T) -> Vec<u8> {
        postcard::to_allocvec(m).unwrap()
    }

    /// If one of these fails, a release with the change cannot tell users of the
    /// previous one to restart their daemon: keep the variant, add new ones after.
    #[test]
    fn the_hellos_and_refusals_encode_alike_in_every_release() {
        let v = 300; // two varint bytes: 0xac 0x02
        let text = || "no".to_string();
        assert_eq!(bytes(&Request::Hello { version: v }), [0, 0xac, 2]);
        assert_eq!(bytes(&Reply::Hello { version: v, pid: 5 }), [0, 0xac, 2, 5]);
        assert_eq!(bytes(&Reply::Error(text())), [2, 2, b'n', b'o']);
        let app = AppMessage::Hello {
            version: v,
            pid: 5,
            procname: text(),
            tracepoints: 1,
        };
        assert_eq!(bytes(&app)[..3], [0, 0xac, 2]);
        let accepted = DaemonMessage::Accepted {
            version: v,
            clock: Source::Monotonic,
        };
        assert_eq!(bytes(&accepted)[..3], [0, 0xac, 2]);
        assert_eq!(bytes(&DaemonMessage::Refused(text())), [1, 2, b'n', b'o']);
        let hello = ConsumerRequest::Hello {
            version: v,
            clock: Source::Monotonic,
        };
        assert_eq!(bytes(&hello)[..3], [0, 0xac, 2]);
        let hello = ConsumerReply::Hello {
            version: v,
            sandboxed: true,
        };
        assert_eq!(bytes(&hello), [0, 0xac, 2, 1]);
        assert_eq!(bytes(&ConsumerReply::Error(text())), [2, 2, b'n', b'o']);
        assert_eq!(bytes(&PrivRequest::Hello { version: v }), [0, 0xac, 2]);
        assert_eq!(bytes(&PrivReply::Hello { version: v }), [0, 0xac, 2]);
        assert_eq!(bytes(&PrivReply::Denied(text())), [2, 2, b'n', b'o']);
        assert_eq!(bytes(&PrivReply::Error(text())), [3, 2, b'n', b'o']);
    }

    #[test]
    fn the_version_is_read_from_any_hello_and_nothing_else() {
        assert_eq!(version_of(&bytes(&Request::Hello { version: 7 })), Some(7));
        let app = AppMessage::Hello {
            version: 70000,
            pid: 1,
            procname: "p".into(),
            tracepoints: 0,
        };
        assert_eq!(version_of(&bytes(&app)), Some(70000));
        // A hello of a future release with fields this one does not know.
        assert_eq!(version_of(&[0, 9, 0xff, 0xff, 1, 2, 3]), Some(9));
        assert_eq!(version_of(&bytes(&Request::ListSessions)), None);
        assert_eq!(version_of(&bytes(&Reply::Error("x".into()))), None);
        for bad in [
            &[][..],
            &[0],
            &[0, 0x80],
            &[0, 0xff, 0xff, 0xff, 0xff, 0x7f],
            &[0x80],
        ] {
            assert_eq!(version_of(bad), None, "{bad:?}");
        }
        assert_eq!(
            version_of(&[0, 0xff, 0xff, 0xff, 0xff, 0x0f]),
            Some(u32::MAX)
        );
    }
}
