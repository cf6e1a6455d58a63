//! `jobgen dashboard`: a local web UI over the operator library. It is one more caller of
//! [`jobgen_ops::Ops`] (list, job, cancel, retry, stats, logs): it renders the data the CLI prints,
//! and never reads or writes the table another way.
//!
//! Served by axum (on the hyper already in the dependency tree) as server-rendered HTML: minijinja
//! templates with HTML auto-escaping, charts drawn as inline SVG on the server ([`charts`]), and a
//! small script that polls HTML fragments for live updates. Templates, script and style are
//! embedded in the binary ([`pages::templates`]).
//!
//! Security ([`guard`]): it binds 127.0.0.1 unless told otherwise; every request must name a
//! loopback (or the bound) host, so a DNS-rebinding page cannot reach it; a state-changing request
//! whose `Sec-Fetch-Site` or `Origin` says it comes from another site is refused (403); every query
//! parameter is validated (400 with a message, [`params`]).

pub mod charts;
pub mod pages;
pub mod params;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use jobgen_ops::{Ops, OpsError};

/// What the server shares between requests.
#[derive(Debug)]
pub struct AppState {
    /// The stack.
    pub ops: Ops,
    /// The templates.
    pub templates: minijinja::Environment<'static>,
    /// The address it listens on (its host is accepted in `Host` and `Origin`).
    pub addr: SocketAddr,
    /// The queues to show (key and limit), from the project's jobgen.yaml; empty when unknown.
    pub queues: Vec<(String, Option<u32>)>,
}

/// Shared state.
pub type Shared = Arc<AppState>;

/// An error answered to the browser: a status and a message (rendered as a small page).
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// A bad parameter or form (400).
    #[error("{0}")]
    BadRequest(String),
    /// Refused (403).
    #[error("{0}")]
    Forbidden(String),
    /// No such page or job (404).
    #[error("{0}")]
    NotFound(String),
    /// An operator call failed.
    #[error(transparent)]
    Ops(#[from] OpsError),
    /// A template could not be rendered (500; a defect).
    #[error("rendering {0}")]
    Render(String),
}

impl WebError {
    fn status(&self) -> StatusCode {
        match self {
            WebError::BadRequest(_) => StatusCode::BAD_REQUEST,
            WebError::Forbidden(_) => StatusCode::FORBIDDEN,
            WebError::NotFound(_) => StatusCode::NOT_FOUND,
            WebError::Ops(OpsError::Usage { .. }) => StatusCode::BAD_REQUEST,
            WebError::Ops(OpsError::JobNotFound { .. }) => StatusCode::NOT_FOUND,
            WebError::Ops(OpsError::JobState { .. }) => StatusCode::CONFLICT,
            WebError::Ops(OpsError::WaitTimedOut { .. }) => StatusCode::GATEWAY_TIMEOUT,
            WebError::Ops(OpsError::Aws { .. } | OpsError::Unreachable { .. }) => StatusCode::BAD_GATEWAY,
            WebError::Render(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let status = self.status();
        let help = match &self {
            WebError::Ops(e) => e.help(),
            _ => String::new(),
        };
        let body = format!(
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>{code} · jobgen</title>\
             <link rel=\"stylesheet\" href=\"/assets/app.css\"></head><body><main><h1>{code}</h1>\
             <p class=\"error\" id=\"error\">{message}</p><p class=\"help\">{help}</p>\
             <p><a href=\"/\">back to the jobs</a></p></main></body></html>",
            code = status.as_u16(),
            message = escape(&self.to_string()),
            help = escape(&help),
        );
        (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response()
    }
}

/// HTML-escapes text (for the few strings built outside templates).
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The routes, with the guard in front of every one.
pub fn router(state: Shared) -> Router {
    Router::new()
        .route("/", get(pages::list))
        .route("/jobs/rows", get(pages::rows))
        .route("/jobs/{id}", get(pages::detail))
        .route("/jobs/{id}/panel", get(pages::panel))
        .route("/jobs/{id}/cancel", post(pages::cancel))
        .route("/jobs/{id}/retry", post(pages::retry))
        .route("/actions", post(pages::bulk))
        .route("/stats", get(pages::stats))
        .route("/queue", get(pages::queue))
        .route("/assets/{name}", get(pages::asset))
        .fallback(|| async { WebError::NotFound("no such page".into()) })
        .layer(axum::middleware::from_fn_with_state(state.clone(), guard))
        .with_state(state)
}

/// Whether `host` (a `Host` header's or an origin's host, port removed) names this server:
/// a loopback name or address, or the address it is bound to.
fn is_own_host(host: &str, addr: &SocketAddr) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    match host.parse::<IpAddr>() {
        // Bound to every address (`--bind 0.0.0.0`): any of the machine's addresses, never a name.
        Ok(ip) => ip.is_loopback() || ip == addr.ip() || addr.ip().is_unspecified(),
        Err(_) => false,
    }
}

/// The host part of `host[:port]` (IPv6 in brackets kept whole).
fn host_part(authority: &str) -> &str {
    if authority.starts_with('[') {
        return authority.split_inclusive(']').next().unwrap_or(authority);
    }
    authority.rsplit_once(':').map_or(authority, |(h, _)| h)
}

/// Refuses requests for another host (DNS rebinding) and cross-site state-changing requests.
async fn guard(State(state): State<Shared>, request: Request, next: Next) -> Response {
    let headers = request.headers();
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or_default();
    if !is_own_host(host_part(host), &state.addr) {
        return WebError::Forbidden(format!(
            "Host {host:?}: this dashboard answers only to its own address (http://{})",
            state.addr
        ))
        .into_response();
    }
    let safe = matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if !safe {
        let fetch_site = headers.get("sec-fetch-site").and_then(|h| h.to_str().ok());
        if let Some(site) = fetch_site
            && !matches!(site, "same-origin" | "none")
        {
            return WebError::Forbidden(format!(
                "Sec-Fetch-Site {site}: a state-changing request must come from the dashboard's own pages"
            ))
            .into_response();
        }
        if let Some(origin) = headers.get(header::ORIGIN).and_then(|h| h.to_str().ok()) {
            let authority = origin.strip_prefix("http://").unwrap_or("");
            if authority != host || !is_own_host(host_part(authority), &state.addr) {
                return WebError::Forbidden(format!(
                    "Origin {origin}: a state-changing request must come from the dashboard's own pages"
                ))
                .into_response();
            }
        }
    }
    next.run(request).await
}

/// How to serve.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The address to bind (127.0.0.1 by default at the CLI).
    pub bind: IpAddr,
    /// The port (0: any free one).
    pub port: u16,
    /// Open the browser on the URL once listening.
    pub open: bool,
    /// Called with the URL once listening (the CLI prints it).
    pub on_ready: fn(&str),
    /// The queues (key and limit) of the project, when its jobgen.yaml was found.
    pub queues: Vec<(String, Option<u32>)>,
}

/// The server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Binding failed.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The server stopped with an error.
    #[error("the server stopped: {0}")]
    Serve(std::io::Error),
    /// The embedded templates did not load (a defect).
    #[error("the dashboard's templates: {0}")]
    Templates(String),
}

