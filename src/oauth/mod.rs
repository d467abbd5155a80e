//! Graph-style OAuth: the dialog, `/oauth/access_token`, `/oauth/client_code`,
//! `/debug_token`, `/me`. The submodules other than [`graph`] need no
//! database: error shapes, redirect rules, token formats and API version
//! prefixes; [`graph`] runs the token endpoints over the store.

mod error;
mod graph;
mod redirect;
mod token;

pub use error::{OAuthError, OAuthErrorKind};
pub use graph::{Graph, Params};
pub(crate) use redirect::{allowed_next, match_registered, validate_registered, with_params};
pub(crate) use token::{AppCredentials, is_api_version};
