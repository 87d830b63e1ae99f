//! A TCP proxy the test can cut, to play a network partition between a pharmacy and its broker
//! without root or network namespaces.
//!
//! A cut is a black hole, not a refusal: connections stay open but nothing crosses in either
//! direction, and new connections are accepted and swallowed too — what a dead router or a
//! pulled cable looks like to both ends, which must notice by keep-alive. Healing closes
//! everything swallowed (both ends have long given up on it) and forwards new connections again.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

pub struct Proxy {
    pub addr: SocketAddr,
    /// `true` while the network is cut.
    cut: watch::Sender<bool>,
    accepted: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// Listens on a free loopback port and forwards to `upstream`.
    pub async fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("proxy port");
        let addr = listener.local_addr().expect("proxy address");
        let (cut, _) = watch::channel(false);
        let accepted = Arc::new(AtomicUsize::new(0));
        let task = tokio::spawn(accept_loop(
            listener,
            upstream,
            cut.clone(),
            accepted.clone(),
        ));
        Proxy {
            addr,
            cut,
            accepted,
            task,
        }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// From now on nothing crosses, on open connections or new ones.
    pub fn cut(&self) {
        self.cut.send_replace(true);
    }

    /// Closes whatever was swallowed and forwards again.
    pub fn heal(&self) {
        self.cut.send_replace(false);
    }

    /// Connections accepted so far (a reconnecting client makes more).
    pub fn connections(&self) -> usize {
        self.accepted.load(Ordering::Relaxed)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept_loop(
    listener: TcpListener,
    upstream: SocketAddr,
    cut: watch::Sender<bool>,
    accepted: Arc<AtomicUsize>,
) {
    loop {
        let Ok((inbound, _)) = listener.accept().await else {
            continue;
        };
        accepted.fetch_add(1, Ordering::Relaxed);
        let mut cut = cut.subscribe();
        tokio::spawn(async move {
            let _ = inbound.set_nodelay(true);
            let is_cut = *cut.borrow_and_update();
            if is_cut {
                // Swallowed: held open, never answered, closed when the network heals.
                healed(&mut cut).await;
                return;
            }
            let Ok(outbound) = TcpStream::connect(upstream).await else {
                return; // upstream down: the client sees its connection close, as it would
            };
            let _ = outbound.set_nodelay(true);
            let (mut inbound, mut outbound) = (inbound, outbound);
            tokio::select! {
                _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                _ = is_cut_now(&mut cut) => {
                    // Stop moving bytes but keep both sockets open until the network heals.
                    healed(&mut cut).await;
                }
            }
        });
    }
}

// `wait_for` hands back a borrow of the value that is not `Send`; drop it inside.
async fn is_cut_now(cut: &mut watch::Receiver<bool>) {
    let _ = cut.wait_for(|c| *c).await.map(|_| ());
}

async fn healed(cut: &mut watch::Receiver<bool>) {
    let _ = cut.wait_for(|c| !*c).await.map(|_| ());
}
