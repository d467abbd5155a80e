//! The two-byte status words that end a U2F response APDU.

use std::fmt;

/// An ISO 7816-4 status word (SW1 SW2).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct StatusWord(pub u16);

impl StatusWord {
    /// The command succeeded.
    pub const NO_ERROR: StatusWord = StatusWord(0x9000);
    /// User presence is needed (or a check-only request found its key handle).
    pub const CONDITIONS_NOT_SATISFIED: StatusWord = StatusWord(0x6985);
    /// The key handle is not ours, or is for another application.
    pub const WRONG_DATA: StatusWord = StatusWord(0x6a80);
    /// The request's length is wrong for its instruction.
    pub const WRONG_LENGTH: StatusWord = StatusWord(0x6700);
    /// The instruction is not one U2F defines.
    pub const INS_NOT_SUPPORTED: StatusWord = StatusWord(0x6d00);
    /// The class byte is not 0.
    pub const CLA_NOT_SUPPORTED: StatusWord = StatusWord(0x6e00);
    /// The token failed internally (e.g. could not save its counter); nothing was signed.
    pub const NO_PRECISE_DIAGNOSIS: StatusWord = StatusWord(0x6f00);

    /// The status word as it ends a response.
    pub fn to_bytes(self) -> [u8; 2] {
        self.0.to_be_bytes()
    }

    /// Reads the status word at the end of a response APDU.
    pub fn from_response(response: &[u8]) -> Option<StatusWord> {
        match response {
            [.., sw1, sw2] => Some(StatusWord(u16::from_be_bytes([*sw1, *sw2]))),
            _ => None,
        }
    }
}

impl fmt::Debug for StatusWord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StatusWord({:04X})", self.0)
    }
}

impl fmt::Display for StatusWord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04X}", self.0)
    }
}

/// Builds a response APDU: the data followed by the status word.
pub fn response(data: &[u8], sw: StatusWord) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 2);
    out.extend_from_slice(data);
    out.extend_from_slice(&sw.to_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_words_are_big_endian() {
        assert_eq!(response(b"ok", StatusWord::NO_ERROR), b"ok\x90\x00");
        assert_eq!(StatusWord::from_response(b"\x6a\x80"), Some(StatusWord::WRONG_DATA));
        assert_eq!(StatusWord::from_response(b"\x6a"), None);
        assert_eq!(StatusWord::CONDITIONS_NOT_SATISFIED.to_string(), "6985");
    }
}
