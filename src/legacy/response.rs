//! Legacy REST answers, byte for byte as the old clients parse them: XML by
//! default, JSON on request, either wrapped in a JSONP callback.

use super::call::{Format, Method, Rendering};
use super::error::LegacyError;

const XML_DECLARATION: &str = r#"<?xml version="1.0" encoding="UTF-8"?>"#;
const XML_NAMESPACES: &str = concat!(
    r#"xmlns="http://api.facebook.com/1.0/" "#,
    r#"xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" "#,
    r#"xsi:schemaLocation="http://api.facebook.com/1.0/ http://api.facebook.com/1.0/facebook.xsd""#
);

/// A method's result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// A string: `"3e4a…"` in JSON, text content in XML.
    Str(String),
    /// An integer (uids, expiry times).
    Int(i64),
    /// `true`/`false` in JSON, `1`/`0` in XML.
    Bool(bool),
    /// Named members in order: a JSON object, child elements in XML.
    Object(Vec<(&'static str, Value)>),
}

/// A rendered answer: its media type and body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rendered {
    /// `text/xml`, `application/json` or `text/javascript` (JSONP).
    pub content_type: &'static str,
    /// The body.
    pub body: String,
}

/// Renders a successful result of `method`.
pub fn success(method: Method, value: &Value, rendering: &Rendering) -> Rendered {
    let body = match rendering.format {
        Format::Xml => {
            let element = format!("{}_response", method.name().replace('.', "_"));
            let mut xml = format!("{XML_DECLARATION}\n<{element} {XML_NAMESPACES}>");
            xml_value(&mut xml, value);
            xml.push_str(&format!("</{element}>"));
            xml
        }
        Format::Json => json_value(value),
    };
    finish(body, rendering)
}

