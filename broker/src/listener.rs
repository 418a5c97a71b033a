//! Accepting clients on a Unix socket: one RPC connection each, bootstrapped
//! with its own `Broker` service.

use std::path::{Path, PathBuf};
use std::rc::Rc;

use caplet::caplet_capnp::broker;
use capnp_rpc::{rpc_twoparty_capnp, twoparty, RpcSystem};
use futures::AsyncReadExt;
use tokio_util::compat::TokioAsyncReadCompatExt;

use crate::error::Error;
use crate::service::{BrokerService, Shared};

/// A bound Unix socket; the socket file is removed when this is dropped.
pub struct UnixListener {
    listener: tokio::net::UnixListener,
    path: PathBuf,
}

impl UnixListener {
    /// Binds `path`. A stale socket file left by a dead broker is replaced; a
    /// live one (something accepts connections there) is an error.
    pub fn bind(path: &Path) -> Result<Self, Error> {
        if path.exists() {
            if std::os::unix::net::UnixStream::connect(path).is_ok() {
                return Err(Error::io(
                    format!("bind {}", path.display()),
                    std::io::Error::new(
                        std::io::ErrorKind::AddrInUse,
                        "another broker is listening there",
                    ),
                ));
            }
            std::fs::remove_file(path)
                .map_err(|e| Error::io(format!("remove stale socket {}", path.display()), e))?;
        }
        let listener = tokio::net::UnixListener::bind(path)
            .map_err(|e| Error::io(format!("bind {}", path.display()), e))?;
        // Only the owner may connect: the socket is the broker's front door.
        std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .map_err(|e| Error::io(format!("chmod {}", path.display()), e))?;
        Ok(Self {
            listener,
            path: path.to_path_buf(),
        })
    }

    /// The socket's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Accepts clients forever, serving each on the current `LocalSet`.
    pub async fn serve(&self, shared: Rc<Shared>) -> Result<(), Error> {
        loop {
            let (stream, _) = self
                .listener
                .accept()
                .await
                .map_err(|e| Error::io("accept", e))?;
            let client: broker::Client = capnp_rpc::new_client(BrokerService::new(shared.clone()));
            let (reader, writer) = stream.compat().split();
            let network = twoparty::VatNetwork::new(
                futures::io::BufReader::new(reader),
                futures::io::BufWriter::new(writer),
                rpc_twoparty_capnp::Side::Server,
                crate::reader_options(),
            );
            let rpc = RpcSystem::new(Box::new(network), Some(client.client));
            tokio::task::spawn_local(async move {
                // A client that sends garbage ends only its own connection.
                let _ = rpc.await;
            });
        }
    }
}

impl Drop for UnixListener {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
