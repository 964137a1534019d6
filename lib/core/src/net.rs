//! Which hosts are this machine: the only ones a credential may reach in plain HTTP (a local
//! test registry or git remote), as the Docker engine treats 127.0.0.0/8 as insecure.

/// `host[:port]` (IPv6 in brackets) is this machine: `localhost`, 127.0.0.0/8 or `::1`. A name
/// such as `127.example.org` is not.
pub fn loopback(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split_once(']').map_or(v6, |(ip, _)| ip),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    name.eq_ignore_ascii_case("localhost") || name.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The scheme (lowercased) and `host[:port]` of `scheme://[userinfo@]host[:port][/path]`.
pub fn scheme_and_host(url: &str) -> Option<(String, &str)> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let host = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    Some((scheme.to_ascii_lowercase(), host))
}

/// Whether what goes to `url` (a token) or comes from it (manifests to apply) is protected on
/// the way: HTTPS anywhere, plain HTTP to this machine only, never in the clear across a network
/// (nor any other scheme).
pub fn tls_or_loopback(url: &str) -> bool {
    match scheme_and_host(url) {
        Some((scheme, _)) if scheme == "https" => true,
        Some((scheme, host)) if scheme == "http" => loopback(host),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_this_machine_is_loopback() {
        for host in ["127.0.0.1:5001", "127.1.2.3", "localhost:5000", "LOCALHOST", "[::1]:5000", "[::1]"] {
            assert!(loopback(host), "{host}");
        }
        for host in ["127.example.org", "127.0.0.1.nip.io:5000", "localhost.example.org", "10.0.0.1:5000", "ghcr.io"] {
            assert!(!loopback(host), "{host}");
        }
    }

    #[test]
    fn secrets_go_over_https_or_to_this_machine() {
        for url in ["https://git.example.org/a.git", "HTTPS://x", "http://127.0.0.1:9419/r.git", "http://u@localhost/r"]
        {
            assert!(tls_or_loopback(url), "{url}");
        }
        let never = [
            "http://git.example.org/a.git",
            "http://127.0.0.1.nip.io/r.git",
            "http://localhost@evil.example/r.git",
            "git://127.0.0.1/r.git",
            "git.example.org:a.git",
        ];
        for url in never {
            assert!(!tls_or_loopback(url), "{url}");
        }
    }
}
