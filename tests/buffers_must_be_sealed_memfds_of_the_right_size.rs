//! The reader side accepts only a memfd sealed against shrinking and growing (so the
//! writer cannot truncate it under the reader: no SIGBUS) and of exactly the size the
//! buffer geometry implies.

use std::os::fd::{AsFd, OwnedFd};

use proto::ring::layout::StreamIdentity;
use proto::ring::reader::RingReader;
use proto::ring::shm::ShmError;
use proto::ring::writer::RingWriter;
use proto::ring::{BufferConfig, Mode};

const ID: StreamIdentity = StreamIdentity {
    uuid: [0; 16],
    stream_id: 0,
    stream_instance_id: 0,
    cpu_id: 0,
};

const CFG: BufferConfig = BufferConfig {
    subbuf_size: 4096,
    num_subbuf: 4,
    mode: Mode::Discard,
};

#[test]
fn an_unsealed_memfd_is_refused() {
    let mfd = memfd::MemfdOptions::default()
        .allow_sealing(true)
        .create("unsealed")
        .unwrap();
    mfd.as_file().set_len(CFG.shm_size() as u64).unwrap();
    let fd = OwnedFd::from(mfd.into_file());
    let err = RingReader::open(fd.as_fd(), CFG, ID).unwrap_err();
    assert!(matches!(err, ShmError::WrongSeals { .. }), "{err}");
}

#[test]
fn a_wrongly_sized_memfd_is_refused() {
    let (_w, fd) = RingWriter::create(c"sized", CFG, ID, None).unwrap();
    let bigger = BufferConfig {
        num_subbuf: 8,
        ..CFG
    };
    let err = RingReader::open(fd.as_fd(), bigger, ID).unwrap_err();
    assert!(matches!(err, ShmError::WrongSize { .. }), "{err}");
}

#[test]
fn a_regular_file_is_refused() {
    let f = std::fs::File::open("/proc/self/exe").unwrap();
    let err = RingReader::open(f.as_fd(), CFG, ID).unwrap_err();
    assert!(matches!(err, ShmError::NotMemfd(_)), "{err}");
}

#[test]
fn the_writer_cannot_truncate_a_sealed_buffer() {
    let (_w, fd) = RingWriter::create(c"trunc", CFG, ID, None).unwrap();
    let reader = RingReader::open(fd.as_fd(), CFG, ID).unwrap();
    let f = std::fs::File::from(fd);
    let err = f.set_len(4096).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EPERM));
    drop(reader);
}
