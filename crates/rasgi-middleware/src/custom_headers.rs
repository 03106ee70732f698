//! CustomHeaders: the same header fields added to every response (tower-http's
//! `SetResponseHeader`): appended beside the app's own, in place of them, or only where the
//! app set none.

use bytes::Bytes;
use rasgi_protocol::{FieldLine, Headers, Scope, SendError};

use crate::{valid_header, ConfigError, Decision, ResponseHook, ResponseStart, Step};

/// Adds fixed header fields to every HTTP response.
#[derive(Debug, Clone)]
pub struct CustomHeaders {
    headers: Headers,
    /// The same fields, checked once and kept as head lines for responses; `None` when one of
    /// them is a framing field (`connection`, say), which goes with the app's fields.
    lines: Option<Vec<FieldLine>>,
    mode: Mode,
}

/// What happens to fields of the same name the app set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Both are kept, the app's first.
    Append,
    /// The app's are removed.
    Override,
    /// The field is added only where the app set none of that name.
    IfNotPresent,
}

impl CustomHeaders {
    /// Add each `(name, value)` to every response, after any the app set; names and values are
    /// checked here.
    pub fn new<'a>(
        fields: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<CustomHeaders, ConfigError> {
        CustomHeaders::with_mode(fields, Mode::Append)
    }

    /// Set each `(name, value)` on every response, removing any field of that name the app
    /// set.
    pub fn overriding<'a>(
        fields: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<CustomHeaders, ConfigError> {
        CustomHeaders::with_mode(fields, Mode::Override)
    }

    /// Add each `(name, value)` to the responses where the app set no field of that name.
    pub fn if_not_present<'a>(
        fields: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<CustomHeaders, ConfigError> {
        CustomHeaders::with_mode(fields, Mode::IfNotPresent)
    }

    fn with_mode<'a>(
        fields: impl IntoIterator<Item = (&'a str, &'a str)>,
        mode: Mode,
    ) -> Result<CustomHeaders, ConfigError> {
        let mut headers = Headers::new();
        let mut lines = Vec::new();
        for (name, value) in fields {
            if !valid_header(name, value) {
                return Err(ConfigError::InvalidHeader(format!("{name}: {value}")));
            }
            lines.push(FieldLine::new(name, value).ok());
            headers.append(name.to_ascii_lowercase(), value.to_string());
        }
        Ok(CustomHeaders {
            headers,
            lines: lines.into_iter().collect(),
            mode,
        })
    }
}

/// The fields to add, for one response.
pub struct AddFields<'a>(&'a CustomHeaders);

impl AddFields<'_> {
    fn apply(&self, headers: &mut Headers) {
        let (fields, mode) = (&self.0.headers, self.0.mode);
        let name_of = |name: &Bytes| std::str::from_utf8(name).unwrap_or_default().to_string();
        match mode {
            Mode::Append => {}
            Mode::Override => {
                for (name, _) in fields.iter() {
                    headers.remove(&name_of(name));
                }
            }
            Mode::IfNotPresent => {
                let present: Vec<bool> = fields
                    .iter()
                    .map(|(name, _)| headers.contains(&name_of(name)))
                    .collect();
                for ((name, value), present) in fields.iter().zip(present) {
                    if !present {
                        headers.append(name.clone(), value.clone());
                    }
                }
                return;
            }
        }
        for (name, value) in fields.iter() {
            headers.append(name.clone(), value.clone());
        }
    }
}

impl AddFields<'_> {
    /// [`AddFields::apply`] for a response start: the fields go on as lines.
    fn apply_to_start(&self, start: &mut ResponseStart) {
        let (Some(lines), mode) = (&self.0.lines, self.0.mode) else {
            return self.apply(&mut start.headers);
        };
        fn name_of(line: &FieldLine) -> &str {
            std::str::from_utf8(line.name()).unwrap_or_default()
        }
        match mode {
            Mode::Append => {}
            Mode::Override => {
                for line in lines {
                    start.headers.remove(name_of(line));
                    start.lines.remove(name_of(line));
                }
            }
            Mode::IfNotPresent => {
                let present: Vec<bool> = lines
                    .iter()
                    .map(|line| start.field(name_of(line)).is_some())
                    .collect();
                for (line, present) in lines.iter().zip(present) {
                    if !present {
                        start.lines.push_line(line);
                    }
                }
                return;
            }
        }
        for line in lines {
            start.lines.push_line(line);
        }
    }
}

impl ResponseHook for AddFields<'_> {
    fn on_start(&mut self, start: &mut ResponseStart, _: &Bytes, _: bool) -> Result<(), SendError> {
        self.apply_to_start(start);
        Ok(())
    }

    fn on_accept(&mut self, headers: &mut Headers) {
        self.apply(headers);
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
            matches!(scope, Scope::Http(_) | Scope::WebSocket(_)).then_some(AddFields(self)),
        )
    }
}
