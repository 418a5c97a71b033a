//! `GatewayServer`: the Cap'n Proto face of a [`Gateway`], implementing
//! `http.capnp:Gateway`.
//!
//! Runs on the broker's single RPC thread (capnp-rpc is `!Send`): the fetch
//! future is polled on the current task, no threads are spawned. Every
//! gateway error becomes one `failed` exception whose one-line reason starts
//! with its kind (`denied: …`), scrubbed of secrets once more on the way out.

use std::rc::Rc;

use caplet::http_capnp::{gateway, header, request, RedirectMode as WireRedirect};

use crate::error::Error;
use crate::gateway::{Gateway, RedirectMode, Request, Response};

/// Serves `http.capnp:Gateway` for one gateway.
#[derive(Debug)]
pub struct GatewayServer {
    gateway: Rc<Gateway>,
}

impl GatewayServer {
    /// Wraps a gateway.
    pub fn new(gateway: Gateway) -> GatewayServer {
        GatewayServer {
            gateway: Rc::new(gateway),
        }
    }

    /// Wraps a gateway and returns the capability clients call.
    pub fn client(gateway: Gateway) -> gateway::Client {
        capnp_rpc::new_client(GatewayServer::new(gateway))
    }
}

fn text(reader: capnp::text::Reader<'_>, what: &str) -> Result<String, Error> {
    reader
        .to_string()
        .map_err(|_| Error::BadRequest(format!("{what} is not valid utf-8")))
}

fn read_request(reader: request::Reader<'_>) -> Result<Request, Error> {
    fn bad(what: &'static str) -> impl Fn(capnp::Error) -> Error {
        move |_| Error::BadRequest(format!("malformed {what}"))
    }
    let method = text(reader.get_method().map_err(bad("method"))?, "method")?;
    let url = text(reader.get_url().map_err(bad("url"))?, "url")?;
    let mut headers = Vec::new();
    for h in reader.get_headers().map_err(bad("headers"))? {
        let name = text(h.get_name().map_err(bad("header name"))?, "header name")?;
        let value = text(h.get_value().map_err(bad("header value"))?, "header value")?;
        headers.push((name, value));
    }
    let body = reader.get_body().map_err(bad("body"))?.to_vec();
    let redirect = match reader.get_redirect() {
        Ok(WireRedirect::Follow) => RedirectMode::Follow,
        Ok(WireRedirect::Manual) => RedirectMode::Manual,
        Ok(WireRedirect::Error) => RedirectMode::Error,
        Err(capnp::NotInSchema(n)) => {
            return Err(Error::BadRequest(format!("unknown redirect mode {n}")))
        }
    };
    Ok(Request {
        method,
        url,
        headers,
        body,
        redirect,
    })
}

fn write_headers(
    mut list: capnp::struct_list::Builder<'_, header::Owned>,
    headers: &[(String, String)],
) {
    for (i, (name, value)) in headers.iter().enumerate() {
        let mut h = list.reborrow().get(i as u32);
        h.set_name(name);
        h.set_value(value);
    }
}

impl gateway::Server for GatewayServer {
    fn fetch(
        self: capnp::capability::Rc<Self>,
        params: gateway::FetchParams,
        mut results: gateway::FetchResults,
    ) -> impl std::future::Future<Output = Result<(), capnp::Error>> + 'static {
        let gateway = self.gateway.clone();
        let request = params
            .get()
            .and_then(|p| p.get_request())
            .map_err(|e| Error::BadRequest(format!("malformed request: {}", e.extra)))
            .and_then(read_request);
        async move {
            let response: Response = gateway.fetch(request?).await?;
            let mut out = results.get().init_response();
            out.set_status(response.status);
            out.set_status_text(&response.status_text);
            let count = u32::try_from(response.headers.len())
                .map_err(|_| Error::TooLarge("too many response headers".into()))?;
            write_headers(out.reborrow().init_headers(count), &response.headers);
            out.set_body(&response.body);
            out.set_url(&response.url);
            out.set_redirects(response.redirects);
            Ok(())
        }
    }
}
