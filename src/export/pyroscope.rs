//! A push to Grafana Pyroscope's `/ingest` HTTP API
//! (<https://grafana.com/docs/pyroscope/latest/reference-server-api/>), which Grafana
//! Alloy's `pyroscope.receive_http` also accepts: the corrected profile as folded
//! stacks (`format=folded`), named `app.cpu{key=value,…}`, with `from`/`until` from the
//! recording's times.
//!
//! The HTTP client is `ureq` without default features: blocking, small, plain HTTP.
//! HTTPS needs the crate's `tls` feature (rustls); most pushes go to an Alloy agent or
//! a Pyroscope service inside the cluster, over plain HTTP.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustc_hash::FxHashMap;

use crate::analyze::export_view::ExportView;
use crate::error::{Error, Result};
use crate::export::{SampleUnit, pprof, start_end, wall_clock_start};
use crate::fold::collapse::{FoldOptions, StackNamer, merge_sorted};

/// Where and how to push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushOptions {
    /// The server's base URL (`http://pyroscope:4040`); `/ingest` is appended.
    pub url: String,
    /// The application name with labels: `app.cpu{commit=abc,workload=bfs}`.
    pub name: String,
    /// Tenant for a multi-tenant server (`X-Scope-OrgID`).
    pub tenant: Option<String>,
    /// How long to wait for the server.
    pub timeout: Duration,
    /// What the body carries.
    pub format: PushFormat,
}

/// The body of a push.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PushFormat {
    /// Folded stacks, `format=folded`: one line per (comm, stack), no phase labels.
    #[default]
    Folded,
    /// The pprof export as `multipart/form-data` (part `profile`): keeps the `comm`,
    /// `pid`, `tid` and `phase` labels, and its sample types say the unit.
    Pprof,
}

/// What a push sent, for the caller to report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pushed {
    /// The full request URL, query included.
    pub url: String,
    /// Stacks sent (folded lines, or pprof samples).
    pub lines: usize,
    /// Sum of the values sent (in the clock's unit).
    pub total: u64,
    /// `from` and `until` (Unix seconds).
    pub from: u64,
    /// See `from`.
    pub until: u64,
    /// Whether the times came from the recording (else: now).
    pub times_from_recording: bool,
}

/// Checks a Pyroscope application name: `app.name` optionally followed by
/// `{key=value,…}` with label keys made of letters, digits, `_` and `.`.
pub fn check_name(name: &str) -> std::result::Result<(), String> {
    let (app, labels) = match name.split_once('{') {
        Some((app, rest)) => {
            let Some(labels) = rest.strip_suffix('}') else {
                return Err(format!("{name:?}: labels must end with `}}`"));
            };
            (app, Some(labels))
        }
        None => (name, None),
    };
    if app.is_empty() || app.contains(['}', '=', ',', ' ']) {
        return Err(format!(
            "{name:?}: expected `app.name` or `app.name{{key=value,…}}`"
        ));
    }
    for pair in labels
        .into_iter()
        .flat_map(|l| l.split(','))
        .filter(|p| !p.is_empty())
    {
        let Some((key, value)) = pair.split_once('=') else {
            return Err(format!("{name:?}: label {pair:?} is not key=value"));
        };
        let key_ok = key
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
        if !key_ok || value.is_empty() || value.contains(['{', '}', '=']) {
            return Err(format!("{name:?}: bad label {pair:?}"));
        }
    }
    Ok(())
}

/// The folded body: `comm;frame;…;leaf value` per line, values in the clock's unit.
pub fn folded(view: &ExportView) -> Vec<(Vec<u8>, u64)> {
    let opts = FoldOptions::default();
    let mut namer = StackNamer::new(&view.profile, &opts);
    let mut groups: FxHashMap<_, u64> = FxHashMap::default();
    for s in &view.samples {
        *groups.entry((s.thread, s.stack)).or_default() += s.weight;
    }
    merge_sorted(
        groups
            .into_iter()
            .map(|((t, st), w)| (namer.line(t, st), w)),
    )
}

