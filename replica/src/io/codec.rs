//! Packet <-> message. Everything a packet can be wrong about becomes a
//! [`DecodeError`] for the shell to count; nothing here panics.

use shared::Message;

/// The classic simulator reads at most 16384 bytes per packet; anything that
/// long is cut, so every packet we send must be strictly shorter.
pub const MAX_PACKET: usize = 16 * 1024 - 1;

#[derive(Debug)]
pub enum DecodeError {
    /// Not UTF-8 text.
    NotUtf8,
    /// Not a JSON object with the fields and types a message needs.
    Malformed(serde_json::Error),
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecodeError::NotUtf8 => write!(f, "packet is not UTF-8"),
            DecodeError::Malformed(e) => write!(f, "malformed message: {e}"),
        }
    }
}

impl std::error::Error for DecodeError {}

pub fn decode(packet: &[u8]) -> Result<Message, DecodeError> {
    let text = std::str::from_utf8(packet).map_err(|_| DecodeError::NotUtf8)?;
    serde_json::from_str(text).map_err(DecodeError::Malformed)
}

/// The packet for `msg`, or `None` if it would reach [`MAX_PACKET`].
pub fn encode(msg: &Message) -> Option<Vec<u8>> {
    let bytes = serde_json::to_vec(msg).ok()?;
    (bytes.len() <= MAX_PACKET).then_some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::{Addr, Body};

    #[test]
    fn garbage_is_an_error() {
        assert!(matches!(
            decode(&[0xff, 0xfe, 0x00]),
            Err(DecodeError::NotUtf8)
        ));
        assert!(matches!(
            decode(b"{\"src\":"),
            Err(DecodeError::Malformed(_))
        ));
    }

    #[test]
    fn oversized_messages_are_not_encoded() {
        let msg = |n: usize| Message {
            src: Addr(0),
            dst: Addr(0x15),
            leader: Addr(0),
            body: Body::Ok {
                mid: "M".into(),
                value: Some("v".repeat(n)),
            },
        };
        assert!(encode(&msg(100)).is_some());
        assert!(encode(&msg(MAX_PACKET)).is_none());
        let back = decode(&encode(&msg(3)).unwrap()).unwrap();
        assert_eq!(back, msg(3));
    }
}
