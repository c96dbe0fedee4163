//! Flame graphs, rendered by the inferno crate in-process.

use std::io::Write;
use std::path::Path;

use crate::error::{Error, Result};
use crate::text::escape_controls;

/// What a flame graph shows besides its stacks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlameOptions {
    /// The title line.
    pub title: String,
    /// An optional second line under the title.
    pub subtitle: Option<String>,
    /// What one unit of count is (`samples`, `ns`).
    pub count_name: String,
    /// Fixed colours for some frame names (RGB); the rest are hashed from the name.
    pub colors: Vec<(String, [u8; 3])>,
    /// Leave out frames narrower than this many pixels of the 1200-pixel image, so
    /// frames too narrow to see do not make the image taller (its height follows the
    /// deepest frame kept). `None`: inferno's default, 0.01% of the width.
    pub min_width_px: Option<u32>,
    /// Draw at a fixed 1200 px instead of fitting the window. For graphs shown in an
    /// iframe: in a frame of its own process the script can run before the frame has a
    /// width, and inferno's fitting then sets a negative width that the browser reports
    /// as an error.
    pub fixed_width: bool,
}

/// inferno's image width in pixels.
const IMAGE_WIDTH_PX: f64 = 1200.0;

/// Renders folded `(stack, count)` pairs as an SVG. Colours come from a hash of each
/// frame name, so the same input always gives the same bytes.
pub fn render(stacks: &[(Vec<u8>, u64)], opts: &FlameOptions, out: impl Write) -> Result<()> {
    // inferno escapes `<`, `>` and `&` but passes control characters, which XML
    // forbids: every name it is given goes through the one escape for untrusted text.
    let mut o = inferno::flamegraph::Options::default();
    o.title = escape_controls(&opts.title).into_owned();
    o.subtitle = opts
        .subtitle
        .as_deref()
        .map(|s| escape_controls(s).into_owned());
    o.count_name = escape_controls(&opts.count_name).into_owned();
    o.hash = true;
    o.deterministic = true;
    if opts.fixed_width {
        o.image_width = Some(IMAGE_WIDTH_PX as usize);
    }
    if let Some(px) = opts.min_width_px {
        // inferno takes the minimum as a percentage of the width.
        o.min_width = f64::from(px) * 100.0 / IMAGE_WIDTH_PX;
    }
    let mut palette = inferno::flamegraph::color::PaletteMap::default();
    for (name, [r, g, b]) in &opts.colors {
        palette.insert(
            escape_controls(name),
            inferno::flamegraph::color::Color {
                r: *r,
                g: *g,
                b: *b,
            },
        );
    }
    if !opts.colors.is_empty() {
        o.palette_map = Some(&mut palette);
    }
    let lines: Vec<String> = stacks
        .iter()
        .map(|(s, c)| {
            // Folded stacks are valid UTF-8 already, which `from_utf8` checks fastest.
            let text = match std::str::from_utf8(s) {
                Ok(s) => std::borrow::Cow::Borrowed(s),
                Err(_) => String::from_utf8_lossy(s),
            };
            format!("{} {c}", escape_controls(&text))
        })
        .collect();
    // inferno merges adjacent lines, so it sorts them unless told they are sorted; they
    // mostly are (stacks come sorted, and escaping rarely reorders them).
    o.no_sort = lines.windows(2).all(|w| w[0].trim() <= w[1].trim());
    if lines.is_empty() {
        return Err(Error::Write {
            what: "flame graph".into(),
            source: std::io::Error::other("no samples to draw"),
        });
    }
    // inferno adds the counts up; a total past 64 bits would wrap and draw nonsense.
    if stacks
        .iter()
        .try_fold(0u64, |sum, (_, c)| sum.checked_add(*c))
        .is_none()
    {
        return Err(Error::Write {
            what: "flame graph".into(),
            source: std::io::Error::other(format!(
                "the counts add up to more than {} and cannot be drawn",
                u64::MAX
            )),
        });
    }
    inferno::flamegraph::from_lines(&mut o, lines.iter().map(String::as_str), out).map_err(|e| {
        Error::Write {
            what: "flame graph".into(),
            source: e,
        }
    })
}

