//! Devices on other machines, through burn's remote backend over WebSocket (feature
//! `remote`): connecting them with errors that name the server, and a [`Watchdog`] that
//! turns a server lost in the middle of a run into an error, after a bounded wait, instead
//! of a panic or a hang.
//!
//! A server is any program that calls burn's
//! `RemoteServer::new([device]).serve(WebSocketTransport::new(port))` (burn features
//! `remote-server` and `remote-websocket`); `examples/remote_devices.rs` is one, serving
//! Flex. A client connects its devices and trains on them as on local ones:
//!
//! ```no_run
//! use burn::train::{ExecutionStrategy, MultiDeviceOptim};
//! use cyclr_burn::remote::{Watchdog, connect_all};
//!
//! let urls = ["ws://10.0.0.2:3000", "ws://10.0.0.3:3000"];
//! let devices: Vec<_> = connect_all(&urls)?.into_iter().map(|d| d.autodiff()).collect();
//! let strategy = ExecutionStrategy::multi(devices, MultiDeviceOptim::OptimMainDevice);
//! let trained = Watchdog::new(&urls).run(move || {
//!     // SupervisedTraining::new(..).with_training_strategy(strategy.into()).launch(learner)
//!     # let _ = strategy;
//! })?;
//! # Ok::<(), cyclr_burn::remote::RemoteError>(())
//! ```
//!
//! burn 0.22.1's remote backend reduces gradients only between devices of one server
//! (`cross-peer all_reduce is not supported yet`), so across machines the strategy is
//! `MultiDevice`; [`check_strategy`](crate::update_plan::check_strategy) refuses DDP there
//! before it starts.

use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use burn::remote::RemoteHost;
use burn::tensor::Device;

/// Why a remote device could not be connected or was lost.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum RemoteError {
    /// The address is not a WebSocket address this client can dial.
    #[error("{url:?} is not a remote device address: {reason}; give ws://host:port")]
    BadAddress {
        /// The address given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The server did not accept the device's session.
    #[error(
        "cannot connect the remote device at {url} (is its server running and listening \
         there?): {reason}"
    )]
    Connect {
        /// The server's address.
        url: String,
        /// burn's reason.
        reason: String,
    },
    /// A server stopped answering during the run.
    #[error(
        "remote device {index} at {url} was lost during the run: {reason}. Checkpoints already \
         written are kept: restart its server and resume from the last one"
    )]
    Lost {
        /// The device's position in the list the watchdog watches.
        index: usize,
        /// The server's address.
        url: String,
        /// What the watchdog saw.
        reason: String,
    },
    /// The run went past its time limit with every server still answering.
    #[error(
        "the run did not end within its limit of {limit_s} s although every remote server still \
         answers: burn 0.22.1's remote client can wait forever on a read (a stall); run it again, \
         from the last checkpoint"
    )]
    Stalled {
        /// The limit, in seconds.
        limit_s: f64,
    },
    /// The run failed while every server still answered.
    #[error("the run failed while every remote server still answered: {message}")]
    Failed {
        /// The panic's message.
        message: String,
    },
}

/// The host and port of a `ws://host:port` address.
fn socket_address(url: &str) -> Result<SocketAddr, RemoteError> {
    let bad = |reason: &str| RemoteError::BadAddress {
        url: url.to_string(),
        reason: reason.to_string(),
    };
    let rest = url
        .strip_prefix("ws://")
        .ok_or_else(|| bad("it does not start with ws://"))?;
    let authority = rest.split('/').next().unwrap_or_default();
    if !authority.contains(':') {
        return Err(bad("it names no port"));
    }
    authority
        .to_socket_addrs()
        .map_err(|e| bad(&format!("its host cannot be resolved ({e})")))?
        .next()
        .ok_or_else(|| bad("its host resolves to no address"))
}

/// Device 0 of the server at `url` (`ws://host:port`), connected: its session is open when
/// this returns. Call `.autodiff()` on it to train.
pub fn connect(url: &str) -> Result<Device, RemoteError> {
    connect_device(url, 0)
}

/// Device `index` of the server at `url`, connected.
pub fn connect_device(url: &str, index: usize) -> Result<Device, RemoteError> {
    socket_address(url)?;
    Device::remote_options(&RemoteHost::websocket(url))
        .device_index(index)
        .init()
        .map_err(|e| RemoteError::Connect {
            url: if index == 0 {
                url.to_string()
            } else {
                format!("{url} (device {index})")
            },
            reason: e.to_string(),
        })
}

/// One device per address, in order: a server's device 0 the first time its address comes,
/// device 1 the second time, and so on. The first that cannot be connected is the error.
pub fn connect_all(urls: &[impl AsRef<str>]) -> Result<Vec<Device>, RemoteError> {
    urls.iter()
        .enumerate()
        .map(|(i, url)| {
            let url = url.as_ref();
            let earlier = urls[..i].iter().filter(|u| u.as_ref() == url).count();
            connect_device(url, earlier)
        })
        .collect()
}

/// Runs a training (or a range test) on remote devices and watches their servers, so that
/// a server that goes away ends the run with [`RemoteError::Lost`], naming it, within a
/// bounded time.
///
/// burn's remote client fails a read on a closed connection, which panics inside burn-train;
/// a server that vanishes without closing its connection can leave the run waiting. The
/// watchdog probes every server's port while the run goes on, catches the panic, and once a
/// server stops accepting connections gives the run [`with_grace`](Self::with_grace) to end
/// before returning the error anyway.
#[derive(Debug, Clone)]
pub struct Watchdog {
    servers: Vec<(String, SocketAddr)>,
    bad: Option<RemoteError>,
    probe_every: Duration,
    grace: Duration,
    limit: Option<Duration>,
}

