//! The HTTP client under the `kube` client: kube's own stack (TLS from the
//! kubeconfig, its base URI, authentication, extra headers, retries of 429,
//! 503 and 504, connect/read/write timeouts) on TCP connections with
//! Nagle's algorithm off. Left out of kube's stack: its debug-level request
//! spans, and the expiry of client certificates from an exec plugin (kube
//! keeps it private); a kubeconfig with a proxy gets kube's own client.
//!
//! kube's default connector leaves Nagle on. A request whose headers and
//! body leave in two TLS records (every apply, every TLS handshake's last
//! flight) then holds its second record until the API server acknowledges
//! the first, and the server's kernel delays that acknowledgement by up to
//! 40 ms: tens of milliseconds per request on every cluster, most visible on
//! a fast one. Go's HTTP client and server (kubectl, the controllers, the
//! API server) turn Nagle off on every connection; so does this.

use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use kube::client::ConfigExt;
use kube::client::retry::RetryPolicy;
use kube::{Client, Config};
use tower::retry::RetryLayer;
use tower::{BoxError, ServiceBuilder};

/// A client for `config` whose connections send at once (kube's own
/// client when the kubeconfig names a proxy: it says which proxies it can
/// use, and this stack has none).
pub fn without_nagle(config: Config) -> Result<Client, kube::Error> {
    if config.proxy_url.is_some() {
        return Client::try_from(config);
    }
    let tls = config.rustls_https_connector_with_connector(tcp_connector())?;
    // The connect timeout covers the TLS handshake too, as in kube's stack.
    let mut timed = hyper_timeout::TimeoutConnector::new(tls);
    timed.set_connect_timeout(config.connect_timeout);
    timed.set_read_timeout(config.read_timeout);
    timed.set_write_timeout(config.write_timeout);
    timed.set_reset_reader_on_write(config.reset_reader_on_write);
    let http = hyper_util::client::legacy::Client::builder(TokioExecutor::new()).build(timed);
    let service = ServiceBuilder::new()
        .layer(config.base_uri_layer())
        .option_layer(
            config
                .default_retry
                .then(|| RetryLayer::new(RetryPolicy::server_retry())),
        )
        .option_layer(config.auth_layer()?)
        .layer(config.extra_headers_layer()?)
        .map_err(BoxError::from)
        .service(http);
    Ok(Client::new(service, config.default_namespace))
}

/// The TCP connections under TLS: Nagle off.
fn tcp_connector() -> HttpConnector {
    let mut tcp = HttpConnector::new();
    tcp.enforce_http(false);
    tcp.set_nodelay(true);
    tcp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn connections_are_opened_with_nagle_off() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let mut connector = tcp_connector();
        let uri = format!("http://{address}").parse().unwrap();
        let stream = tower::Service::call(&mut connector, uri).await.unwrap();
        assert!(stream.inner().nodelay().unwrap(), "TCP_NODELAY is set");
        // kube's own default connector leaves it off: what this module is for.
        let mut default = HttpConnector::new();
        let uri = format!("http://{address}").parse().unwrap();
        let stream = tower::Service::call(&mut default, uri).await.unwrap();
        assert!(!stream.inner().nodelay().unwrap());
    }
}
