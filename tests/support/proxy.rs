//! A TCP proxy on 127.0.0.1 in front of RabbitMQ that a test can cut and
//! restore, to play a broker outage without disturbing other tests.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub struct Proxy {
    pub port: u16,
    upstream: SocketAddr,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept: Option<JoinHandle<()>>,
    /// While true, connections stay open but no byte moves either way: a
    /// half-open broker, as a stalled network or a blocked broker looks.
    frozen: watch::Sender<bool>,
}

/// Copies one direction, holding bytes while the proxy is frozen.
async fn pump(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, mut frozen: watch::Receiver<bool>) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        if frozen.wait_for(|f| !*f).await.is_err() {
            return;
        }
        let n = tokio::select! {
            r = from.read(&mut buf) => match r {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            },
            _ = frozen.wait_for(|f| *f) => continue,
        };
        if frozen.wait_for(|f| !*f).await.is_err() || to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
    let _ = to.shutdown().await;
}

impl Proxy {
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut p = Self {
            port,
            upstream,
            tasks: Arc::default(),
            accept: None,
            frozen: watch::channel(false).0,
        };
        p.accept = Some(p.spawn_accept(listener));
        p
    }

    fn spawn_accept(&self, listener: TcpListener) -> JoinHandle<()> {
        let upstream = self.upstream;
        let tasks = Arc::clone(&self.tasks);
        let frozen = self.frozen.subscribe();
        tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                let frozen = frozen.clone();
                let task = tokio::spawn(async move {
                    if let Ok(outbound) = TcpStream::connect(upstream).await {
                        let (in_read, in_write) = inbound.into_split();
                        let (out_read, out_write) = outbound.into_split();
                        tokio::join!(
                            pump(in_read, out_write, frozen.clone()),
                            pump(out_read, in_write, frozen),
                        );
                    }
                });
                tasks.lock().unwrap().push(task);
            }
        })
    }

    /// Closes every proxied connection and refuses new ones.
    pub fn cut(&mut self) {
        if let Some(a) = self.accept.take() {
            a.abort();
        }
        for t in self.tasks.lock().unwrap().drain(..) {
            t.abort();
        }
    }

    /// Stops moving bytes, keeping every connection open.
    pub fn freeze(&self) {
        self.frozen.send_replace(true);
    }

    /// Moves the held bytes and everything after them again.
    pub fn thaw(&self) {
        self.frozen.send_replace(false);
    }

    /// Listens again on the same port.
    pub async fn restore(&mut self) {
        let listener = loop {
            match TcpListener::bind(("127.0.0.1", self.port)).await {
                Ok(l) => break l,
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
            }
        };
        self.accept = Some(self.spawn_accept(listener));
    }

    pub fn url(&self) -> String {
        format!("amqp://guest:guest@127.0.0.1:{}/%2f", self.port)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.cut();
    }
}
