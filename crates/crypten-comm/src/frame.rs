//! The wire format shared by every communicator.
//!
//! A frame is a fixed header, the operation name and the raw payload:
//!
//! ```text
//! magic "CRY" | version u8 | channel u32 LE | sequence u32 LE | op-name length u8 |
//! payload length u64 LE | op name | payload
//! ```
//!
//! The channel names the computation a frame belongs to (`CommConfig::channel`), so that one
//! process (a worker) can later carry several computations; a frame for another channel is
//! refused. The sequence number counts frames per direction of each pair of endpoints,
//! starting at 0, modulo 2^32 (it detects a peer that is ahead or behind, not a wrap).
//! Together with the operation name it lets a receiver tell "the peer runs another program"
//! (`Error::Diverged`) apart from "the bytes are damaged" (`Error::Malformed`). The in-memory
//! communicator never serialises frames, but it checks and counts them with the same rules, so
//! both implementations report identical statistics for identical traffic.

use crate::{Error, Result};
use std::fmt;
use std::io::{self, Read};

/// Bytes of the fixed part of every frame header (magic, version, channel, sequence number,
/// op-name length, payload length); the op name and the payload follow it.
pub const FRAME_HEADER_BYTES: usize = 3 + 1 + 4 + 4 + 1 + 8;

/// The longest operation name, in bytes of UTF-8, that a frame can carry.
pub const MAX_OP_NAME: usize = 64;

/// Identifies the protocol and its version; a peer speaking anything else fails fast.
const MAGIC: [u8; 4] = *b"CRY\x02";

/// Largest header plus op name, used to build the head of an outgoing frame without
/// allocating.
pub(crate) const MAX_HEAD_BYTES: usize = FRAME_HEADER_BYTES + MAX_OP_NAME;

/// One decoded frame.
#[derive(Debug)]
pub(crate) struct Frame {
    pub(crate) channel: u32,
    /// The sequence number, modulo 2^32.
    pub(crate) seq: u32,
    pub(crate) op: String,
    pub(crate) payload: Vec<u8>,
}

/// The fixed header of a frame, after validation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Header {
    pub(crate) channel: u32,
    pub(crate) seq: u32,
    pub(crate) op_len: usize,
    pub(crate) payload_len: u64,
}

/// Why a frame could not be decoded. It does not know the peer or the operation in progress
/// (the reader thread decoding it knows neither), so [`FrameError::into_error`] adds them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FrameError {
    BadMagic([u8; 4]),
    OpNameTooLong(usize),
    Oversize { len: u64, max: u64 },
    OpNameNotUtf8,
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadMagic(m) => write!(f, "bad magic {m:02x?} (expected {MAGIC:02x?})"),
            Self::OpNameTooLong(n) => {
                write!(f, "op name of {n} bytes (at most {MAX_OP_NAME} allowed)")
            }
            Self::Oversize { len, max } => {
                write!(f, "payload of {len} bytes exceeds the limit of {max} bytes")
            }
            Self::OpNameNotUtf8 => write!(f, "op name is not valid UTF-8"),
        }
    }
}

impl FrameError {
    /// The crate error for this decoding failure on the link to `peer` while receiving `op`.
    pub(crate) fn into_error(self, peer: usize, op: &str) -> Error {
        Error::Malformed {
            peer,
            op: op.to_owned(),
            reason: self.to_string(),
        }
    }
}

/// Fails with `Error::InvalidOp` if `op` cannot be carried by a frame.
/// The operation name of the frame a party sends every peer when it gives up
/// ([`Communicator::abort`](crate::Communicator::abort)); its payload is the reason.
pub(crate) const ABORT_OP: &str = "!abort";

/// The operation name of the empty frame a writer sends when its link has been idle for a
/// while: proof that the peer's process is alive, so that only a silent peer times out. The
/// reader drops it; it takes no sequence number and is not counted in the statistics.
pub(crate) const KEEPALIVE_OP: &str = "!keepalive";

/// The most bytes of a peer's abort reason that are kept.
const MAX_ABORT_REASON: usize = 512;

