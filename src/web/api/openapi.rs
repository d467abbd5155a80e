//! `GET /api/v1/openapi.json`: the API described by the handlers' own
//! `utoipa::path` annotations, so the document cannot drift from the routes.

use axum::routing::get;
use axum::{Json, Router};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{account, keys, login, reauth};
use crate::web::AppState;

#[derive(OpenApi)]
#[openapi(
    info(title = "keygate JSON API", description = "Password + FIDO U2F login and key management."),
    paths(
        login::start,
        login::finish_u2f,
        login::finish_recovery,
        login::finish_webauthn,
        keys::list,
        keys::register_start,
        keys::register_finish,
        keys::webauthn_register_start,
        keys::webauthn_register_finish,
        keys::rename,
        keys::remove,
        keys::recovery_codes,
        reauth::start,
        reauth::finish_u2f,
        reauth::finish_webauthn,
        account::password,
        account::sessions,
        account::revoke,
        account::logout,
    ),
    components(schemas(super::ErrorBody, super::ErrorDetail)),
    modifiers(&Bearer)
)]
struct ApiDoc;

/// Declares the Bearer session scheme the paths refer to.
struct Bearer;

impl Modify for Bearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/api/v1/openapi.json", get(|| async { Json(ApiDoc::openapi()) }))
}