/// Serves the dashboard for `ops` until Ctrl-C.
pub async fn serve(ops: Ops, options: ServeOptions) -> Result<(), ServeError> {
    let addr = SocketAddr::new(options.bind, options.port);
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|source| ServeError::Bind { addr, source })?;
    let addr = listener.local_addr().map_err(|source| ServeError::Bind { addr, source })?;
    let templates = pages::templates().map_err(|e| ServeError::Templates(e.to_string()))?;
    let url = match addr {
        SocketAddr::V6(a) => format!("http://[{}]:{}/", a.ip(), a.port()),
        SocketAddr::V4(a) => format!("http://{a}/"),
    };
    (options.on_ready)(&url);
    if options.open {
        open_browser(&url);
    }
    let state = Arc::new(AppState { ops, templates, addr, queues: options.queues });
    axum::serve(listener, router(state))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(ServeError::Serve)
}

/// Opens `url` in the desktop's browser (`xdg-open`, `open` on macOS); a failure is only told.
fn open_browser(url: &str) {
    let opener = if cfg!(target_os = "macos") { "open" } else { "xdg-open" };
    if let Err(e) = std::process::Command::new(opener)
        .arg(url)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
    {
        eprintln!("note: --open: cannot run {opener} ({e}); open {url} yourself");
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn only_own_hosts_are_accepted() {
        let addr: SocketAddr = "127.0.0.1:9000".parse().unwrap();
        assert!(is_own_host(host_part("127.0.0.1:9000"), &addr));
        assert!(is_own_host(host_part("localhost:9000"), &addr));
        assert!(is_own_host(host_part("[::1]:9000"), &addr));
        assert!(!is_own_host(host_part("evil.example:9000"), &addr));
        assert!(!is_own_host(host_part("10.0.0.1:9000"), &addr));
        let lan: SocketAddr = "10.0.0.5:9000".parse().unwrap();
        assert!(is_own_host(host_part("10.0.0.5:9000"), &lan));
        let any: SocketAddr = "0.0.0.0:9000".parse().unwrap();
        assert!(is_own_host(host_part("10.0.0.5:9000"), &any));
        assert!(!is_own_host(host_part("evil.example:9000"), &any));
        assert_eq!(escape("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
    }
}
