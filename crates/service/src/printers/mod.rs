//! Zebra printers the shop prints labels on: their address (raw TCP,
//! port 9100 unless said otherwise), resolution and whether they are in
//! use; the job that sends a label's ZPL to one; the admin page and API.
//!
//! The domain here is the parsing of what an admin types (an address, a
//! resolution); it knows nothing of orders, which `service.rs` brings in.

pub mod api;
pub mod job;
pub mod pages;
pub mod service;
pub mod store;

use std::net::{Ipv4Addr, Ipv6Addr};

use faena_platform::FieldError;

/// Zebra's raw printing port ("JetDirect").
pub const DEFAULT_PORT: u16 = 9100;
/// The resolutions Zebra desktop and industrial printers come in.
pub const DPIS: [u16; 2] = [203, 300];

/// A printer's network address: a host name or IP address and a port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    pub host: String,
    pub port: u16,
}

impl Address {
    /// `host:port`, `host` (port 9100), `[v6]:port` or a bare IPv6
    /// address. Errors name the `address` field.
    pub fn parse(raw: &str) -> Result<Address, FieldError> {
        let s = raw.trim();
        let invalid = || FieldError::new("address", "printer_address_invalid").with("value", s);
        if s.is_empty() {
            return Err(FieldError::new("address", "required"));
        }
        let (host, port) = if let Some(rest) = s.strip_prefix('[') {
            let (host, after) = rest.split_once(']').ok_or_else(invalid)?;
            host.parse::<Ipv6Addr>().map_err(|_| invalid())?;
            match after {
                "" => (host, None),
                _ => (host, Some(after.strip_prefix(':').ok_or_else(invalid)?)),
            }
        } else if s.matches(':').count() > 1 {
            s.parse::<Ipv6Addr>().map_err(|_| invalid())?;
            (s, None)
        } else {
            match s.split_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (s, None),
            }
        };
        if !host.contains(':') && !valid_host(host) {
            return Err(invalid());
        }
        let port = match port {
            None => DEFAULT_PORT,
            Some(p) => {
                let out_of_range = || {
                    FieldError::new("address", "printer_port_out_of_range")
                        .with("min", 1)
                        .with("max", 65535)
                };
                if p.is_empty() || !p.chars().all(|c| c.is_ascii_digit()) {
                    return Err(invalid());
                }
                match p.parse::<u32>() {
                    Ok(n) if (1..=65535).contains(&n) => n as u16,
                    _ => return Err(out_of_range()),
                }
            }
        };
        Ok(Address {
            host: host.to_ascii_lowercase(),
            port,
        })
    }
}

impl std::fmt::Display for Address {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// An IPv4 address or a DNS name (labels of letters, digits and hyphens).
fn valid_host(host: &str) -> bool {
    if host.parse::<Ipv4Addr>().is_ok() {
        return true;
    }
    // All digits and dots but not an IPv4 address (`300.1.1.1`): a typo.
    if host.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return false;
    }
    let host = host.strip_suffix('.').unwrap_or(host);
    !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

/// A resolution the printers come in, else an error naming `dpi`.
pub fn parse_dpi(dpi: i64) -> Result<u16, FieldError> {
    DPIS.into_iter()
        .find(|d| i64::from(*d) == dpi)
        .ok_or_else(|| {
            FieldError::new("dpi", "printer_dpi_unsupported").with("allowed", "203, 300")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(raw: &str) -> String {
        Address::parse(raw).expect(raw).to_string()
    }

    #[test]
    fn addresses_as_admins_type_them() {
        assert_eq!(ok("192.168.1.50"), "192.168.1.50:9100");
        assert_eq!(ok(" 192.168.1.50:6101 "), "192.168.1.50:6101");
        assert_eq!(ok("Zebra-Meson.local:9100"), "zebra-meson.local:9100");
        assert_eq!(ok("[fe80::1]:9100"), "[fe80::1]:9100");
        assert_eq!(ok("fe80::1"), "[fe80::1]:9100");
        assert_eq!(ok("localhost:1"), "localhost:1");
    }

    #[test]
    fn bad_addresses_name_the_field() {
        for bad in [
            "",
            "zebra:",
            "zebra:abc",
            "http://zebra:9100",
            "300.1.1.1",
            "zebra meson",
            "-zebra",
            "[fe80::1",
            "[nope]:9100",
            "a:b:c",
        ] {
            let e = Address::parse(bad).expect_err(bad);
            assert_eq!(e.field, "address", "{bad}");
        }
        for bad in ["zebra:0", "zebra:65536", "zebra:999999999999"] {
            let e = Address::parse(bad).expect_err(bad);
            assert_eq!(e.code, "printer_port_out_of_range", "{bad}");
        }
    }

    #[test]
    fn two_resolutions() {
        assert_eq!(parse_dpi(203).unwrap(), 203);
        assert_eq!(parse_dpi(300).unwrap(), 300);
        assert_eq!(parse_dpi(600).unwrap_err().field, "dpi");
    }
}