/// A peer's abort reason as printable text: it comes from the network, so it is cut short and
/// control characters (terminal escapes) are replaced.
pub(crate) fn abort_reason(payload: &[u8]) -> String {
    let cut = &payload[..payload.len().min(MAX_ABORT_REASON)];
    String::from_utf8_lossy(cut)
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

pub(crate) fn check_op_name(op: &str) -> Result<()> {
    if op == KEEPALIVE_OP {
        return Err(Error::ReservedOp { op: op.to_owned() });
    }
    if op.len() > MAX_OP_NAME {
        return Err(Error::InvalidOp {
            op: op.to_owned(),
            len: op.len(),
            max: MAX_OP_NAME,
        });
    }
    Ok(())
}

/// Bytes a frame for `op` with a payload of `payload_len` bytes occupies on the wire. Both
/// communicators count traffic with this formula.
pub(crate) fn wire_bytes(op: &str, payload_len: usize) -> u64 {
    (FRAME_HEADER_BYTES + op.len() + payload_len) as u64
}

/// Encodes the header and op name of a frame into a fixed buffer; returns it with its used
/// length. The caller has checked `op` with [`check_op_name`].
pub(crate) fn encode_head(
    channel: u32,
    seq: u64,
    op: &str,
    payload_len: u64,
) -> ([u8; MAX_HEAD_BYTES], usize) {
    debug_assert!(op.len() <= MAX_OP_NAME);
    let mut head = [0u8; MAX_HEAD_BYTES];
    head[0..4].copy_from_slice(&MAGIC);
    head[4..8].copy_from_slice(&channel.to_le_bytes());
    // The wire carries the count modulo 2^32.
    head[8..12].copy_from_slice(&(seq as u32).to_le_bytes());
    // The op name is at most MAX_OP_NAME (64) bytes, so it fits a u8.
    head[12] = op.len() as u8;
    head[13..21].copy_from_slice(&payload_len.to_le_bytes());
    let end = FRAME_HEADER_BYTES + op.len();
    head[FRAME_HEADER_BYTES..end].copy_from_slice(op.as_bytes());
    (head, end)
}

/// Encodes a whole frame into one buffer. Used for small control frames; data frames are
/// written head-then-payload so the payload is never copied.
pub(crate) fn encode_frame(channel: u32, seq: u64, op: &str, payload: &[u8]) -> Vec<u8> {
    let (head, head_len) = encode_head(channel, seq, op, payload.len() as u64);
    let mut out = Vec::with_capacity(head_len + payload.len());
    out.extend_from_slice(&head[..head_len]);
    out.extend_from_slice(payload);
    out
}

/// Decodes and validates the fixed header of a frame read from an untrusted peer.
pub(crate) fn decode_header(
    bytes: &[u8; FRAME_HEADER_BYTES],
    max_payload: u64,
) -> std::result::Result<Header, FrameError> {
    let magic: [u8; 4] = field(bytes, 0);
    if magic != MAGIC {
        return Err(FrameError::BadMagic(magic));
    }
    let channel = u32::from_le_bytes(field(bytes, 4));
    let seq = u32::from_le_bytes(field(bytes, 8));
    let op_len = usize::from(bytes[12]);
    if op_len > MAX_OP_NAME {
        return Err(FrameError::OpNameTooLong(op_len));
    }
    let payload_len = u64::from_le_bytes(field(bytes, 13));
    if payload_len > max_payload {
        return Err(FrameError::Oversize {
            len: payload_len,
            max: max_payload,
        });
    }
    Ok(Header {
        channel,
        seq,
        op_len,
        payload_len,
    })
}

/// The `N` bytes of a header starting at `at` (constant offsets within the fixed header).
fn field<const N: usize>(bytes: &[u8; FRAME_HEADER_BYTES], at: usize) -> [u8; N] {
    let mut out = [0u8; N];
    out.copy_from_slice(&bytes[at..at + N]);
    out
}

/// Decodes an op name received from an untrusted peer.
pub(crate) fn decode_op(bytes: Vec<u8>) -> std::result::Result<String, FrameError> {
    String::from_utf8(bytes).map_err(|_| FrameError::OpNameNotUtf8)
}

/// Why [`read_frame`] failed.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// The bytes are not a valid frame.
    Malformed(FrameError),
    /// The connection failed; a frame cut short reports `UnexpectedEof`.
    Io(io::Error),
}

impl From<io::Error> for ReadError {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}

/// Payloads up to this size get their whole buffer up front; larger ones get the rest only
/// once this much has arrived, so a lying length field cannot make us allocate gigabytes.
const EAGER_ALLOC_BYTES: usize = 256 << 20;

