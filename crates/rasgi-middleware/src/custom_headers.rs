//! CustomHeaders: the same header fields added to every response.

use bytes::Bytes;
use rasgi_protocol::{Headers, Scope, SendError};

use crate::{valid_header, ConfigError, Decision, ResponseHook, ResponseStart, Step};

/// Adds fixed header fields to every HTTP response.
#[derive(Debug, Clone)]
pub struct CustomHeaders {
    headers: Headers,
}

impl CustomHeaders {
    /// Add each `(name, value)` to every response; names and values are checked here.
    pub fn new<'a>(
        fields: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<CustomHeaders, ConfigError> {
        let mut headers = Headers::new();
        for (name, value) in fields {
            if !valid_header(name, value) {
                return Err(ConfigError::InvalidHeader(format!("{name}: {value}")));
            }
            headers.append(name.to_ascii_lowercase(), value.to_string());
        }
        Ok(CustomHeaders { headers })
    }
}

/// The fields to add, for one response.
pub struct AddFields<'a>(&'a Headers);

impl ResponseHook for AddFields<'_> {
    fn on_start(&mut self, start: &mut ResponseStart, _: &Bytes, _: bool) -> Result<(), SendError> {
        for (name, value) in self.0.iter() {
            start.headers.append(name.clone(), value.clone());
        }
        Ok(())
    }

    fn on_accept(&mut self, headers: &mut Headers) {
        for (name, value) in self.0.iter() {
            headers.append(name.clone(), value.clone());
        }
    }
}

impl Step for CustomHeaders {
    type Hook<'a> = Option<AddFields<'a>>;

    fn describe(&self) -> String {
        let names: Vec<String> = self
            .headers
            .iter()
            .map(|(n, _)| String::from_utf8_lossy(n).into_owned())
            .collect();
        format!("CustomHeaders({})", names.join(", "))
    }

    fn on_request(&self, scope: &mut Scope) -> Decision<Option<AddFields<'_>>> {
        Decision::Continue(
            matches!(scope, Scope::Http(_) | Scope::WebSocket(_))
                .then_some(AddFields(&self.headers)),
        )
    }
}
