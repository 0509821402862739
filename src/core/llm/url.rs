//! Base URLs as users paste them: checked and normalised before anything is
//! sent, because every request URL is derived from one (so a key only ever goes
//! to its own provider's base).

use std::net::{Ipv4Addr, Ipv6Addr};

use super::{LlmError, ProviderKind};

/// Anthropic's own API, used when an Anthropic profile leaves the base blank.
pub(crate) const ANTHROPIC_DEFAULT_BASE: &str = "https://api.anthropic.com";

/// Why a pasted base URL cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UrlProblem {
    #[error("it is empty; enter the server's base URL, e.g. https://api.openai.com/v1")]
    Empty,
    #[error("it must start with http:// or https://")]
    NotHttp,
    #[error("there is no host name after the http(s)://")]
    NoHost,
    #[error("the port after the host name is not a number from 1 to 65535")]
    BadPort,
    #[error("it contains spaces")]
    Whitespace,
    #[error("it contains a user name or password, which browsers refuse to send")]
    Credentials,
    #[error("it contains a query (?) or fragment (#); paste only the base, e.g. https://api.openai.com/v1")]
    QueryOrFragment,
}

/// Where a host is, as far as the browser's rules for calling it are concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HostScope {
    /// This machine: `localhost`, 127.0.0.1, ::1.
    Loopback,
    /// The local network: private, link-local and carrier-grade NAT addresses,
    /// `.local` names and single-label host names.
    LocalNetwork,
    Internet,
}

/// A checked base URL: `http(s)://host[:port][/path]`, no trailing slash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BaseUrl {
    url: String,
    https: bool,
    scope: HostScope,
    has_path: bool,
}

impl BaseUrl {
    pub(crate) fn parse(kind: ProviderKind, input: &str) -> Result<BaseUrl, LlmError> {
        let trimmed = input.trim();
        let invalid = |problem| LlmError::InvalidBaseUrl {
            input: trimmed.to_owned(),
            problem,
        };
        if trimmed.is_empty() {
            return match kind {
                ProviderKind::Anthropic => BaseUrl::parse(kind, ANTHROPIC_DEFAULT_BASE),
                ProviderKind::OpenAiCompatible => Err(invalid(UrlProblem::Empty)),
            };
        }
        if trimmed.chars().any(char::is_whitespace) {
            return Err(invalid(UrlProblem::Whitespace));
        }
        let (scheme, rest) = trimmed
            .split_once("://")
            .ok_or(invalid(UrlProblem::NotHttp))?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return Err(invalid(UrlProblem::NotHttp));
        }
        if rest.contains(['?', '#']) {
            return Err(invalid(UrlProblem::QueryOrFragment));
        }
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        if authority.contains('@') {
            return Err(invalid(UrlProblem::Credentials));
        }
        let (host, port) = split_host_port(authority).map_err(invalid)?;
        let host = host.to_ascii_lowercase();
        let path = strip_endpoint_suffix(kind, path.trim_end_matches('/'));
        let mut url = format!("{scheme}://{host}");
        if let Some(port) = port {
            url.push(':');
            url.push_str(port);
        }
        url.push_str(path);
        Ok(BaseUrl {
            url,
            https: scheme == "https",
            scope: host_scope(&host),
            has_path: !path.is_empty(),
        })
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.url
    }

    /// The URL of an endpoint under this base; `path` starts with `/`.
    pub(crate) fn join(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    pub(crate) fn is_https(&self) -> bool {
        self.https
    }

    pub(crate) fn scope(&self) -> HostScope {
        self.scope
    }

    /// Whether anything follows the host (OpenAI-compatible APIs almost always
    /// live under a path such as `/v1`).
    pub(crate) fn has_path(&self) -> bool {
        self.has_path
    }
}

/// Checks a base URL as the user typed or pasted it and returns the form to
/// store: trimmed, without a trailing `/`, without an endpoint the user copied
/// along (`/chat/completions`; `/v1/messages` or `/v1` for Anthropic).
pub fn normalize_base_url(kind: ProviderKind, input: &str) -> Result<String, LlmError> {
    BaseUrl::parse(kind, input).map(|base| base.url)
}

