//! The web-service client: one REST call (`webservice/rest/server.php`, `moodlewsrestformat=json`, parameters in
//! PHP's bracket syntax) with its safety rules: HTTPS with the system's roots unless the host is loopback or
//! plain HTTP is allowed; connect and read timeouts; no redirect followed (Moodle redirects a request whose host
//! is not its `wwwroot`); retries with backoff for network errors and 5xx answers only, never for a Moodle
//! exception. The token is held in [`Token`], which never prints itself.

use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use super::ApplyError;
use crate::plan::form_encode;
/// Whether a write whose answer was lost took effect, as read back ([`Client::call_checked`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Landed {
    /// It did: not sent again.
    Yes,
    /// It did not, or sending it again changes nothing a user would notice: sent again.
    No,
    /// The read-back cannot tell, and sending it again could mail users again: stop.
    Unknown,
}

/// A web-service token. Its `Debug` and `Display` never show it.
#[derive(Clone)]
pub struct Token(String);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(<hidden>)")
    }
}

impl Token {
    /// A token from its text (surrounding white space trimmed).
    ///
    /// # Errors
    /// [`ApplyError::Token`] when it is empty or holds other than letters and digits (Moodle's tokens are 32
    /// hexadecimal digits).
    pub fn new(text: &str) -> Result<Self, ApplyError> {
        let t = text.trim();
        if t.is_empty() {
            return Err(ApplyError::Token("the token is empty".into()));
        }
        if !t.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(ApplyError::Token(
                "the token holds characters other than letters and digits (Moodle's are 32 hexadecimal digits)".into(),
            ));
        }
        Ok(Self(t.to_owned()))
    }

    /// The token in `path`, refused when the file can be read by its group or others (it grants the service's
    /// rights on the site).
    ///
    /// # Errors
    /// [`ApplyError::Token`].
    pub fn from_file(path: &Path) -> Result<Self, ApplyError> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let meta = std::fs::metadata(path)
                .map_err(|e| ApplyError::Token(format!("{}: {e}", path.display())))?;
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(ApplyError::Token(format!(
                    "{} can be read by others (mode {mode:03o}): make it readable by its owner only (chmod 600)",
                    path.display()
                )));
            }
        }
        let text = std::fs::read_to_string(path)
            .map_err(|e| ApplyError::Token(format!("{}: {e}", path.display())))?;
        Self::new(&text)
    }
}

/// How the client talks to the site.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Plain HTTP allowed to a host that is not loopback.
    pub allow_http: bool,
    /// Connect timeout.
    pub connect_timeout: Duration,
    /// Timeout of a whole call (a large course's participants take a while).
    pub call_timeout: Duration,
    /// Tries per call for network errors and 5xx answers.
    pub tries: u32,
    /// The first backoff; doubled at each retry.
    pub backoff: Duration,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            allow_http: false,
            connect_timeout: Duration::from_secs(10),
            call_timeout: Duration::from_secs(300),
            tries: 4,
            backoff: Duration::from_millis(500),
        }
    }
}

/// A Moodle site's REST endpoint and the token to call it with.
pub struct Client {
    endpoint: String,
    token: Token,
    agent: ureq::Agent,
    options: ClientOptions,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

/// The REST endpoint of the site at `url` (the site's address, or the endpoint itself), checked: `https`, or
/// `http` to a loopback host or when `allow_http`.
///
/// # Errors
/// [`ApplyError::Url`], [`ApplyError::PlainHttp`].
pub fn endpoint(url: &str, allow_http: bool) -> Result<String, ApplyError> {
    // Shown without query, fragment or user info: a pasted `?wstoken=…` or `user:password@` never reaches the
    // terminal or a report.
    let shown = {
        let cut = url.split(['?', '#']).next().unwrap_or_default();
        match cut.split_once("://") {
            Some((scheme, rest)) => {
                let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
                match authority.rsplit_once('@') {
                    Some((_, host)) if path.is_empty() => format!("{scheme}://…@{host}"),
                    Some((_, host)) => format!("{scheme}://…@{host}/{path}"),
                    None => cut.to_owned(),
                }
            }
            None => cut.to_owned(),
        }
    };
    let bad = |why: &str| ApplyError::Url {
        url: shown.clone(),
        why: why.to_owned(),
    };
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| bad("it has no scheme (https://)"))?;
    if url.contains(['?', '#']) || url.chars().any(char::is_whitespace) {
        return Err(bad(
            "give the site's address without query, fragment or spaces",
        ));
    }
    let authority = rest.split('/').next().unwrap_or_default();
    if authority.contains('@') {
        return Err(bad(
            "user names or passwords in the address are not used (the token authenticates)",
        ));
    }
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next().unwrap_or_default()
    } else {
        authority.split(':').next().unwrap_or_default()
    };
    if host.is_empty() {
        return Err(bad("it names no host"));
    }
    match scheme.to_ascii_lowercase().as_str() {
        "https" => {}
        "http" => {
            let loopback = host.eq_ignore_ascii_case("localhost")
                || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
            if !loopback && !allow_http {
                return Err(ApplyError::PlainHttp {
                    host: host.to_owned(),
                });
            }
        }
        _ => return Err(bad("only https:// (or http:// to this machine) is used")),
    }
    let base = url.trim_end_matches('/');
    Ok(if base.ends_with("/webservice/rest/server.php") {
        base.to_owned()
    } else {
        format!("{base}/webservice/rest/server.php")
    })
}

