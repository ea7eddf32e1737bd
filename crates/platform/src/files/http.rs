//! The HTTP transport of the S3 and Azure stores: the workspace's reqwest
//! 0.12 (rustls on ring, the bundled Mozilla roots), plugged into
//! `object_store` as its `HttpConnector`. `object_store`'s own transport
//! would bring a second reqwest, a second TLS stack and aws-lc-rs.

use std::time::Duration;

use http_body_util::BodyExt;
use object_store::client::{
    HttpClient, HttpConnector, HttpError, HttpErrorKind, HttpRequest, HttpResponse,
    HttpResponseBody, HttpService,
};
use object_store::{ClientConfigKey, ClientOptions};

/// Connecting may take this long (as `object_store`'s default).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// One request may take this long; a 5 MiB part at 200 kB/s fits.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Makes the clients of `AmazonS3Builder` and `MicrosoftAzureBuilder`.
#[derive(Debug, Default)]
pub struct Connector;

impl HttpConnector for Connector {
    fn connect(&self, options: &ClientOptions) -> object_store::Result<HttpClient> {
        let allow_http = options
            .get_config_value(&ClientConfigKey::AllowHttp)
            .is_some_and(|v| v.eq_ignore_ascii_case("true"));
        let client = reqwest::Client::builder()
            .https_only(!allow_http)
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|e| object_store::Error::Generic {
                store: "files",
                source: Box::new(e),
            })?;
        Ok(HttpClient::new(Client(client)))
    }
}

#[derive(Debug)]
struct Client(reqwest::Client);

#[async_trait::async_trait]
impl HttpService for Client {
    async fn call(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        let (parts, body) = request.into_parts();
        // The body is in memory already (a part is at most 5 MiB); whole,
        // it goes out with its Content-Length, which S3 requires.
        let body = body.collect().await?.to_bytes();
        let request = axum::http::Request::from_parts(parts, reqwest::Body::from(body));
        let request = reqwest::Request::try_from(request).map_err(|e| error(e, None))?;
        let response = self.0.execute(request).await.map_err(|e| error(e, None))?;
        let response: axum::http::Response<reqwest::Body> = response.into();
        let (parts, body) = response.into_parts();
        let body = body.map_err(|e| error(e, Some(HttpErrorKind::Interrupted)));
        Ok(axum::http::Response::from_parts(
            parts,
            HttpResponseBody::new(body),
        ))
    }
}

/// `object_store` retries by kind: a refused connection, a timeout or a
/// cut-off body may succeed next time.
fn error(e: reqwest::Error, reading: Option<HttpErrorKind>) -> HttpError {
    let kind = if e.is_timeout() {
        HttpErrorKind::Timeout
    } else if e.is_connect() {
        HttpErrorKind::Connect
    } else if e.is_decode() {
        HttpErrorKind::Decode
    } else if let Some(kind) = reading {
        kind
    } else if e.is_request() || e.is_body() {
        HttpErrorKind::Request
    } else {
        HttpErrorKind::Unknown
    };
    HttpError::new(kind, e.without_url())
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn get(options: ClientOptions, url: &str) -> HttpError {
        let client = Connector.connect(&options).expect("a client");
        let request = axum::http::Request::get(url)
            .body(object_store::client::HttpRequestBody::empty())
            .expect("a request");
        client.execute(request).await.expect_err("nothing listens")
    }

    #[tokio::test]
    async fn plain_http_only_when_allowed() {
        // Port 9 (discard) on loopback: nothing listens in a test sandbox.
        let url = "http://127.0.0.1:9/bucket/key";
        let refused = get(ClientOptions::new(), url).await;
        assert_ne!(
            refused.kind(),
            HttpErrorKind::Connect,
            "refused before connecting: {refused}"
        );
        let tried = get(ClientOptions::new().with_allow_http(true), url).await;
        assert_eq!(tried.kind(), HttpErrorKind::Connect, "{tried}");
    }
}
