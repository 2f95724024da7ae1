//! The configured URLs (AWS_ENDPOINT_URL_DYNAMODB, REDIS_URL) taken apart by hand, so that
//! no URL crate is needed for the few shapes local/env.sh and its users write.

#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Endpoint {
    pub(super) host: String,
    pub(super) port: u16,
    pub(super) user: String,
    pub(super) password: String,
    /// From the first `/` on; empty when the URL has none.
    pub(super) path: String,
}

/// Host, port, credentials and path of `scheme://[user[:password]@]host[:port][/path]`
/// (`redis://password@host` is accepted, as by most Redis clients; `[v6]:port` too).
pub(super) fn parse_endpoint(url: &str, default_port: u16) -> Result<Endpoint, String> {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let (authority, path) = rest.find('/').map_or((rest, ""), |i| rest.split_at(i));
    let authority = authority.split('?').next().unwrap_or_default();
    let (userinfo, hostport) = authority.rsplit_once('@').unwrap_or(("", authority));
    let (user, password) = match userinfo.split_once(':') {
        Some((user, password)) => (user, password),
        None => ("", userinfo),
    };
    let (host, port) = match hostport.strip_prefix('[').and_then(|r| r.split_once(']')) {
        Some((host, after)) => (host, after.strip_prefix(':').unwrap_or(after)),
        None => match (hostport.split_once(':'), hostport.rsplit_once(':')) {
            (Some((host, _)), Some((_, port))) => (host, port),
            _ => (hostport, ""),
        },
    };
    if host.is_empty() {
        return Err(format!("cannot parse a host from '{url}'"));
    }
    let port = if port.is_empty() {
        default_port
    } else if port.bytes().all(|b| b.is_ascii_digit()) {
        port.parse()
            .map_err(|_| format!("cannot parse a port from '{url}'"))?
    } else {
        return Err(format!("cannot parse a port from '{url}'"));
    };
    Ok(Endpoint {
        host: host.to_string(),
        port,
        user: user.to_string(),
        password: password.to_string(),
        path: path.to_string(),
    })
}

pub(super) fn is_local_host(host: &str) -> bool {
    matches!(host, "127.0.0.1" | "localhost" | "::1" | "0.0.0.0")
}

pub(super) fn host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(host: &str, port: u16) -> Endpoint {
        Endpoint {
            host: host.into(),
            port,
            ..Default::default()
        }
    }

    #[test]
    fn endpoints_parse_as_local_env_writes_them() {
        assert_eq!(
            parse_endpoint("http://127.0.0.1:8000", 80),
            Ok(endpoint("127.0.0.1", 8000))
        );
        assert_eq!(
            parse_endpoint("redis://localhost", 6379),
            Ok(endpoint("localhost", 6379))
        );
        assert_eq!(
            parse_endpoint("https://dynamodb.eu-west-1.amazonaws.com", 443),
            Ok(endpoint("dynamodb.eu-west-1.amazonaws.com", 443))
        );
        assert_eq!(
            parse_endpoint("http://[::1]:8001/", 80),
            Ok(Endpoint {
                path: "/".into(),
                ..endpoint("::1", 8001)
            })
        );
    }

    #[test]
    fn credentials_path_and_query_are_split_off() {
        assert_eq!(
            parse_endpoint("redis://user:p:w@cache:6380/0?timeout=1", 6379),
            Ok(Endpoint {
                user: "user".into(),
                password: "p:w".into(),
                path: "/0?timeout=1".into(),
                ..endpoint("cache", 6380)
            })
        );
        assert_eq!(
            parse_endpoint("redis://secret@127.0.0.1:6390?db=1", 6379),
            Ok(Endpoint {
                password: "secret".into(),
                ..endpoint("127.0.0.1", 6390)
            })
        );
    }

    #[test]
    fn bad_endpoints_are_refused() {
        assert!(parse_endpoint("redis://:6379", 6379).is_err());
        assert!(parse_endpoint("redis://host:port", 6379).is_err());
        assert!(parse_endpoint("http://host:99999", 80).is_err());
    }
}
