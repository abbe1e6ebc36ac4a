//! Many sites behind one address. A [`SiteTable`] holds the sites by host
//! name (exact names, `*.` wildcards, one default), each with its
//! certificate and its routes by path prefix. Two readers share it: the
//! [`Router`], the service that sends each request to its site's route,
//! and [`SniCertificates`], the TLS resolver that picks each handshake's
//! certificate. [`Sites::replace`] swaps the table whole (a reload):
//! requests and handshakes already begun finish on the table they
//! started with, since each holds what it took from it.

mod certificates;
mod hosts;
mod redirect;
mod router;
mod table;

pub use certificates::{SniCertificates, load_certificate};
pub use hosts::HostPattern;
pub use redirect::{HttpsRedirect, Redirect};
pub use router::Router;
pub use table::{SiteBuilder, SiteTable, TableError};

use arc_swap::ArcSwap;
use std::sync::Arc;

/// The live site table, shared by the router and the certificate
/// resolver of every listener.
#[derive(Clone)]
pub struct Sites {
    table: Arc<ArcSwap<SiteTable>>,
}

impl Sites {
    /// Serves `table` until it is replaced.
    pub fn new(table: SiteTable) -> Sites {
        Sites {
            table: Arc::new(ArcSwap::from_pointee(table)),
        }
    }

    /// The service that routes requests by host and path.
    pub fn router(&self) -> Router {
        Router::new(self.table.clone())
    }

    /// The resolver that picks certificates by SNI, for a listener's
    /// `rustls::ServerConfig` (see [`crate::tls::sni_server_config`]).
    pub fn certificates(&self) -> Arc<SniCertificates> {
        Arc::new(SniCertificates::new(self.table.clone()))
    }

    /// The origins a TLS connection on a listener at `port` announces
    /// (RFC 8336): the sites presenting the certificate its handshake
    /// got, from the table live when it opens.
    pub fn origins(&self, port: u16) -> Arc<SiteOrigins> {
        Arc::new(SiteOrigins {
            table: self.table.clone(),
            port,
        })
    }

    /// New requests and handshakes use `table` from now on.
    pub fn replace(&self, table: SiteTable) {
        self.table.store(Arc::new(table));
    }

    /// The table in use now.
    pub fn current(&self) -> Arc<SiteTable> {
        self.table.load_full()
    }
}

/// The origins of a listener's TLS connections (see [`Sites::origins`]).
pub struct SiteOrigins {
    table: Arc<ArcSwap<SiteTable>>,
    port: u16,
}

impl crate::serve::ConnectionOrigins for SiteOrigins {
    fn origins(&self, info: &crate::service::ConnectionInfo, room: usize) -> Vec<String> {
        self.table
            .load()
            .origins_for(info.server_name.as_deref(), self.port, room)
    }
}