impl Client {
    /// A client for the site at `url`.
    ///
    /// # Errors
    /// As [`endpoint`].
    pub fn new(url: &str, token: Token, options: ClientOptions) -> Result<Self, ApplyError> {
        let endpoint = endpoint(url, options.allow_http)?;
        let tls = ureq::tls::TlsConfig::builder()
            .root_certs(ureq::tls::RootCerts::PlatformVerifier)
            .build();
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .tls_config(tls)
            .timeout_connect(Some(options.connect_timeout))
            .timeout_global(Some(options.call_timeout))
            .max_redirects(0)
            .http_status_as_error(false)
            .user_agent(concat!("mbz-enrol/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Ok(Self {
            endpoint,
            token,
            agent,
            options,
        })
    }

    /// The endpoint called.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Calls `function` with `params`; returns its answer (JSON), or the Moodle exception as an error.
    /// Network errors and 5xx answers are tried again (with backoff) up to the options' tries.
    ///
    /// # Errors
    /// [`ApplyError::Moodle`], [`ApplyError::Network`], [`ApplyError::Http`], [`ApplyError::NotJson`].
    pub fn call(&self, function: &str, params: &[(String, String)]) -> Result<Value, ApplyError> {
        self.call_checked(function, params, &|| Landed::No)
            .map(Option::unwrap_or_default)
    }

    /// [`Client::call`] for a write: before each retry, `landed` reads back whether the call already took
    /// effect (its answer lost on the way back). [`Landed::Yes`]: not sent again (`Ok(None)`); [`Landed::No`]:
    /// sent again; [`Landed::Unknown`]: the error is returned, never sent again (a write sent twice mails
    /// Moodle 4.4's course welcome message twice).
    ///
    /// # Errors
    /// As [`Client::call`].
    pub fn call_checked(
        &self,
        function: &str,
        params: &[(String, String)],
        landed: &dyn Fn() -> Landed,
    ) -> Result<Option<Value>, ApplyError> {
        let mut pairs = vec![
            ("wstoken".to_owned(), self.token.0.clone()),
            ("wsfunction".to_owned(), function.to_owned()),
            ("moodlewsrestformat".to_owned(), "json".to_owned()),
        ];
        pairs.extend(params.iter().cloned());
        let body = form_encode(&pairs);
        let mut wait = self.options.backoff;
        let mut tries = 0;
        loop {
            tries += 1;
            let last = tries >= self.options.tries.max(1);
            match self.once(function, &body) {
                Err(
                    e @ (ApplyError::Network { .. }
                    | ApplyError::Http {
                        status: 500..=599, ..
                    }),
                ) if !last => {
                    std::thread::sleep(wait);
                    wait *= 2;
                    match landed() {
                        Landed::Yes => return Ok(None),
                        Landed::No => {}
                        Landed::Unknown => {
                            return Err(match e {
                                ApplyError::Network {
                                    function, detail, ..
                                } => ApplyError::Network {
                                    function,
                                    detail: format!(
                                        "{detail}; not sent again: the read-back cannot tell whether it was \
                                         written, and a second call would mail the course welcome message \
                                         again (check the participants, then run apply again)"
                                    ),
                                    tries,
                                },
                                other => other,
                            });
                        }
                    }
                }
                Err(ApplyError::Network {
                    function, detail, ..
                }) => {
                    return Err(ApplyError::Network {
                        function,
                        detail,
                        tries,
                    });
                }
                other => return other.map(Some),
            }
        }
    }

    /// One try.
    fn once(&self, function: &str, body: &str) -> Result<Value, ApplyError> {
        let sent = self
            .agent
            .post(&self.endpoint)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header("Accept", "application/json")
            .send(body);
        let mut response = sent.map_err(|e| ApplyError::Network {
            function: function.to_owned(),
            // ureq's messages name the host and the cause, never the body (where the token is).
            detail: e.to_string(),
            tries: 1,
        })?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .with_config()
            .limit(1 << 30)
            .read_to_string()
            .map_err(|e| ApplyError::Network {
                function: function.to_owned(),
                detail: e.to_string(),
                tries: 1,
            })?;
        if status != 200 {
            return Err(ApplyError::Http {
                function: function.to_owned(),
                status,
                empty: text.trim().is_empty(),
            });
        }
        let value: Value = serde_json::from_str(&text).map_err(|_| ApplyError::NotJson {
            function: function.to_owned(),
            start: text.chars().take(80).collect(),
        })?;
        if let Some(exception) = value.get("exception").and_then(Value::as_str) {
            return Err(ApplyError::Moodle {
                function: function.to_owned(),
                exception: exception.to_owned(),
                errorcode: value
                    .get("errorcode")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
                message: value
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
            });
        }
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_https_unless_loopback_or_allowed() {
        let rest = "/webservice/rest/server.php";
        assert_eq!(
            endpoint("https://m.example.org/moodle/", false).unwrap(),
            format!("https://m.example.org/moodle{rest}")
        );
        assert_eq!(
            endpoint("http://127.0.0.1:8143/moodle", false).unwrap(),
            format!("http://127.0.0.1:8143/moodle{rest}")
        );
        assert_eq!(
            endpoint("http://localhost/moodle/webservice/rest/server.php", false).unwrap(),
            format!("http://localhost/moodle{rest}")
        );
        assert!(endpoint("http://[::1]:80/", false).is_ok());
        assert!(matches!(
            endpoint("http://m.example.org", false),
            Err(ApplyError::PlainHttp { .. })
        ));
        assert!(endpoint("http://m.example.org", true).is_ok());
        assert!(matches!(
            endpoint("ftp://m.example.org", true),
            Err(ApplyError::Url { .. })
        ));
        assert!(matches!(
            endpoint("https://u:p@m.example.org", true),
            Err(ApplyError::Url { .. })
        ));
    }

    #[test]
    fn a_token_never_prints_itself() {
        let t = Token::new(" 0123456789abcdef0123456789abcdef\n").unwrap();
        assert_eq!(format!("{t:?}"), "Token(<hidden>)");
        assert!(Token::new("a b").is_err());
    }
}
