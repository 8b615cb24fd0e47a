//! A TCP proxy between the browser and the server, so a test can take the network away from a
//! client: `down()` closes every connection and refuses new ones, `up()` lets them through
//! again, and `lose_replies(true)` keeps forwarding what the browser sends while dropping what
//! the server answers (a send that reaches the server whose ack never comes back).

use std::sync::{
    Arc, Mutex,
    atomic::{AtomicBool, Ordering},
};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    task::JoinHandle,
};

pub struct Proxy {
    /// `http://127.0.0.1:<port>`: open the client here.
    pub base: String,
    state: Arc<State>,
    accept: JoinHandle<()>,
}

#[derive(Default)]
struct State {
    down: AtomicBool,
    lose_replies: AtomicBool,
    pipes: Mutex<Vec<JoinHandle<()>>>,
}

impl Proxy {
    /// A proxy to `upstream` (`http://host:port`).
    pub async fn start(upstream: &str) -> Self {
        let target = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let state = Arc::new(State::default());
        let accept = tokio::spawn({
            let state = state.clone();
            async move {
                while let Ok((inbound, _)) = listener.accept().await {
                    if state.down.load(Ordering::SeqCst) {
                        drop(inbound); // refused: the network is down
                        continue;
                    }
                    let Ok(outbound) = TcpStream::connect(&target).await else {
                        continue;
                    };
                    let _ = inbound.set_nodelay(true);
                    let _ = outbound.set_nodelay(true);
                    let (client_read, client_write) = inbound.into_split();
                    let (server_read, server_write) = outbound.into_split();
                    let up = tokio::spawn(pipe(client_read, server_write, None));
                    let down = tokio::spawn(pipe(server_read, client_write, Some(state.clone())));
                    let mut pipes = state.pipes.lock().expect("pipes");
                    pipes.retain(|p| !p.is_finished());
                    pipes.extend([up, down]);
                }
            }
        });
        Self {
            base,
            state,
            accept,
        }
    }

    /// Cuts every open connection and refuses new ones.
    pub fn down(&self) {
        self.state.down.store(true, Ordering::SeqCst);
        for pipe in self.state.pipes.lock().expect("pipes").drain(..) {
            pipe.abort();
        }
    }

    pub fn up(&self) {
        self.state.lose_replies.store(false, Ordering::SeqCst);
        self.state.down.store(false, Ordering::SeqCst);
    }

    /// While on, what the server sends is dropped (the browser's frames still arrive).
    pub fn lose_replies(&self, on: bool) {
        self.state.lose_replies.store(on, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.down();
    }
}

/// Copies one direction; with `state`, it is the server's direction and may lose its bytes.
async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    state: Option<Arc<State>>,
) {
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if state
            .as_ref()
            .is_some_and(|s| s.lose_replies.load(Ordering::SeqCst))
        {
            continue;
        }
        if to.write_all(&buffer[..n]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}
