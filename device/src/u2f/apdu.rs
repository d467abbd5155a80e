//! Command APDUs in both encodings U2F allows: short (one-byte Lc/Le, at
//! most 255 bytes of data) and extended (a zero byte, then two-byte lengths).
//!
//! Hosts differ: python-fido2 and libfido2 send extended APDUs, some older
//! hosts short ones, and both send VERSION with an explicit zero Lc. Parsing
//! therefore accepts every ISO 7816-4 case (1, 2, 3, 4, short and extended).

/// Why bytes are not a command APDU.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ApduError {
    /// Fewer than the four header bytes.
    #[error("APDU of {got} bytes is shorter than its 4-byte header")]
    TooShort {
        /// Bytes received.
        got: usize,
    },
    /// The length fields do not add up to the APDU's size.
    #[error("APDU declares {declared} data bytes but is {got} bytes long")]
    LengthMismatch {
        /// Data length the Lc field declares.
        declared: usize,
        /// Total size received.
        got: usize,
    },
    /// The data does not fit the chosen encoding.
    #[error("{got} data bytes do not fit a {encoding:?} APDU")]
    DataTooLong {
        /// The encoding asked for.
        encoding: Encoding,
        /// Data length.
        got: usize,
    },
}

/// Which length encoding an APDU uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// One-byte Lc and Le.
    Short,
    /// A zero byte, then two-byte Lc and Le.
    Extended,
}

/// A parsed command APDU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandApdu {
    /// Class byte; U2F uses 0.
    pub cla: u8,
    /// Instruction ([`super::ins`]).
    pub ins: u8,
    /// First parameter (AUTHENTICATE's control byte).
    pub p1: u8,
    /// Second parameter.
    pub p2: u8,
    /// The request data.
    pub data: Vec<u8>,
    /// Longest response the host accepts, if it said (0 in the field means the maximum).
    pub le: Option<usize>,
    /// How the lengths were (or will be) written.
    pub encoding: Encoding,
}

impl CommandApdu {
    /// A request with data, expecting the largest response the encoding allows.
    pub fn new(ins: u8, p1: u8, p2: u8, data: Vec<u8>, encoding: Encoding) -> Self {
        let le = Some(match encoding {
            Encoding::Short => 256,
            Encoding::Extended => 65536,
        });
        CommandApdu { cla: 0, ins, p1, p2, data, le, encoding }
    }

    /// Parses either encoding.
    pub fn parse(bytes: &[u8]) -> Result<Self, ApduError> {
        let [cla, ins, p1, p2, body @ ..] = bytes else {
            return Err(ApduError::TooShort { got: bytes.len() });
        };
        let header = |data: &[u8], le, encoding| CommandApdu {
            cla: *cla,
            ins: *ins,
            p1: *p1,
            p2: *p2,
            data: data.to_vec(),
            le,
            encoding,
        };
        let short_le = |b: u8| if b == 0 { 256 } else { usize::from(b) };
        let long_le = |a: u8, b: u8| match u16::from_be_bytes([a, b]) {
            0 => 65536,
            n => usize::from(n),
        };
        let mismatch = |declared| ApduError::LengthMismatch { declared, got: bytes.len() };
        match body {
            [] => Ok(header(&[], None, Encoding::Short)),
            [le] => Ok(header(&[], Some(short_le(*le)), Encoding::Short)),
            [0, a, b] => Ok(header(&[], Some(long_le(*a, *b)), Encoding::Extended)),
            [0, a, b, rest @ ..] => {
                let lc = usize::from(u16::from_be_bytes([*a, *b]));
                match rest.len().checked_sub(lc) {
                    Some(0) => Ok(header(rest, None, Encoding::Extended)),
                    Some(2) => {
                        let le = long_le(rest[lc], rest[lc + 1]);
                        Ok(header(&rest[..lc], Some(le), Encoding::Extended))
                    }
                    _ => Err(mismatch(lc)),
                }
            }
            [lc, rest @ ..] => {
                let lc = usize::from(*lc);
                match rest.len().checked_sub(lc) {
                    Some(0) => Ok(header(rest, None, Encoding::Short)),
                    Some(1) => Ok(header(&rest[..lc], Some(short_le(rest[lc])), Encoding::Short)),
                    _ => Err(mismatch(lc)),
                }
            }
        }
    }

