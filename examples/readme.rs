use rasgi::prelude::*;
use rasgi::routing::{Routed, Router};

#[derive(Clone, Copy)]
enum Page {
    Hello,
    Greet,
}

struct Site {
    routes: Router<Page>,
}

impl App for Site {
    async fn call<R: Receive, S: Sender>(
        &self,
        scope: Scope,
        _receive: R,
        mut send: S,
    ) -> Result<(), AppError> {
        let Scope::Http(scope) = scope else {
            return Ok(()); // no WebSockets here; lifespan events need no answer
        };
        let text = match self.routes.route_scope(&scope) {
            Routed::Found(found) => match found.target() {
                Page::Hello => "Hello, World!".to_string(),
                Page::Greet => format!("Hello, {}!", found.param("name").unwrap_or_default()),
            },
            // 404, or 405 naming the methods the path takes; HEAD is answered by GET routes.
            Routed::Missed(miss) => return Ok(miss.answer(&mut send).await?),
        };
        let headers = Headers::new().with("content-type", "text/plain");
        send_response(&mut send, 200, headers, text).await?;
        Ok(())
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A handler's error is answered 500 and logged through `tracing`: show the logs.
    tracing_subscriber::fmt::init();
    let routes = Router::new()
        .get("/", Page::Hello)
        .get("/hello/{name}", Page::Greet);
    let bind = std::env::args().nth(1).unwrap_or("127.0.0.1:8000".into());
    let listener = Listener::bind(&bind).await?;
    println!("listening on http://{}", listener.describe());
    serve(listener, Site { routes }).await?; // until SIGINT/SIGTERM, then a graceful shutdown
    Ok(())
}
