//! Running the external readers and unpacking what they say.

use std::path::{Path, PathBuf};
use std::process::Command;

use faena_pdf::Document;
use tempfile::TempDir;

/// Runs `tool` and returns its standard output; fails the test when the
/// tool is not installed or exits with an error.
pub fn run(tool: &str, args: &[&str]) -> String {
    let package = match tool {
        "zbarimg" => "zbar-tools",
        _ => "poppler-utils",
    };
    let output = Command::new(tool).args(args).output().unwrap_or_else(|e| {
        panic!(
            "cannot run `{tool}` ({e}): install Debian's {package} (apt-get install -y {package})"
        )
    });
    assert!(
        output.status.success(),
        "`{tool} {}` failed with {}: {}",
        args.join(" "),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("tool output is UTF-8")
}

/// A document written to a temporary file, kept while the value lives.
pub struct PdfFile {
    dir: TempDir,
    pub path: PathBuf,
    pub bytes: Vec<u8>,
}

impl PdfFile {
    pub fn new(doc: &Document) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("doc.pdf");
        let bytes = doc.to_bytes();
        std::fs::write(&path, &bytes).expect("write pdf");
        Self { dir, path, bytes }
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn arg(&self) -> &str {
        self.path.to_str().expect("utf-8 temp path")
    }

    /// `pdftotext -layout`, pages separated by form feeds.
    pub fn text(&self) -> String {
        run("pdftotext", &["-layout", "-enc", "UTF-8", self.arg(), "-"])
    }

    /// The text of each page.
    pub fn pages_text(&self) -> Vec<String> {
        let text = self.text();
        let mut pages: Vec<String> = text.split('\u{c}').map(str::to_owned).collect();
        // pdftotext ends every page with a form feed, the last one too.
        if pages.last().is_some_and(|p| p.trim().is_empty()) {
            pages.pop();
        }
        pages
    }

    /// `pdfinfo` fields by name (`Pages`, `Title`, `Page size` …).
    pub fn info(&self, extra: &[&str]) -> Vec<(String, String)> {
        let mut args = extra.to_vec();
        args.push(self.arg());
        run("pdfinfo", &args)
            .lines()
            .filter_map(|line| line.split_once(':'))
            .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
            .collect()
    }

    pub fn info_field(&self, extra: &[&str], key: &str) -> String {
        self.info(extra)
            .into_iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
            .unwrap_or_else(|| panic!("pdfinfo has no {key}"))
    }

    /// Renders every page at `dpi` and returns the PNG paths in order.
    pub fn render(&self, dpi: u32) -> Vec<PathBuf> {
        let prefix = self.dir().join("page");
        let dpi = dpi.to_string();
        run(
            "pdftoppm",
            &[
                "-png",
                "-r",
                &dpi,
                self.arg(),
                prefix.to_str().expect("utf-8"),
            ],
        );
        let mut pages: Vec<PathBuf> = std::fs::read_dir(self.dir())
            .expect("read temp dir")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "png"))
            .collect();
        pages.sort();
        pages
    }

    /// Each word `pdftotext -bbox` finds, with its box in points from the
    /// top-left corner: (word, x_min, y_min, x_max, y_max).
    pub fn words(&self) -> Vec<(String, f32, f32, f32, f32)> {
        let html = run("pdftotext", &["-bbox", self.arg(), "-"]);
        html.lines()
            .filter_map(|line| {
                let line = line.trim();
                let word = line.strip_suffix("</word>")?.rsplit('>').next()?;
                let attr = |name: &str| -> Option<f32> {
                    let start = line.find(&format!("{name}=\""))? + name.len() + 2;
                    line[start..].split('"').next()?.parse().ok()
                };
                Some((
                    word.to_owned(),
                    attr("xMin")?,
                    attr("yMin")?,
                    attr("xMax")?,
                    attr("yMax")?,
                ))
            })
            .collect()
    }

    /// The box of the only occurrence of `word`.
    pub fn word(&self, word: &str) -> (f32, f32, f32, f32) {
        let found: Vec<_> = self.words().into_iter().filter(|w| w.0 == word).collect();
        assert_eq!(found.len(), 1, "{word:?} should appear once: {found:?}");
        let (_, a, b, c, d) = found[0].clone();
        (a, b, c, d)
    }

    /// Every Flate stream of the file, decompressed.
    pub fn streams(&self) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut rest = &self.bytes[..];
        while let Some(start) = find(rest, b">>\nstream\n") {
            let body = &rest[start + 10..];
            let end = find(body, b"\nendstream").expect("endstream");
            out.push(
                miniz_oxide::inflate::decompress_to_vec_zlib(&body[..end])
                    .expect("stream inflates"),
            );
            rest = &body[end..];
        }
        out
    }
}

/// The QR codes `zbarimg` reads in an image, one string per code.
pub fn scan(image: &Path) -> Vec<String> {
    let path = image.to_str().expect("utf-8 path");
    let out = run(
        "zbarimg",
        &["--quiet", "--raw", "-Sdisable", "-Sqrcode.enable", path],
    );
    out.lines().map(str::to_owned).collect()
}

pub fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