/// Reads one frame. Returns `Ok(None)` on a clean end of stream before the first header byte.
pub(crate) fn read_frame<R: Read>(
    reader: &mut R,
    max_payload: u64,
) -> std::result::Result<Option<Frame>, ReadError> {
    let mut header = [0u8; FRAME_HEADER_BYTES];
    if !read_exact_or_eof(reader, &mut header)? {
        return Ok(None);
    }
    let header = decode_header(&header, max_payload).map_err(ReadError::Malformed)?;
    let mut op = vec![0u8; header.op_len];
    reader.read_exact(&mut op)?;
    let op = decode_op(op).map_err(ReadError::Malformed)?;
    let Ok(len) = usize::try_from(header.payload_len) else {
        // Only reachable where usize is narrower than 64 bits.
        return Err(ReadError::Malformed(FrameError::Oversize {
            len: header.payload_len,
            max: usize::MAX as u64,
        }));
    };
    let payload = read_payload(reader, len, EAGER_ALLOC_BYTES)?;
    Ok(Some(Frame {
        channel: header.channel,
        seq: header.seq,
        op,
        payload,
    }))
}

/// Reads a payload of `len` bytes, allocating at most `eager` bytes before they arrive.
fn read_payload<R: Read>(reader: &mut R, len: usize, eager: usize) -> io::Result<Vec<u8>> {
    let first = len.min(eager);
    let mut payload = Vec::with_capacity(first);
    read_into(reader, &mut payload, first)?;
    if len > first {
        // The peer has proven it is really sending this much: allocate the rest at once
        // rather than letting the buffer double (and copy) its way there.
        payload.reserve_exact(len - first);
        read_into(reader, &mut payload, len - first)?;
    }
    Ok(payload)
}

/// Appends exactly `n` bytes from `reader` to `buf`, reading straight into its spare capacity
/// (large reads bypass any buffer of `reader`).
fn read_into<R: Read>(reader: &mut R, buf: &mut Vec<u8>, n: usize) -> io::Result<()> {
    let got = reader.by_ref().take(n as u64).read_to_end(buf)?;
    if got < n {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    Ok(())
}

/// Like `read_exact`, but a stream that ends before the first byte is a clean `Ok(false)`.
fn read_exact_or_eof<R: Read>(reader: &mut R, buf: &mut [u8]) -> io::Result<bool> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) if filled == 0 => return Ok(false),
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

