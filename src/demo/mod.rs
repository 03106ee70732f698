//! The demo app served by the `rasgi` binary: one route per idea, small enough to read in one
//! sitting.

use rasgi_protocol::{
    send_response, App, AppError, Event, Headers, HttpScope, Message, Receive, Scope, Sender,
};

/// The demo app.
#[derive(Debug, Clone, Default)]
pub struct Demo;

impl App for Demo {
    async fn call<R: Receive, S: Sender>(
        &self,
        scope: Scope,
        receive: R,
        mut send: S,
    ) -> Result<(), AppError> {
        let Scope::Http(scope) = scope else {
            return Ok(());
        };
        match (scope.method.as_str(), scope.path.as_str()) {
            ("GET", "/") => hello(&mut send).await,
            ("POST", "/echo") => echo(&scope, receive, &mut send).await,
            _ => text(&mut send, 404, "Not Found").await,
        }
    }
}

async fn text<S: Sender>(send: &mut S, status: u16, body: &'static str) -> Result<(), AppError> {
    let headers = Headers::with_capacity(2).with("content-type", "text/plain; charset=utf-8");
    send_response(send, status, headers, body).await?;
    Ok(())
}

/// `GET /`: the smallest response.
async fn hello<S: Sender>(send: &mut S) -> Result<(), AppError> {
    text(send, 200, "Hello, World!").await
}

/// `POST /echo`: the request body streamed back as it arrives, with its content type.
async fn echo<R: Receive, S: Sender>(
    scope: &HttpScope,
    mut receive: R,
    send: &mut S,
) -> Result<(), AppError> {
    let content_type = scope
        .headers
        .get("content-type")
        .cloned()
        .unwrap_or_else(|| "application/octet-stream".into());
    send.send(Message::start(
        200,
        Headers::with_capacity(2).with("content-type", content_type),
    ))
    .await?;
    loop {
        match receive.receive().await {
            Event::Request { body, more_body } => {
                send.send(Message::Body { body, more_body }).await?;
                if !more_body {
                    return Ok(());
                }
            }
            _ => return Err("the client left before the body ended".into()),
        }
    }
}