/// The query parameters of the push, in order.
pub fn query(
    view: &ExportView,
    opts: &PushOptions,
    now: SystemTime,
) -> (Vec<(&'static str, String)>, bool) {
    let unit = SampleUnit::of(view);
    let (start, end) = start_end(view);
    let duration_ns = end.0.saturating_sub(start.0) as i64;
    let (from_ns, recorded) = match wall_clock_start(view) {
        Some(ns) => (ns, true),
        None => {
            let now_ns = now
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as i64);
            (now_ns - duration_ns, false)
        }
    };
    let from = from_ns.div_euclid(1_000_000_000);
    // `until` is exclusive of the last second's start: round up so the window holds it.
    let until = (from_ns + duration_ns + 999_999_999)
        .div_euclid(1_000_000_000)
        .max(from + 1);
    // For the CPU clocks each value is nanoseconds, so a sample rate of 1e9 makes
    // Pyroscope show seconds; other events are counts of things.
    let (units, rate) = if unit.is_time() {
        ("samples", "1000000000".to_string())
    } else {
        ("objects", "1".to_string())
    };
    let mut params = vec![
        ("name", opts.name.clone()),
        ("from", from.to_string()),
        ("until", until.to_string()),
    ];
    // A pprof body says its own units and types; `format=pprof` would make the server
    // read the multipart body as a bare profile, so the content type alone tells it.
    if opts.format == PushFormat::Folded {
        params.extend([
            ("format", "folded".to_string()),
            ("sampleRate", rate),
            ("spyName", "faultline".to_string()),
            ("units", units.to_string()),
            ("aggregationType", "sum".to_string()),
        ]);
    } else {
        params.push(("spyName", "faultline".to_string()));
    }
    (params, recorded)
}

/// Sends `view` to the server. A refused, unreachable or failing server is an error.
pub fn push(view: &ExportView, opts: &PushOptions) -> Result<Pushed> {
    check_name(&opts.name).map_err(|message| push_error(&opts.url, message))?;
    let body = body(view, opts.format);
    let (params, recorded) = query(view, opts, SystemTime::now());
    let url = format!("{}/ingest", opts.url.trim_end_matches('/'));
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(opts.timeout))
        .build()
        .into();
    let mut request = agent.post(&url).header("Content-Type", &body.content_type);
    for (k, v) in &params {
        request = request.query(k, v);
    }
    if let Some(tenant) = &opts.tenant {
        request = request.header("X-Scope-OrgID", tenant);
    }
    let mut response = request
        .send(&body.bytes[..])
        .map_err(|e| push_error(&url, format!("could not send: {e}")))?;
    let status = response.status();
    if !status.is_success() {
        let text = response.body_mut().read_to_string().unwrap_or_default();
        let text: String = text.trim().chars().take(500).collect();
        return Err(push_error(
            &url,
            format!("server answered {status}: {text}"),
        ));
    }
    let find = |k: &str| {
        params
            .iter()
            .find(|p| p.0 == k)
            .map_or(0, |p| p.1.parse().unwrap_or(0))
    };
    Ok(Pushed {
        url,
        lines: body.stacks,
        total: body.total,
        from: find("from"),
        until: find("until"),
        times_from_recording: recorded,
    })
}

/// A request body and what it holds.
struct Body {
    content_type: String,
    bytes: Vec<u8>,
    stacks: usize,
    total: u64,
}

fn body(view: &ExportView, format: PushFormat) -> Body {
    let total = view.total_weight();
    match format {
        PushFormat::Folded => {
            let lines = folded(view);
            let mut bytes = Vec::new();
            for (line, n) in &lines {
                bytes.extend_from_slice(line);
                bytes.push(b' ');
                bytes.extend_from_slice(n.to_string().as_bytes());
                bytes.push(b'\n');
            }
            Body {
                content_type: "text/plain".into(),
                bytes,
                stacks: lines.len(),
                total,
            }
        }
        PushFormat::Pprof => {
            let unit = SampleUnit::of(view);
            let profile = pprof::profile(view, &unit, wall_clock_start(view));
            let (content_type, bytes) = multipart("profile", &pprof::encode(&profile));
            Body {
                content_type,
                bytes,
                stacks: profile.sample.len(),
                total,
            }
        }
    }
}

/// `multipart/form-data` with one file part: (content type, body). The boundary is
/// one that does not occur in the data.
fn multipart(name: &str, data: &[u8]) -> (String, Vec<u8>) {
    let boundary = (0u32..)
        .map(|n| format!("faultline-boundary-{n}"))
        .find(|b| memchr::memmem::find(data, b.as_bytes()).is_none())
        .expect("some boundary is absent from finite data");
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{name}.pb.gz\"\r\nContent-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(data);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

fn push_error(url: &str, message: String) -> Error {
    Error::Push {
        url: url.to_string(),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_with_labels_are_checked() {
        assert!(check_name("app.cpu").is_ok());
        assert!(check_name("faultline.cpu{commit=abc123,workload=bfs,thp=never}").is_ok());
        assert!(check_name("app.cpu{}").is_ok());
        assert!(check_name("").is_err());
        assert!(check_name("app.cpu{commit}").is_err());
        assert!(check_name("app.cpu{commit=abc").is_err());
        assert!(check_name("app.cpu{1x=abc}").is_err());
        assert!(check_name("app.cpu{k=}").is_err());
    }
}
