//! The legacy REST API (`/restserver.php`, `/method/{method}`): parameter
//! decoding, MD5 request signatures, call validation and the XML/JSON/JSONP
//! answers of the Facebook desktop-app flow.
//!
//! The protocol pieces are pure: bytes and parameters in, decisions and
//! response bodies out. [`Service`] applies them to the store (apps,
//! sessions, tokens); the HTTP handler only decodes, calls and renders.

mod call;
mod call_id;
mod error;
mod params;
mod response;
mod service;

pub use call::{Call, Format, Method, Refusal, Rendering};
pub use call_id::CallId;
pub use error::{ErrorCode, LegacyError};
pub use params::Params;
pub use response::{Rendered, Value, error as render_error, success as render_success};
pub(crate) use service::{Failure, Service};
