//! A speedscope export opened in the real speedscope app (the npm package
//! speedscope@1.25.0 that `.ci/run` installs into target/npm) in headless Chromium:
//! it must import without a console error and show one profile per thread, opened
//! on the workload.
//!
//! speedscope fetches `#profileURL=…`, and Chromium's fetch refuses file:// URLs, so a
//! small HTTP server on 127.0.0.1 inside the test serves the app and the profile.
//! speedscope draws with WebGL: SwiftShader stands in for a GPU. Chromium prints every
//! console message to stderr with `--enable-logging=stderr --v=0`; speedscope logs
//! a few lines of its own progress (`console.log`), which are allowed by exact text,
//! so an error cannot pass unnoticed. Run under the machine-wide lock:
//! `flock /tmp/faultline-live.lock cargo test --test speedscope_chromium`.
//! Skipped, with a message, without /usr/bin/chromium or the npm package.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

const CHROMIUM: &str = "/usr/bin/chromium";

/// speedscope's own progress messages, by their start.
const EXPECTED_LOGS: [&str; 4] = [
    "\"speedscope v1.25.0\"",
    "\"WebGL initialized.",
    "\"Importing as speedscope json file\"",
    "\"import: ",
];

fn release_dir() -> Option<PathBuf> {
    let npm = std::env::var_os("FAULTLINE_NPM_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| common::root().join("target/npm"));
    let dir = npm.join("node_modules/speedscope/dist/release");
    if !Path::new(CHROMIUM).exists() {
        eprintln!("skipped: {CHROMIUM} is not installed (apt-get install chromium)");
        return None;
    }
    if !dir.join("index.html").is_file() {
        eprintln!(
            "skipped: speedscope not installed under {} (npm install --prefix {} speedscope@1.25.0)",
            npm.display(),
            npm.display()
        );
        return None;
    }
    Some(dir)
}

/// Serves files of `root` (and `/profile.json` from `profile`) until `stop` is set.
fn serve(
    root: PathBuf,
    profile: PathBuf,
    stop: Arc<AtomicBool>,
) -> (u16, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            let Ok((stream, _)) = listener.accept() else {
                std::thread::sleep(Duration::from_millis(10));
                continue;
            };
            stream.set_nonblocking(false).unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).is_err() || h.trim_end().is_empty() {
                    break;
                }
            }
            let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
            let path = path.split(['?', '#']).next().unwrap_or("/");
            let file = match path {
                "/profile.json" => profile.clone(),
                p => root.join(p.trim_start_matches('/')),
            };
            let mut stream = stream;
            // Only files under the app's directory (no `..`), for a test server.
            let body = (!path.contains(".."))
                .then(|| std::fs::read(&file).ok())
                .flatten();
            let _ = match body {
                Some(b) => {
                    let kind = match file.extension().and_then(|e| e.to_str()) {
                        Some("html") => "text/html",
                        Some("js") => "text/javascript",
                        Some("css") => "text/css",
                        Some("json") => "application/json",
                        Some("wasm") => "application/wasm",
                        _ => "application/octet-stream",
                    };
                    write!(stream, "HTTP/1.1 200 OK\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", b.len())
                        .and_then(|()| stream.write_all(&b))
                }
                None => write!(
                    stream,
                    "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                ),
            };
        }
    });
    (port, handle)
}

/// What the app made of a profile.
struct Loaded {
    dom: String,
    console: Vec<String>,
    /// Console lines that are not speedscope's own progress messages.
    unexpected: Vec<String>,
    stderr: String,
}