/// Renders an error with the call's arguments echoed in `request_args`.
pub fn error(err: &LegacyError, args: &[(String, String)], rendering: &Rendering) -> Rendered {
    let message = err.message();
    let body = match rendering.format {
        Format::Xml => {
            let mut xml = format!("{XML_DECLARATION}\n<error_response {XML_NAMESPACES}>");
            xml.push_str(&format!("<error_code>{}</error_code>", err.code.code()));
            xml.push_str(&format!("<error_msg>{}</error_msg>", escape(&message)));
            xml.push_str(r#"<request_args list="true">"#);
            for (key, value) in args {
                xml.push_str(&format!(
                    "<arg><key>{}</key><value>{}</value></arg>",
                    escape(key),
                    escape(value)
                ));
            }
            xml.push_str("</request_args></error_response>");
            xml
        }
        Format::Json => {
            let args: Vec<serde_json::Value> =
                args.iter().map(|(k, v)| serde_json::json!({ "key": k, "value": v })).collect();
            let mut json =
                format!(r#"{{"error_code":{},"error_msg":{}"#, err.code.code(), json_string(&message));
            json.push_str(&format!(r#","request_args":{}}}"#, serde_json::Value::Array(args)));
            json
        }
    };
    finish(body, rendering)
}

fn finish(body: String, rendering: &Rendering) -> Rendered {
    match (&rendering.callback, rendering.format) {
        (Some(callback), Format::Json) => {
            Rendered { content_type: "text/javascript; charset=utf-8", body: format!("{callback}({body});") }
        }
        (Some(callback), Format::Xml) => Rendered {
            content_type: "text/javascript; charset=utf-8",
            body: format!("{callback}({});", json_string(&body)),
        },
        (None, Format::Json) => Rendered { content_type: "application/json; charset=utf-8", body },
        (None, Format::Xml) => Rendered { content_type: "text/xml; charset=utf-8", body },
    }
}

fn xml_value(out: &mut String, value: &Value) {
    match value {
        Value::Str(s) => out.push_str(&escape(s)),
        Value::Int(i) => out.push_str(&i.to_string()),
        Value::Bool(b) => out.push_str(if *b { "1" } else { "0" }),
        Value::Object(members) => {
            for (name, member) in members {
                out.push_str(&format!("<{name}>"));
                xml_value(out, member);
                out.push_str(&format!("</{name}>"));
            }
        }
    }
}

fn json_value(value: &Value) -> String {
    match value {
        Value::Str(s) => json_string(s),
        Value::Int(i) => i.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Object(members) => {
            let inner: Vec<String> =
                members.iter().map(|(k, v)| format!("{}:{}", json_string(k), json_value(v))).collect();
            format!("{{{}}}", inner.join(","))
        }
    }
}

/// A JSON string literal that is also safe inside JavaScript source: U+2028
/// and U+2029 end lines in older JavaScript engines, so they are escaped.
fn json_string(text: &str) -> String {
    serde_json::Value::from(text).to_string().replace('\u{2028}', "\\u2028").replace('\u{2029}', "\\u2029")
}

/// Escapes text for XML content; characters XML 1.0 cannot carry become U+FFFD.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::legacy::ErrorCode;

    fn xml() -> Rendering {
        Rendering::default()
    }
    fn json() -> Rendering {
        Rendering { format: Format::Json, callback: None }
    }

    #[test]
    fn create_token_xml_matches_the_documented_form() {
        let out =
            success(Method::CreateToken, &Value::Str("3e4a22bb2f5ed75114b0fc9995ea85f1".into()), &xml());
        assert_eq!(out.content_type, "text/xml; charset=utf-8");
        assert_eq!(
            out.body,
            concat!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n",
                "<auth_createToken_response xmlns=\"http://api.facebook.com/1.0/\" ",
                "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" ",
                "xsi:schemaLocation=\"http://api.facebook.com/1.0/ http://api.facebook.com/1.0/facebook.xsd\">",
                "3e4a22bb2f5ed75114b0fc9995ea85f1</auth_createToken_response>"
            )
        );
    }

    #[test]
    fn json_shapes() {
        let token = success(Method::CreateToken, &Value::Str("3e4a".into()), &json());
        assert_eq!(token.body, "\"3e4a\"");
        let session = Value::Object(vec![
            ("session_key", Value::Str("sk".into())),
            ("uid", Value::Int(7)),
            ("expires", Value::Int(1_700_000_000)),
        ]);
        assert_eq!(
            success(Method::GetSession, &session, &json()).body,
            r#"{"session_key":"sk","uid":7,"expires":1700000000}"#
        );
        assert_eq!(success(Method::ExpireSession, &Value::Bool(true), &json()).body, "true");
        assert!(
            success(Method::ExpireSession, &Value::Bool(true), &xml())
                .body
                .ends_with(">1</auth_expireSession_response>")
        );
    }

    #[test]
    fn errors_echo_arguments() {
        let args = vec![("api_key".to_owned(), "k<&>".to_owned())];
        let err = LegacyError::new(ErrorCode::IncorrectSignature);
        assert_eq!(
            error(&err, &args, &json()).body,
            r#"{"error_code":104,"error_msg":"Incorrect signature","request_args":[{"key":"api_key","value":"k<&>"}]}"#
        );
        let body = error(&err, &args, &xml()).body;
        assert!(body.contains("<error_code>104</error_code>"), "{body}");
        assert!(body.contains(r#"<request_args list="true"><arg><key>api_key</key><value>k&lt;&amp;&gt;</value></arg></request_args>"#), "{body}");
    }

    #[test]
    fn jsonp_wraps_both_formats() {
        let cb = |format| Rendering { format, callback: Some("app.done".into()) };
        let out = success(Method::CreateToken, &Value::Str("t".into()), &cb(Format::Json));
        assert_eq!(
            (out.content_type, out.body.as_str()),
            ("text/javascript; charset=utf-8", "app.done(\"t\");")
        );
        let out = success(Method::CreateToken, &Value::Str("t".into()), &cb(Format::Xml));
        assert!(out.body.starts_with("app.done(\"<?xml version=\\\"1.0\\\""), "{}", out.body);
        assert!(out.body.ends_with("</auth_createToken_response>\");"), "{}", out.body);
    }

    #[test]
    fn hostile_text_stays_inert() {
        assert_eq!(json_string("a\u{2028}b"), "\"a\\u2028b\"");
        assert_eq!(escape("\u{1}x"), "\u{FFFD}x");
    }
}