/// Whether the text looks like folded stacks rather than `perf script` output: its
/// first non-empty lines all end in ` <count>` and none is indented.
pub fn looks_folded(data: &[u8]) -> bool {
    let mut seen = 0;
    for line in data.split(|&b| b == b'\n') {
        let line = crate::ingest::script::line::trim_end(line);
        if line.is_empty() || line[0] == b'#' {
            continue;
        }
        if parse_folded_line(line).is_none() || line[0].is_ascii_whitespace() {
            return false;
        }
        seen += 1;
        if seen == 8 {
            break;
        }
    }
    seen > 0
}

fn parse_folded_line(line: &[u8]) -> Option<(&[u8], u64)> {
    let sp = memchr::memrchr(b' ', line)?;
    let count = std::str::from_utf8(&line[sp + 1..]).ok()?.parse().ok()?;
    Some((&line[..sp], count))
}

/// Reads folded stacks (`a;b;c 12` per line), merging repeated stacks. Counts that add
/// up past `u64::MAX` are an error naming the line where the total passed it: a flame
/// graph cannot draw them.
pub fn read_folded(data: &[u8], path: &Path) -> Result<Vec<(Vec<u8>, u64)>> {
    let mut merged: rustc_hash::FxHashMap<&[u8], u64> = Default::default();
    let mut total = 0u64;
    for (i, line) in data.split(|&b| b == b'\n').enumerate() {
        let line = crate::ingest::script::line::trim_end(line);
        if line.is_empty() || line[0] == b'#' {
            continue;
        }
        let (stack, count) = parse_folded_line(line).ok_or_else(|| Error::BadFolded {
            path: path.to_path_buf(),
            line: i + 1,
            text: String::from_utf8_lossy(line).into_owned(),
        })?;
        // Each stack's count is part of the total, so a total that fits bounds them.
        total = total.checked_add(count).ok_or_else(|| Error::Overflow {
            path: path.to_path_buf(),
            line: Some(i + 1),
            what: "folded counts",
        })?;
        *merged.entry(stack).or_insert(0) += count;
    }
    let mut out: Vec<(Vec<u8>, u64)> = merged.into_iter().map(|(s, c)| (s.to_vec(), c)).collect();
    out.sort_unstable();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svg_height(stacks: &[(Vec<u8>, u64)], min_width_px: Option<u32>) -> u32 {
        let mut svg = Vec::new();
        let opts = FlameOptions {
            min_width_px,
            ..FlameOptions::default()
        };
        render(stacks, &opts, &mut svg).unwrap();
        let svg = String::from_utf8(svg).unwrap();
        let at = svg.find(" height=\"").unwrap() + 9;
        svg[at..at + svg[at..].find('"').unwrap()].parse().unwrap()
    }

    /// Issue 13: inferno sizes the image to the deepest frame it keeps, and by default
    /// keeps frames of 0.01% of the width (0.12 px): one deep sample beside a million
    /// shallow ones made a tall, empty image. With frames under a pixel left out, the
    /// height follows what can be seen.
    #[test]
    fn height_follows_the_deepest_visible_stack() {
        let deep: Vec<String> = (0..120).map(|i| format!("f{i}")).collect();
        let stacks = vec![
            (b"main;work".to_vec(), 1_000_000),
            (deep.join(";").into_bytes(), 200),
        ];
        let (tall, fitted) = (svg_height(&stacks, None), svg_height(&stacks, Some(1)));
        assert!(
            tall > 120 * 16,
            "inferno's default keeps the sliver: {tall}"
        );
        assert!(
            fitted < 5 * 16 + 100,
            "fitted to two frames and `all`: {fitted}"
        );
        // A visible deep stack still sets the height.
        let visible = vec![
            (b"main;work".to_vec(), 1_000),
            (deep.join(";").into_bytes(), 200),
        ];
        assert!(svg_height(&visible, Some(1)) > 120 * 16);
    }

    #[test]
    fn folded_detection() {
        assert!(looks_folded(b"a;b 3\nc 1\n"));
        assert!(!looks_folded(b"pf 12 1.0: cpu-clock:\n\t1 f (d)\n"));
        assert!(!looks_folded(b""));
    }

    #[test]
    fn folded_reading_merges_and_sorts() {
        let f = read_folded(b"b;c 2\na 1\nb;c 3\n", Path::new("x")).unwrap();
        assert_eq!(f, vec![(b"a".to_vec(), 1), (b"b;c".to_vec(), 5)]);
        let e = read_folded(b"a 1\nnonsense\n", Path::new("x")).unwrap_err();
        assert!(e.to_string().starts_with("x:2:"), "{e}");
    }
}
