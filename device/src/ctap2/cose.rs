//! COSE keys (RFC 9053) as CTAP2 carries credential public keys: only
//! ES256 on P-256, the one algorithm a U2F-compatible credential can have.

use ciborium::Value;

use super::ES256;
use super::cbor::{self, CborError};

/// The COSE_Key of a P-256 public key (kty 2, alg -7, crv 1, x, y).
pub fn encode_es256(point: &[u8; 65]) -> Vec<u8> {
    cbor::encode(&Value::Map(vec![
        (Value::Integer(1.into()), Value::Integer(2.into())),
        (Value::Integer(3.into()), Value::Integer(ES256.into())),
        (Value::Integer((-1).into()), Value::Integer(1.into())),
        (Value::Integer((-2).into()), Value::Bytes(point[1..33].to_vec())),
        (Value::Integer((-3).into()), Value::Bytes(point[33..].to_vec())),
    ]))
}

/// The SEC1 uncompressed point of an ES256 COSE_Key; any other key is refused.
pub fn parse_es256(key: &Value) -> Result<[u8; 65], CborError> {
    let entries = key.as_map().ok_or(CborError::Type("COSE key"))?;
    let get = |label: i64| {
        entries
            .iter()
            .find(|(k, _)| k.as_integer().and_then(|i| i64::try_from(i).ok()) == Some(label))
            .map(|(_, v)| v)
    };
    let int = |label: i64, what| get(label).ok_or(CborError::Missing(what)).and_then(|v| cbor::int(v, what));
    if int(1, "COSE kty")? != 2 || int(3, "COSE alg")? != ES256 || int(-1, "COSE crv")? != 1 {
        return Err(CborError::Type("COSE key (not ES256 on P-256)"));
    }
    let coordinate = |label, what| -> Result<&[u8], CborError> {
        let c = cbor::bytes(get(label).ok_or(CborError::Missing(what))?, what)?;
        if c.len() == 32 { Ok(c) } else { Err(CborError::Type(what)) }
    };
    let mut point = [0u8; 65];
    point[0] = 0x04;
    point[1..33].copy_from_slice(coordinate(-2, "COSE x")?);
    point[33..].copy_from_slice(coordinate(-3, "COSE y")?);
    Ok(point)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn es256_keys_round_trip_and_others_are_refused() {
        let mut point = [3u8; 65];
        point[0] = 4;
        let bytes = encode_es256(&point);
        // a5 01 02 03 26 20 01 21 58 20 …: the order every CTAP2 key uses.
        assert_eq!(&bytes[..10], &[0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21, 0x58, 0x20]);
        let value = cbor::decode(&bytes).unwrap();
        assert_eq!(parse_es256(&value), Ok(point));
        let mut other_alg = bytes.clone();
        other_alg[4] = 0x25; // alg -6
        assert!(parse_es256(&cbor::decode(&other_alg).unwrap()).is_err());
        assert!(parse_es256(&cbor::decode(&bytes[..bytes.len() - 1]).unwrap_or(Value::Null)).is_err());
    }
}
