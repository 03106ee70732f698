//! The smallest rasgi app: one handler, served on 127.0.0.1:8000 until Ctrl-C.
//!
//! cargo run --example hello    then    curl localhost:8000/

use rasgi::prelude::*;

struct Hello;

impl App for Hello {
    async fn call<R: Receive, S: Sender>(
        &self,
        scope: Scope,
        _receive: R,
        mut send: S,
    ) -> Result<(), AppError> {
        if let Scope::Http(_) = scope {
            let headers = Headers::new().with("content-type", "text/plain");
            send_response(&mut send, 200, headers, "Hello, World!").await?;
        }
        Ok(())
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let listener = Listener::bind("127.0.0.1:8000").await?;
    println!("listening on http://{}", listener.describe());
    serve(listener, Hello).await?;
    Ok(())
}
