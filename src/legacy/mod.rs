//! The legacy REST API (`/restserver.php`, `/method/{method}`): parameter
//! decoding, MD5 request signatures, call validation and the XML/JSON/JSONP
//! answers of the Facebook desktop-app flow.
//!
//! Everything here is pure: bytes and parameters in, decisions and response
//! bodies out. The HTTP handler looks up apps and sessions in the store and
//! drives these pieces.

mod call;
mod call_id;
mod error;
mod params;
mod response;

pub use call::{Call, Format, Method, Refusal, Rendering};
pub use call_id::CallId;
pub use error::{ErrorCode, LegacyError};
pub use params::{MAX_PARAMS, Params};
pub use response::{Rendered, Value, error as render_error, success as render_success};