/// Checks that a received frame is the one this endpoint expects next from `peer`.
///
/// # Errors
/// `Error::Diverged` naming both the expected and the received operation and sequence number.
pub(crate) fn check_expected(
    peer: usize,
    expected_op: &str,
    channel: u32,
    expected_seq: u64,
    frame: &Frame,
) -> Result<()> {
    if frame.op == ABORT_OP {
        return Err(Error::Aborted {
            peer,
            op: expected_op.to_owned(),
            reason: abort_reason(&frame.payload),
        });
    }
    if frame.channel != channel {
        return Err(Error::Diverged {
            peer,
            expected: format!("a frame of channel {channel}"),
            got: format!("op `{}` of channel {}", frame.op, frame.channel),
        });
    }
    // Compared modulo 2^32, as the wire carries it.
    let expected_seq = expected_seq as u32;
    if frame.op != expected_op || frame.seq != expected_seq {
        return Err(Error::Diverged {
            peer,
            expected: format!("op `{expected_op}` #{expected_seq}"),
            got: format!("op `{}` #{}", frame.op, frame.seq),
        });
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests may unwrap: a failure is the test failing.
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let bytes = encode_frame(0, 12, "mul", &[1, 2, 3]);
        assert_eq!(bytes.len() as u64, wire_bytes("mul", 3));
        let frame = read_frame(&mut bytes.as_slice(), 1 << 20).unwrap().unwrap();
        assert_eq!((frame.seq, frame.op.as_str()), (12, "mul"));
        assert_eq!(frame.payload, [1, 2, 3]);
    }

    #[test]
    fn empty_stream_is_clean_eof() {
        assert!(read_frame(&mut [].as_slice(), 10).unwrap().is_none());
    }

    #[test]
    fn rejects_bad_magic_oversize_long_op_and_bad_utf8() {
        let good = encode_frame(0, 0, "op", &[0; 8]);

        let mut bad = good.clone();
        bad[0] ^= 0xff;
        assert!(matches!(
            read_frame(&mut bad.as_slice(), 100),
            Err(ReadError::Malformed(FrameError::BadMagic(_)))
        ));

        assert!(matches!(
            read_frame(&mut good.as_slice(), 7),
            Err(ReadError::Malformed(FrameError::Oversize {
                len: 8,
                max: 7
            }))
        ));

        let mut long = good.clone();
        long[12] = 65;
        assert!(matches!(
            read_frame(&mut long.as_slice(), 100),
            Err(ReadError::Malformed(FrameError::OpNameTooLong(65)))
        ));

        let mut utf8 = good.clone();
        utf8[FRAME_HEADER_BYTES] = 0xff;
        assert!(matches!(
            read_frame(&mut utf8.as_slice(), 100),
            Err(ReadError::Malformed(FrameError::OpNameNotUtf8))
        ));
    }

    #[test]
    fn truncated_frames_are_unexpected_eof() {
        let good = encode_frame(0, 3, "open", &[7; 100]);
        for cut in 1..good.len() {
            match read_frame(&mut &good[..cut], 1000) {
                Err(ReadError::Io(e)) => assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof),
                other => panic!("cut at {cut}: {other:?}"),
            }
        }
    }

    #[test]
    fn lying_length_does_not_allocate_it() {
        // Claims u64::MAX / 2 bytes under a limit that allows it: must fail on EOF, not abort
        // on allocation.
        let mut bytes = encode_frame(0, 0, "x", &[]);
        bytes[13..21].copy_from_slice(&(u64::MAX / 2).to_le_bytes());
        bytes.extend_from_slice(&[0; 10]);
        assert!(matches!(
            read_frame(&mut bytes.as_slice(), u64::MAX),
            Err(ReadError::Io(_))
        ));
    }

    #[test]
    fn payloads_beyond_the_eager_allocation_arrive_whole() {
        let bytes: Vec<u8> = (0..100).collect();
        assert_eq!(read_payload(&mut bytes.as_slice(), 100, 7).unwrap(), bytes);
        assert!(read_payload(&mut &bytes[..50], 100, 7).is_err());
    }

    #[test]
    fn random_bytes_never_panic() {
        // xorshift: deterministic pseudo-random garbage without a dev-dependency.
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..2000 {
            let len = (next() % 120) as usize;
            let mut bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            // Give half of the cases a valid magic so decoding goes further.
            if bytes.len() >= 4 && next() % 2 == 0 {
                bytes[..4].copy_from_slice(&MAGIC);
            }
            let _ = read_frame(&mut bytes.as_slice(), 1 << 16);
        }
    }

    #[test]
    fn divergence_names_both_sides() {
        let frame = Frame {
            channel: 0,
            seq: 12,
            op: "relu".into(),
            payload: vec![],
        };
        match check_expected(1, "mul", 0, 12, &frame) {
            Err(Error::Diverged {
                peer,
                expected,
                got,
            }) => {
                assert_eq!(peer, 1);
                assert_eq!(expected, "op `mul` #12");
                assert_eq!(got, "op `relu` #12");
            }
            other => panic!("{other:?}"),
        }
        assert!(check_expected(1, "relu", 0, 11, &frame).is_err());
        assert!(check_expected(1, "relu", 0, 12, &frame).is_ok());
        // A frame of another computation is refused, whatever its op and number.
        match check_expected(1, "relu", 7, 12, &frame) {
            Err(Error::Diverged { expected, got, .. }) => {
                assert_eq!(expected, "a frame of channel 7");
                assert_eq!(got, "op `relu` of channel 0");
            }
            other => panic!("{other:?}"),
        }
        // Sequence numbers travel modulo 2^32.
        assert!(check_expected(1, "relu", 0, (1 << 32) + 12, &frame).is_ok());
    }

    #[test]
    fn the_channel_travels_in_the_header() {
        let frame = read_frame(&mut &encode_frame(9, 4, "x", &[1])[..], 16)
            .unwrap()
            .unwrap();
        assert_eq!((frame.channel, frame.seq), (9, 4));
    }

    #[test]
    fn op_name_limit() {
        assert!(check_op_name(&"a".repeat(MAX_OP_NAME)).is_ok());
        assert!(matches!(
            check_op_name(&"a".repeat(MAX_OP_NAME + 1)),
            Err(Error::InvalidOp { len: 65, .. })
        ));
    }
}