    /// Writes the APDU in its [`Encoding`].
    pub fn encode(&self) -> Result<Vec<u8>, ApduError> {
        let mut out = vec![self.cla, self.ins, self.p1, self.p2];
        let n = self.data.len();
        match self.encoding {
            Encoding::Short => {
                if n > 255 {
                    return Err(ApduError::DataTooLong { encoding: Encoding::Short, got: n });
                }
                if n > 0 {
                    out.push(n as u8);
                    out.extend_from_slice(&self.data);
                }
                if let Some(le) = self.le {
                    out.push(if le >= 256 { 0 } else { le as u8 });
                }
            }
            Encoding::Extended => {
                let lc = u16::try_from(n)
                    .map_err(|_| ApduError::DataTooLong { encoding: Encoding::Extended, got: n })?;
                out.push(0);
                if n > 0 {
                    out.extend_from_slice(&lc.to_be_bytes());
                    out.extend_from_slice(&self.data);
                }
                if let Some(le) = self.le {
                    let le = if le >= 65536 { 0 } else { le as u16 };
                    out.extend_from_slice(&le.to_be_bytes());
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn python_fido2_version_request_parses() {
        // Ctap1.send_apdu writes an extended APDU with an explicit zero Lc.
        let apdu = CommandApdu::parse(&[0, 3, 0, 0, 0, 0, 0, 0, 0]).unwrap();
        assert_eq!((apdu.ins, apdu.data.len(), apdu.le), (3, 0, Some(65536)));
        assert_eq!(apdu.encoding, Encoding::Extended);
    }

    #[test]
    fn every_iso_case_parses() {
        let case1 = CommandApdu::parse(&[0, 3, 0, 0]).unwrap();
        assert_eq!((case1.data.len(), case1.le), (0, None));
        let case2s = CommandApdu::parse(&[0, 3, 0, 0, 0]).unwrap();
        assert_eq!(case2s.le, Some(256));
        let case3s = CommandApdu::parse(&[0, 2, 7, 0, 2, 0xaa, 0xbb]).unwrap();
        assert_eq!((case3s.p1, &case3s.data[..], case3s.le), (7, &[0xaa, 0xbb][..], None));
        let case4s = CommandApdu::parse(&[0, 1, 0, 0, 1, 0xcc, 0x10]).unwrap();
        assert_eq!((&case4s.data[..], case4s.le), (&[0xcc][..], Some(16)));
        let case2e = CommandApdu::parse(&[0, 3, 0, 0, 0, 1, 0]).unwrap();
        assert_eq!((case2e.le, case2e.encoding), (Some(256), Encoding::Extended));
        let case4e = CommandApdu::parse(&[0, 1, 0, 0, 0, 0, 1, 0xdd, 0, 0]).unwrap();
        assert_eq!((&case4e.data[..], case4e.le), (&[0xdd][..], Some(65536)));
    }

    #[test]
    fn inconsistent_lengths_are_errors() {
        assert_eq!(CommandApdu::parse(&[0, 1, 0]), Err(ApduError::TooShort { got: 3 }));
        assert_eq!(
            CommandApdu::parse(&[0, 1, 0, 0, 5, 1, 2]),
            Err(ApduError::LengthMismatch { declared: 5, got: 7 })
        );
        assert!(CommandApdu::parse(&[0, 1, 0, 0, 0, 0, 4, 1, 2, 3]).is_err());
    }

    proptest! {
        #[test]
        fn both_encodings_round_trip(ins in any::<u8>(), p1 in any::<u8>(),
                                     data in proptest::collection::vec(any::<u8>(), 1..600),
                                     extended in any::<bool>()) {
            let encoding = if extended || data.len() > 255 { Encoding::Extended } else { Encoding::Short };
            let apdu = CommandApdu::new(ins, p1, 0, data, encoding);
            prop_assert_eq!(CommandApdu::parse(&apdu.encode().unwrap()).unwrap(), apdu);
        }

        #[test]
        fn any_bytes_parse_or_fail_cleanly(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = CommandApdu::parse(&bytes);
        }
    }
}
