//! Where a delivery may go. An endpoint URL is an address the server will
//! call on an admin's say-so, so unless `webhooks.allow_private_targets` is
//! on it must not reach the internal network (SSRF): only `http`/`https`,
//! and never a loopback, private, link-local, unspecified, shared (CGNAT),
//! unique-local or otherwise internal address.
//!
//! Registration checks what the URL itself says (scheme, an IP literal,
//! `localhost`); it does not resolve names, because DNS answers change.
//! The check that counts runs at connect time: the HTTP client resolves
//! names through [`GuardedResolver`], which refuses the host if any of its
//! addresses is internal and otherwise hands the client exactly the
//! addresses it checked, so nothing can swap them in between.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::error::FieldError;

/// Longest URL accepted.
pub const MAX_URL_LEN: usize = 2_000;

/// Whether an address is internal: never a delivery target unless private
/// targets are allowed.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => internal_v4(v4),
        IpAddr::V6(v6) => internal_v6(v6),
    }
}

fn internal_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    a == 0 // "this network", 0.0.0.0 included
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || (a == 100 && (b & 0xc0) == 64) // shared address space (CGNAT), 100.64/10
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b & 0xfe) == 18) // benchmarking, 198.18/15
        || ip.is_documentation()
        || ip.is_multicast()
        || a >= 240 // reserved, and the broadcast address
}

fn internal_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return internal_v4(v4);
    }
    let s = ip.segments();
    let embedded = |hi: u16, lo: u16| {
        let [a, b] = hi.to_be_bytes();
        let [c, d] = lo.to_be_bytes();
        internal_v4(Ipv4Addr::new(a, b, c, d))
    };
    ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00 // unique local, fc00::/7
        || (s[0] & 0xffc0) == 0xfe80 // link-local, fe80::/10
        || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated), fec0::/10
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || (s[0] == 0x0100 && s[1..4] == [0, 0, 0]) // discard-only, 100::/64
        // IPv4-compatible (deprecated) ::a.b.c.d
        || (s[..6] == [0; 6] && embedded(s[6], s[7]))
        // NAT64, 64:ff9b::/96: an IPv4 address in disguise
        || (s[0] == 0x0064 && s[1] == 0xff9b && s[2..6] == [0; 4] && embedded(s[6], s[7]))
        // 6to4, 2002::/16
        || (s[0] == 0x2002 && embedded(s[1], s[2]))
}

/// Parses and checks an endpoint URL; errors name the field `url`.
pub fn parse_url(raw: &str, allow_private: bool) -> Result<Url, FieldError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(FieldError::new("url", "required"));
    }
    if raw.len() > MAX_URL_LEN {
        return Err(FieldError::new("url", "too_long").with("max", MAX_URL_LEN));
    }
    let url = Url::parse(raw).map_err(|_| FieldError::new("url", "invalid"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(FieldError::new("url", "url_scheme").with("value", url.scheme()));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(FieldError::new("url", "url_credentials"));
    }
    let Some(host) = url.host_str().filter(|h| !h.is_empty()) else {
        return Err(FieldError::new("url", "invalid"));
    };
    if !allow_private {
        let refused = match literal_ip(host) {
            Some(ip) => is_internal(ip),
            None => is_local_name(host),
        };
        if refused {
            return Err(FieldError::new("url", "url_internal").with("value", host));
        }
    }
    Ok(url)
}

/// The address of a host that is an IP literal (`[…]` for IPv6; the URL
/// parser has already normalised forms like `0x7f.1`).
fn literal_ip(host: &str) -> Option<IpAddr> {
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()
}

/// Names that always mean this machine.
fn is_local_name(name: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    name == "localhost" || name.ends_with(".localhost")
}

/// The internal address a delivery was refused for.
#[derive(Debug, thiserror::Error)]
#[error(
    "refused: {host} resolves to {ip}, an internal address (webhooks.allow_private_targets is off)"
)]
pub struct Refused {
    pub host: String,
    pub ip: IpAddr,
}

/// The address of a URL's host when it is an IP literal and internal.
pub fn refused_literal(url: &Url) -> Option<Refused> {
    let ip = literal_ip(url.host_str()?)?;
    is_internal(ip).then(|| Refused {
        host: ip.to_string(),
        ip,
    })
}

/// Resolves with the system resolver and refuses a name if any of its
/// addresses is internal; the client connects only to the addresses
/// returned here.
#[derive(Debug, Default)]
pub struct GuardedResolver;

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if let Some(bad) = addrs.iter().find(|a| is_internal(a.ip())) {
                return Err(Box::new(Refused { host, ip: bad.ip() }) as _);
            }
            let addrs: Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}

/// The HTTP client of deliveries: no redirects (a redirect is a failed
/// attempt, never a second target), no proxies from the environment, the
/// configured timeout, and the guarded resolver unless private targets are
/// allowed.
pub fn client(timeout: Duration, allow_private: bool) -> anyhow::Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .user_agent(concat!("Faena-Webhooks/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        .pool_idle_timeout(Duration::from_secs(30));
    if !allow_private {
        builder = builder.dns_resolver(Arc::new(GuardedResolver));
    }
    builder
        .build()
        .map_err(|e| anyhow::anyhow!("building the webhook HTTP client: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn internal_addresses_are_recognised() {
        for s in [
            "127.0.0.1",
            "127.8.9.10",
            "0.0.0.0",
            "0.1.2.3",
            "10.0.0.1",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.254",
            "192.0.0.8",
            "198.18.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.1.2.3",
            "::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2002:c0a8:0101::1",
        ] {
            assert!(is_internal(ip(s)), "{s} is internal");
        }
        for s in [
            "1.1.1.1",
            "8.8.8.8",
            "100.128.0.1",
            "172.32.0.1",
            "200.1.2.3",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
        ] {
            assert!(!is_internal(ip(s)), "{s} is public");
        }
    }

    #[test]
    fn urls_are_checked_on_their_face() {
        assert!(parse_url("https://hooks.example.com/faena", false).is_ok());
        assert!(parse_url("http://203.0.114.7:8080/x", false).is_ok());
        let code = |raw: &str| parse_url(raw, false).unwrap_err().code.to_string();
        assert_eq!(code(""), "required");
        assert_eq!(code("not a url"), "invalid");
        assert_eq!(code("ftp://files.example.com/"), "url_scheme");
        assert_eq!(code("file:///etc/passwd"), "url_scheme");
        assert_eq!(code("https://user:pw@example.com/"), "url_credentials");
        for internal in [
            "http://127.0.0.1:9000/",
            "http://localhost/",
            "http://api.localhost./",
            "http://[::1]/",
            "http://10.0.0.5/",
            "http://169.254.169.254/latest/meta-data",
            "http://0x7f.1/",
            "http://[::ffff:192.168.0.1]/",
            "http://100.64.1.1/",
            "http://[fd00::1]/",
        ] {
            let e = parse_url(internal, false).unwrap_err();
            assert_eq!((e.field.as_str(), e.code.as_ref()), ("url", "url_internal"));
            assert!(parse_url(internal, true).is_ok(), "{internal} when allowed");
        }
    }

    #[tokio::test]
    async fn the_resolver_refuses_names_of_internal_addresses() {
        let name: Name = "localhost".parse().unwrap();
        let Err(e) = GuardedResolver.resolve(name).await else {
            panic!("localhost resolved");
        };
        let refused = e.downcast_ref::<Refused>().unwrap();
        assert!(refused.ip.is_loopback());
        assert_eq!(refused.host, "localhost");
    }
}