/// Opens `profile` in the speedscope app in headless Chromium.
fn open(release: PathBuf, profile: &Path, dir: &Path) -> Loaded {
    let stop = Arc::new(AtomicBool::new(false));
    let (port, server) = serve(release, profile.to_path_buf(), stop.clone());
    let url = format!(
        "http://127.0.0.1:{port}/index.html#profileURL=http://127.0.0.1:{port}/profile.json"
    );
    let name = profile.file_stem().unwrap().to_string_lossy().into_owned();
    let (out_path, err_path) = (
        dir.join(format!("{name}.dom.html")),
        dir.join(format!("{name}.stderr")),
    );
    let mut child = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--use-angle=swiftshader",
            "--enable-unsafe-swiftshader",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
            // Lets the fetch, the import and the first render finish before the dump.
            "--virtual-time-budget=5000",
        ])
        .arg(format!(
            "--user-data-dir={}",
            dir.join(format!("chromium-{name}")).display()
        ))
        .arg("--dump-dom")
        .arg(&url)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .expect("start chromium");
    let status = common::wait_or_kill(&mut child, Duration::from_secs(120));
    stop.store(true, Ordering::Relaxed);
    let status = status.unwrap_or_else(|| panic!("chromium did not finish loading {url} in 120 s"));
    server.join().unwrap();
    let dom = std::fs::read_to_string(&out_path).unwrap();
    let stderr = std::fs::read_to_string(&err_path).unwrap();
    assert!(status.success(), "chromium failed ({status}):\n{stderr}");
    let console: Vec<String> = stderr
        .lines()
        .filter(|l| l.contains(":CONSOLE") || l.contains("Uncaught"))
        .map(str::to_string)
        .collect();
    let unexpected = console
        .iter()
        .filter(|l| {
            let text = l.split_once("] ").map_or(l.as_str(), |(_, t)| t);
            !EXPECTED_LOGS.iter().any(|e| text.starts_with(e))
        })
        .cloned()
        .collect();
    Loaded {
        dom,
        console,
        unexpected,
        stderr,
    }
}

fn scratch() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("faultline-speedscope-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn a_broken_profile_shows_up_as_a_console_error() {
    // Self-check: the watch catches speedscope failing on a file (a frame index out of
    // range), so the real check cannot pass because nothing was watched.
    let Some(release) = release_dir() else { return };
    let dir = scratch();
    let bad = dir.join("broken.json");
    std::fs::write(
        &bad,
        r#"{"$schema":"https://www.speedscope.app/file-format-schema.json","shared":{"frames":[]},"profiles":[{"type":"sampled","name":"x","unit":"none","startValue":0,"endValue":1,"samples":[[5]],"weights":[1]}]}"#,
    )
    .unwrap();
    let loaded = open(release, &bad, &dir);
    assert!(
        loaded
            .unexpected
            .iter()
            .any(|l| l.contains("Failed to load format")),
        "{:#?}",
        loaded.console
    );
}

#[test]
fn speedscope_app_imports_the_export_without_console_errors() {
    let Some(release) = release_dir() else { return };
    let dir = scratch();
    let profile = dir.join("profile.speedscope.json");
    common::export_fixture("speedscope", &profile);
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&profile).unwrap()).unwrap();
    let profiles = doc["profiles"].as_array().unwrap().len();
    let loaded = open(release, &profile, &dir);
    assert!(
        loaded.unexpected.is_empty(),
        "console messages: {:#?}",
        loaded.unexpected
    );
    // The import ran to the end (its timing line), so the watch above saw it all.
    assert!(
        loaded.console.iter().any(|l| l.contains("\"import: ")),
        "{}",
        loaded.stderr
    );
    // The app shows the file: its name as the title, opened on the workload's thread,
    // one profile per thread.
    let dom = &loaded.dom;
    assert!(dom.contains("<title>faultline: cpu-clock"), "{dom}");
    let active = doc["activeProfileIndex"].as_u64().unwrap() + 1;
    let text: String = dom
        .split('<')
        .map(|p| p.split_once('>').map_or(p, |x| x.1))
        .collect();
    let shown = format!("faultline 11815 ({active}/{profiles})");
    assert!(text.contains(&shown), "{shown} in {text}");
}
