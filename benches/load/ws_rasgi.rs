//! rasgi's own WebSocket echo for benches/load/ws.sh, without the demo's middleware: the
//! counterpart of benches/load/ws_peer.rs (every text or binary message back as it came, on a
//! one-thread runtime). The shipped binary's `/ws/echo`, behind the demo stack, is measured
//! beside it.
//!
//!   load_ws_rasgi --bind 127.0.0.1:8003

use rasgi::protocol::{
    send_response, App, AppError, Event, Headers, Message, Receive, Scope, Sender,
};
use rasgi::server::{Listener, Server, ServerConfig};

struct Echo;

impl App for Echo {
    async fn call<R: Receive, S: Sender>(
        &self,
        scope: Scope,
        mut receive: R,
        mut send: S,
    ) -> Result<(), AppError> {
        match scope {
            Scope::WebSocket(scope) => {
                // The scope is not needed past the handshake: its room goes back now.
                drop(scope);
                if receive.receive().await != Event::WebSocketConnect {
                    return Ok(());
                }
                send.send(Message::accept()).await?;
                while let Event::WebSocketReceive(data) = receive.receive().await {
                    send.send(Message::WebSocketSend(data)).await?;
                }
                Ok(())
            }
            // Boxed: an app's future is as large as its largest branch, and a WebSocket's
            // future lives as long as the WebSocket.
            Scope::Http(_) => {
                Box::pin(async move {
                    send_response(&mut send, 404, Headers::new(), "not found").await?;
                    Ok(())
                })
                .await
            }
            Scope::Lifespan(_) => Ok(()),
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let bind = args
        .iter()
        .position(|a| a == "--bind")
        .and_then(|i| args.get(i + 1))
        .cloned()
        .unwrap_or_else(|| "127.0.0.1:8003".into());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let listener = Listener::bind(&bind).await.expect("bind");
        let config = ServerConfig {
            access_log: false,
            ..ServerConfig::default()
        };
        let server = Server::with_config(Echo, config);
        server.stop_on(rasgi::server::signals());
        server.serve(listener).await.expect("serve");
    });
}
