//! `faultline push` against a stand-in for Pyroscope's `/ingest` on 127.0.0.1: every
//! field of the request is checked, and refused, failing and unreachable servers must
//! give a clear error and a non-zero exit.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::thread::JoinHandle;

/// One HTTP request as the server saw it.
#[derive(Debug)]
struct Request {
    method: String,
    path: String,
    query: BTreeMap<String, String>,
    /// Header names lower-cased.
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap()
}

/// Serves one request with `status` (`200 OK`) and returns it.
fn serve_once(status: &'static str, reply: &'static str) -> (u16, JoinHandle<Request>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap().to_string();
        let target = parts.next().unwrap().to_string();
        let mut headers = BTreeMap::new();
        loop {
            let mut h = String::new();
            reader.read_line(&mut h).unwrap();
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            let (k, v) = h.split_once(':').unwrap();
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
        let len: usize = headers["content-length"].parse().unwrap();
        let mut body = vec![0; len];
        reader.read_exact(&mut body).unwrap();
        let mut stream = stream;
        write!(
            stream,
            "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}",
            reply.len()
        )
        .unwrap();
        let (path, q) = target.split_once('?').unwrap_or((&target, ""));
        let query = q
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap();
                (percent_decode(k), percent_decode(v))
            })
            .collect();
        Request {
            method,
            path: path.to_string(),
            query,
            headers,
            body,
        }
    });
    (port, handle)
}

/// `faultline push --pyroscope URL --name NAME [extra…] RUN`.
fn push(url: &str, name: &str, extra: &[&str]) -> std::process::Output {
    let run = run_dir();
    let mut args = vec!["push", "--pyroscope", url, "--name", name];
    args.extend_from_slice(extra);
    args.push(&run);
    common::faultline(&args)
}

fn run_dir() -> String {
    common::root()
        .join("fixtures/runs/breadth-first-oom")
        .display()
        .to_string()
}