fn split_host_port(authority: &str) -> Result<(&str, Option<&str>), UrlProblem> {
    let (host, port) = if authority.starts_with('[') {
        // An IPv6 literal: its colons are not a port separator.
        let end = authority.find(']').ok_or(UrlProblem::NoHost)? + 1;
        let (host, after) = authority.split_at(end);
        match after.strip_prefix(':') {
            Some(port) => (host, Some(port)),
            None if after.is_empty() => (host, None),
            None => return Err(UrlProblem::BadPort),
        }
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if host.is_empty() || host == "[]" {
        return Err(UrlProblem::NoHost);
    }
    if let Some(port) = port {
        let valid = port.bytes().all(|byte| byte.is_ascii_digit())
            && port.parse::<u16>().is_ok_and(|number| number > 0);
        if !valid {
            return Err(UrlProblem::BadPort);
        }
    }
    Ok((host, port))
}

/// Users often paste the full endpoint from a provider's docs; the request
/// builder appends it again, so it is removed here.
fn strip_endpoint_suffix(kind: ProviderKind, path: &str) -> &str {
    let path = match kind {
        ProviderKind::OpenAiCompatible => path.strip_suffix("/chat/completions"),
        ProviderKind::Anthropic => path
            .strip_suffix("/v1/messages")
            .or_else(|| path.strip_suffix("/v1")),
    }
    .unwrap_or(path);
    path.trim_end_matches('/')
}

fn host_scope(host: &str) -> HostScope {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(address) = bare.parse::<Ipv4Addr>() {
        return ipv4_scope(address);
    }
    if let Ok(address) = bare.parse::<Ipv6Addr>() {
        if let Some(mapped) = address.to_ipv4_mapped() {
            return ipv4_scope(mapped);
        }
        if address.is_loopback() || address.is_unspecified() {
            return HostScope::Loopback;
        }
        let first = address.segments().first().copied().unwrap_or_default();
        // fc00::/7 unique local, fe80::/10 link-local.
        let local = first & 0xfe00 == 0xfc00 || first & 0xffc0 == 0xfe80;
        return if local {
            HostScope::LocalNetwork
        } else {
            HostScope::Internet
        };
    }
    if bare == "localhost" || bare.ends_with(".localhost") {
        HostScope::Loopback
    } else if !bare.contains('.') || bare.ends_with(".local") || bare.ends_with(".internal") {
        HostScope::LocalNetwork
    } else {
        HostScope::Internet
    }
}

fn ipv4_scope(address: Ipv4Addr) -> HostScope {
    let [first, second, ..] = address.octets();
    // 100.64.0.0/10 is carrier-grade NAT, which is where Tailscale puts a
    // user's own machines.
    let shared = first == 100 && second & 0xc0 == 64;
    if address.is_loopback() || address.is_unspecified() {
        HostScope::Loopback
    } else if address.is_private() || address.is_link_local() || shared {
        HostScope::LocalNetwork
    } else {
        HostScope::Internet
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn openai(input: &str) -> Result<String, LlmError> {
        normalize_base_url(ProviderKind::OpenAiCompatible, input)
    }

    fn problem(result: Result<String, LlmError>) -> UrlProblem {
        match result {
            Err(LlmError::InvalidBaseUrl { problem, .. }) => problem,
            other => panic!("expected an invalid base URL, got {other:?}"),
        }
    }

    #[test]
    fn pasted_bases_are_trimmed_and_lose_trailing_slashes_and_endpoints() {
        assert_eq!(
            openai("  https://api.openai.com/v1/ \n").unwrap(),
            "https://api.openai.com/v1"
        );
        assert_eq!(
            openai("https://api.openai.com/v1/chat/completions").unwrap(),
            "https://api.openai.com/v1"
        );
        assert_eq!(
            openai("http://localhost:11434/v1/chat/completions/").unwrap(),
            "http://localhost:11434/v1"
        );
        assert_eq!(
            openai("HTTPS://OpenRouter.AI/api/v1").unwrap(),
            "https://openrouter.ai/api/v1",
            "scheme and host are case-insensitive; the path is kept as typed"
        );
        assert_eq!(openai("http://[::1]:8080/").unwrap(), "http://[::1]:8080");
    }

    #[test]
    fn anthropic_bases_lose_a_pasted_messages_endpoint_and_default_when_blank() {
        let anthropic = |input| normalize_base_url(ProviderKind::Anthropic, input).unwrap();
        assert_eq!(
            anthropic("https://api.anthropic.com/v1/messages"),
            "https://api.anthropic.com"
        );
        assert_eq!(
            anthropic("https://api.anthropic.com/v1/"),
            "https://api.anthropic.com"
        );
        assert_eq!(
            anthropic("https://proxy.example/anthropic"),
            "https://proxy.example/anthropic"
        );
        assert_eq!(anthropic("   "), "https://api.anthropic.com");
    }

    #[test]
    fn unusable_bases_are_rejected_with_the_reason() {
        assert_eq!(problem(openai("")), UrlProblem::Empty);
        assert_eq!(problem(openai("localhost:11434/v1")), UrlProblem::NotHttp);
        assert_eq!(problem(openai("ftp://example.com")), UrlProblem::NotHttp);
        assert_eq!(
            problem(openai("javascript://alert(1)")),
            UrlProblem::NotHttp
        );
        assert_eq!(problem(openai("https:///v1")), UrlProblem::NoHost);
        assert_eq!(problem(openai("https://host:abc/v1")), UrlProblem::BadPort);
        assert_eq!(problem(openai("https://host:70000")), UrlProblem::BadPort);
        assert_eq!(
            problem(openai("https://api.openai .com")),
            UrlProblem::Whitespace
        );
        assert_eq!(
            problem(openai("https://user:pw@host/v1")),
            UrlProblem::Credentials
        );
        assert_eq!(
            problem(openai("https://host/v1?key=1")),
            UrlProblem::QueryOrFragment
        );
    }

    #[test]
    fn the_error_names_the_pasted_url_and_the_fix() {
        let message = openai("ftp://example.com").unwrap_err().to_string();
        assert!(message.contains("ftp://example.com"), "{message}");
        assert!(message.contains("http:// or https://"), "{message}");
    }

    #[test]
    fn hosts_are_placed_on_this_machine_the_local_network_or_the_internet() {
        let scope = |input| {
            BaseUrl::parse(ProviderKind::OpenAiCompatible, input)
                .unwrap()
                .scope()
        };
        for local in [
            "http://localhost:11434/v1",
            "http://127.0.0.1:8080",
            "http://[::1]:1234",
            "http://0.0.0.0:8080",
        ] {
            assert_eq!(scope(local), HostScope::Loopback, "{local}");
        }
        for lan in [
            "http://192.168.1.20:11434/v1",
            "http://10.0.0.5/v1",
            "http://172.16.3.4/v1",
            "http://100.101.102.103:11434/v1",
            "http://gpu-box:8080/v1",
            "http://studio.local:1234/v1",
            "http://[fd12::1]/v1",
        ] {
            assert_eq!(scope(lan), HostScope::LocalNetwork, "{lan}");
        }
        for remote in [
            "https://api.openai.com/v1",
            "https://8.8.8.8/v1",
            "https://172.32.0.1/v1",
        ] {
            assert_eq!(scope(remote), HostScope::Internet, "{remote}");
        }
    }
}
