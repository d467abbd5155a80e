//! Columns that hold a kind or a list, as types. Each is decoded once, when
//! its row is read, so code past the store matches on enums and walks lists
//! instead of comparing and re-parsing text; a value keygate did not write
//! fails the read as [`super::StoreError::Corrupt`] rather than passing as
//! something else.

/// A stored value outside its column's vocabulary.
#[derive(Debug, thiserror::Error)]
#[error("{column} holds {value:?}, which keygate never writes")]
pub struct UnknownValue {
    column: &'static str,
    value: String,
}

impl UnknownValue {
    pub(super) fn new(column: &'static str, value: &str) -> Self {
        Self { column, value: value.to_owned() }
    }
}

/// Text columns whose every value is one of a fixed set of names.
macro_rules! stored_names {
    ($ty:ident, $column:literal, { $($variant:ident => $name:literal),+ $(,)? }) => {
        impl $ty {
            /// Every value, in declaration order: the column's whole vocabulary.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The stored name.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $name),+ }
            }
        }

        impl std::str::FromStr for $ty {
            type Err = $crate::store::UnknownValue;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                match text {
                    $($name => Ok(Self::$variant),)+
                    _ => Err($crate::store::UnknownValue::new($column, text)),
                }
            }
        }

        impl TryFrom<String> for $ty {
            type Error = $crate::store::UnknownValue;

            fn try_from(text: String) -> Result<Self, Self::Error> {
                text.parse()
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(super) use stored_names;

/// What a session may do, fixed when it is issued.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SessionKind {
    /// A full sign-in (password and key): the JSON API and the account pages.
    Api,
    /// Password only, for a user with no key yet: may enroll a first key and
    /// nothing else.
    Enroll,
    /// An application's `session_key` from the legacy desktop flow.
    Legacy,
}

stored_names!(SessionKind, "sessions.kind", { Api => "api", Enroll => "enroll", Legacy => "legacy" });

impl SessionKind {
    /// True for the sessions a user holds directly (not an application's).
    pub(crate) fn is_users_own(self) -> bool {
        matches!(self, Self::Api | Self::Enroll)
    }
}

/// How a browser can reach a key (WebAuthn's `AuthenticatorTransport`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Transport {
    /// USB.
    Usb,
    /// NFC.
    Nfc,
    /// Bluetooth Low Energy.
    Ble,
    /// Built into the client device (a platform authenticator).
    Internal,
    /// A phone over caBLE / hybrid.
    Hybrid,
}

stored_names!(Transport, "credentials.transports", {
    Usb => "usb", Nfc => "nfc", Ble => "ble", Internal => "internal", Hybrid => "hybrid",
});

/// Reads a comma-separated transports column (`usb,nfc`, possibly empty).
pub(super) fn decode_transports(text: &str) -> Result<Vec<Transport>, UnknownValue> {
    text.split(',').filter(|t| !t.is_empty()).map(str::parse).collect()
}

/// The column text for a list of transports.
pub(super) fn encode_transports(list: &[Transport]) -> String {
    list.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(",")
}

/// A decoding failure for `column`, in the shape sqlx reports, which the
/// store turns into [`super::StoreError::Corrupt`].
pub(super) fn corrupt(column: &str, error: impl std::error::Error + Send + Sync + 'static) -> sqlx::Error {
    sqlx::Error::ColumnDecode { index: column.to_owned(), source: Box::new(error) }
}

/// Reads a JSON array column.
pub(super) fn decode_json_list<T: serde::de::DeserializeOwned>(
    column: &str,
    text: &str,
) -> Result<Vec<T>, sqlx::Error> {
    serde_json::from_str(text).map_err(|e| corrupt(column, e))
}

/// The column text for a list stored as a JSON array.
pub(super) fn encode_json_list<T: serde::Serialize>(list: &[T]) -> Result<String, sqlx::Error> {
    serde_json::to_string(list).map_err(|e| sqlx::Error::Encode(Box::new(e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_strangers_are_refused() {
        for kind in [SessionKind::Api, SessionKind::Enroll, SessionKind::Legacy] {
            assert_eq!(kind.as_str().parse::<SessionKind>().unwrap(), kind);
        }
        let error = "browser".parse::<SessionKind>().unwrap_err();
        assert_eq!(error.to_string(), r#"sessions.kind holds "browser", which keygate never writes"#);
        assert!("API".parse::<SessionKind>().is_err());
    }

    #[test]
    fn transports_lists_round_trip() {
        let list = [Transport::Usb, Transport::Nfc, Transport::Hybrid];
        assert_eq!(decode_transports(&encode_transports(&list)).unwrap(), list);
        assert_eq!(decode_transports("").unwrap(), []);
        assert!(decode_transports("usb,smoke-signal").is_err());
    }
}