impl Watchdog {
    /// Watches the servers at `urls` (`ws://host:port`), in the order of the devices.
    pub fn new(urls: &[impl AsRef<str>]) -> Self {
        let mut servers = Vec::new();
        let mut bad = None;
        for url in urls {
            match socket_address(url.as_ref()) {
                Ok(addr) => servers.push((url.as_ref().to_string(), addr)),
                Err(e) => bad = bad.or(Some(e)),
            }
        }
        Self {
            servers,
            bad,
            probe_every: Duration::from_millis(250),
            grace: Duration::from_secs(5),
            limit: None,
        }
    }

    /// How long the run may go on after a server was found gone before [`run`](Self::run)
    /// returns without it (default 5 s).
    pub fn with_grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// The longest the run may take: past it, [`run`](Self::run) returns
    /// [`RemoteError::Stalled`] (no limit by default).
    pub fn with_time_limit(mut self, limit: Duration) -> Self {
        self.limit = Some(limit);
        self
    }

    /// How often the servers are probed (default every 250 ms).
    pub fn with_probe_every(mut self, every: Duration) -> Self {
        self.probe_every = every;
        self
    }

    /// The first server that does not accept a connection, with the reason.
    fn lost_server(&self) -> Option<RemoteError> {
        let timeout = self.probe_every.max(Duration::from_millis(500));
        self.servers
            .iter()
            .enumerate()
            .find_map(|(index, (url, addr))| {
                TcpStream::connect_timeout(addr, timeout)
                    .err()
                    .map(|e| RemoteError::Lost {
                        index,
                        url: url.clone(),
                        reason: format!("its server no longer accepts connections ({e})"),
                    })
            })
    }

    /// Runs `run` on its own thread and returns what it returns, or the error above.
    ///
    /// When a server was lost and the run has not ended within the grace period, or the run
    /// passed its time limit, this returns the error and leaves the run's thread behind,
    /// blocked: end the process after reporting the error.
    pub fn run<T: Send + 'static>(
        &self,
        run: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, RemoteError> {
        if let Some(e) = &self.bad {
            return Err(e.clone());
        }
        let (done, outcome) = mpsc::channel();
        thread::Builder::new()
            .name("cyclr-remote-run".into())
            .spawn(move || {
                let _ = done.send(catch_unwind(AssertUnwindSafe(run)));
            })
            .map_err(|e| RemoteError::Failed {
                message: format!("cannot start the run's thread: {e}"),
            })?;
        let mut lost: Option<(RemoteError, Instant)> = None;
        let started = Instant::now();
        loop {
            if let Some(limit) = self.limit
                && lost.is_none()
                && started.elapsed() > limit
            {
                return Err(self.lost_server().unwrap_or(RemoteError::Stalled {
                    limit_s: limit.as_secs_f64(),
                }));
            }
            match outcome.recv_timeout(self.probe_every) {
                Ok(Ok(value)) => return Ok(value),
                Ok(Err(panic)) => {
                    let message = panic_message(panic.as_ref());
                    return Err(match lost.map(|l| l.0).or_else(|| self.lost_server()) {
                        Some(RemoteError::Lost {
                            index, url, reason, ..
                        }) => RemoteError::Lost {
                            index,
                            url,
                            reason: format!("{reason}; the run stopped with: {message}"),
                        },
                        _ => RemoteError::Failed { message },
                    });
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(RemoteError::Failed {
                        message: "the run's thread ended without a result".into(),
                    });
                }
                Err(mpsc::RecvTimeoutError::Timeout) => match &lost {
                    Some((error, since)) if since.elapsed() >= self.grace => {
                        return Err(error.clone());
                    }
                    Some(_) => {}
                    None => lost = self.lost_server().map(|e| (e, Instant::now())),
                },
            }
        }
    }
}

/// The text of a panic's payload.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "a panic without a message".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_must_be_websocket_with_a_port() {
        assert!(socket_address("ws://127.0.0.1:3000").is_ok());
        for url in ["http://127.0.0.1:3000", "ws://127.0.0.1", "127.0.0.1:3000"] {
            let e = socket_address(url).unwrap_err();
            assert!(
                matches!(e, RemoteError::BadAddress { .. }) && e.to_string().contains("ws://"),
                "{url}: {e}"
            );
        }
    }

    #[test]
    fn a_server_that_is_not_there_is_named() {
        // A port nobody listens on: bind one, then free it.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("ws://127.0.0.1:{port}");
        let e = Watchdog::new(&[&url])
            .with_grace(Duration::from_millis(300))
            .run(|| thread::sleep(Duration::from_secs(3600)))
            .unwrap_err();
        match &e {
            RemoteError::Lost { index, url: u, .. } => assert_eq!((*index, u), (0, &url)),
            other => panic!("{other:?}"),
        }
        assert!(e.to_string().contains(&url), "{e}");
    }

    #[test]
    fn a_panic_with_every_server_up_is_a_failure_with_its_message() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("ws://{}", listener.local_addr().unwrap());
        let e = Watchdog::new(&[url])
            .run(|| panic!("shape mismatch"))
            .unwrap_err();
        assert_eq!(
            e,
            RemoteError::Failed {
                message: "shape mismatch".into()
            }
        );
        assert_eq!(Watchdog::new(&["ws://127.0.0.1:1"]).run(|| 7), Ok(7));
        let stalled = Watchdog::new(&[format!("ws://{}", listener.local_addr().unwrap())])
            .with_time_limit(Duration::from_millis(300))
            .run(|| thread::sleep(Duration::from_secs(3600)));
        assert_eq!(stalled, Err(RemoteError::Stalled { limit_s: 0.3 }));
    }
}