#[test]
fn push_sends_the_corrected_profile_with_every_ingest_field() {
    let (port, server) = serve_once("200 OK", "");
    let url = format!("http://127.0.0.1:{port}");
    let name = "faultline.cpu{commit=abc123,workload=breadth-first,thp=madvise}";
    let out = push(&url, name, &["--tenant", "team-a"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let req = server.join().unwrap();
    assert_eq!(req.method, "POST");
    assert_eq!(req.path, "/ingest");
    // The cpu-clock samples span 3710.275586..3711.666164 s; perf wrote the file at
    // `captured on : Sat Nov 21 23:48:09 2026` = 1795304889 s, just after the last.
    let expected: BTreeMap<String, String> = [
        ("name", name),
        ("from", "1795304887"),
        ("until", "1795304889"),
        ("format", "folded"),
        ("sampleRate", "1000000000"),
        ("spyName", "faultline"),
        ("units", "samples"),
        ("aggregationType", "sum"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(req.query, expected);
    assert_eq!(req.headers["x-scope-orgid"], "team-a");
    assert_eq!(req.headers["content-type"], "text/plain");
    // The body is the corrected profile, folded: same total as the recording.
    let body = String::from_utf8(req.body).unwrap();
    let total: u64 = body
        .lines()
        .map(|l| l.rsplit_once(' ').unwrap().1.parse::<u64>().unwrap())
        .sum();
    assert_eq!(total, 986_986_986);
    assert!(body.lines().any(|l| l.contains("[irqs-off]")), "corrected");
    assert!(body.lines().all(|l| !l.contains('\r') && l.contains(';')));
    assert!(stderr.contains("pushed"), "{stderr}");
}

#[test]
fn push_without_a_tenant_sends_no_org_header() {
    let (port, server) = serve_once("200 OK", "");
    let out = push(
        &format!("http://127.0.0.1:{port}/"),
        "app.cpu",
        &["--workload-only"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let req = server.join().unwrap();
    assert_eq!(req.path, "/ingest", "no double slash");
    assert!(!req.headers.contains_key("x-scope-orgid"));
    assert_eq!(req.query["name"], "app.cpu");
}

#[test]
fn a_refusing_server_is_an_error_with_its_answer() {
    let (port, server) = serve_once("400 Bad Request", "invalid name");
    let out = push(&format!("http://127.0.0.1:{port}"), "app.cpu", &[]);
    server.join().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("push to http://127.0.0.1:{port}/ingest"))
            && stderr.contains("400")
            && stderr.contains("invalid name"),
        "{stderr}"
    );
}

#[test]
fn an_unreachable_server_is_an_error() {
    // A port that was just free: nothing listens on it.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = push(&format!("http://127.0.0.1:{port}"), "app.cpu", &[]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("could not send"), "{stderr}");
}

#[test]
fn a_bad_name_is_refused_before_anything_is_sent() {
    let out = push("http://127.0.0.1:9", "app.cpu{commit}", &[]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not key=value"), "{stderr}");
}

/// The file part `name` of a multipart/form-data body.
fn form_part<'a>(content_type: &str, body: &'a [u8], name: &str) -> &'a [u8] {
    let boundary = content_type
        .strip_prefix("multipart/form-data; boundary=")
        .expect("multipart content type");
    let delimiter = format!("--{boundary}");
    let text_at = |from: usize, what: &[u8]| {
        body[from..]
            .windows(what.len())
            .position(|w| w == what)
            .map(|i| i + from)
    };
    let start = text_at(0, delimiter.as_bytes()).expect("first boundary");
    let head_end = text_at(start, b"\r\n\r\n").expect("part headers") + 4;
    let head = String::from_utf8_lossy(&body[start..head_end]);
    assert!(head.contains(&format!("name=\"{name}\"")), "{head}");
    let end = text_at(head_end, format!("\r\n{delimiter}--").as_bytes()).expect("closing boundary");
    &body[head_end..end]
}

#[test]
fn push_as_pprof_sends_the_labelled_profile_as_a_form() {
    use prost::Message;
    use std::io::Read;
    let (port, server) = serve_once("200 OK", "");
    let url = format!("http://127.0.0.1:{port}");
    let out = push(&url, "faultline.cpu{commit=abc123}", &["--format", "pprof"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let req = server.join().unwrap();
    assert_eq!(req.path, "/ingest");
    // No `format`: with format=pprof the server would read the form as a bare profile.
    let keys: Vec<&str> = req.query.keys().map(String::as_str).collect();
    assert_eq!(keys, ["from", "name", "spyName", "until"]);
    assert_eq!(req.query["from"], "1795304887");
    assert_eq!(req.query["until"], "1795304889");
    let part = form_part(&req.headers["content-type"], &req.body, "profile");
    go_reads_the_form(&req.headers["content-type"], &req.body, part.len());
    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(part)
        .read_to_end(&mut raw)
        .unwrap();
    let p = faultline::export::pprof::Profile::decode(&raw[..]).unwrap();
    let total: i64 = p.sample.iter().map(|s| s.value[1]).sum();
    assert_eq!(total, 986_986_986);
    let phase = p.string_table.iter().position(|s| s == "phase").unwrap() as i64;
    assert!(
        p.sample
            .iter()
            .all(|s| s.label.iter().any(|l| l.key == phase))
    );
}

/// Go's own multipart reader (what Pyroscope parses the form with) finds the part.
const GO_FORM_READER: &str = r#"package main

import (
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"os"
)

func main() {
	_, params, err := mime.ParseMediaType(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	form, err := multipart.NewReader(os.Stdin, params["boundary"]).ReadForm(1 << 30)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for name, files := range form.File {
		f, _ := files[0].Open()
		b, _ := io.ReadAll(f)
		fmt.Printf("%s %d\n", name, len(b))
	}
}
"#;

fn go_reads_the_form(content_type: &str, body: &[u8], part_len: usize) {
    use std::process::{Command, Stdio};
    if !Command::new("go")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        eprintln!(
            "skipped the Go multipart check: `go` is not installed (apt-get install golang-go)"
        );
        return;
    }
    let dir = std::env::temp_dir().join(format!("faultline-push-go-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("main.go"), GO_FORM_READER).unwrap();
    let mut child = Command::new("go")
        .args(["run", "main.go", content_type])
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(body).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("profile {part_len}\n")
    );
}
