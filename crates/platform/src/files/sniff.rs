//! What a file is, decided from its bytes, and what it may be called.
//!
//! The client's name and declared content type are never trusted: the type
//! comes from the content's signature (`infer`), plain text from a UTF-8
//! check of the head. The name's extension must agree with the content, so
//! `foto.jpg` that holds a PDF or a program is refused instead of being
//! handed to the next person as a picture. Pure functions, unit-tested.

/// A type Faena accepts, with the extensions a name of it may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kind {
    /// Short name used in `files.allowed_types`.
    pub name: &'static str,
    pub mime: &'static str,
    pub extensions: &'static [&'static str],
    /// Thumbnails are made for these.
    pub image: bool,
}

const fn kind(
    name: &'static str,
    mime: &'static str,
    extensions: &'static [&'static str],
    image: bool,
) -> Kind {
    Kind {
        name,
        mime,
        extensions,
        image,
    }
}

pub const JPEG: Kind = kind("jpeg", "image/jpeg", &["jpg", "jpeg", "jpe", "jfif"], true);
pub const PNG: Kind = kind("png", "image/png", &["png"], true);
pub const WEBP: Kind = kind("webp", "image/webp", &["webp"], true);
pub const GIF: Kind = kind("gif", "image/gif", &["gif"], true);
pub const PDF: Kind = kind("pdf", "application/pdf", &["pdf"], false);
pub const TEXT: Kind = kind("text", "text/plain", &["txt", "text", "log", "md"], false);
pub const CSV: Kind = kind("csv", "text/csv", &["csv", "tsv"], false);
pub const DOCX: Kind = kind(
    "docx",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    &["docx"],
    false,
);
pub const XLSX: Kind = kind(
    "xlsx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    &["xlsx"],
    false,
);
pub const PPTX: Kind = kind(
    "pptx",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    &["pptx"],
    false,
);
pub const ODT: Kind = kind(
    "odt",
    "application/vnd.oasis.opendocument.text",
    &["odt"],
    false,
);
pub const ODS: Kind = kind(
    "ods",
    "application/vnd.oasis.opendocument.spreadsheet",
    &["ods"],
    false,
);

/// Every type Faena knows how to recognise and may accept.
pub const KNOWN: &[Kind] = &[
    JPEG, PNG, WEBP, GIF, PDF, TEXT, CSV, DOCX, XLSX, PPTX, ODT, ODS,
];

/// How many leading bytes the sniffer needs (Office formats are found by
/// the names of the first zip entries).
pub const HEAD_BYTES: usize = 64 * 1024;

/// What the content is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sniffed {
    Known(Kind),
    /// Recognised, but not a type Faena stores (`application/x-executable`).
    Other(String),
    /// Not recognised at all (arbitrary binary).
    Unknown,
}

/// Decides the type from the first bytes of the content (up to
/// `HEAD_BYTES`) and the (sanitised) name, which only tells text from CSV.
pub fn sniff(head: &[u8], name: &str) -> Sniffed {
    if let Some(t) = infer::get(head) {
        let mime = t.mime_type();
        if let Some(k) = KNOWN.iter().find(|k| k.mime == mime) {
            return Sniffed::Known(*k);
        }
        // HTML, XML and shell scripts are text to `infer`, but not files we
        // hand out as plain text.
        return Sniffed::Other(mime.to_owned());
    }
    if looks_like_text(head) {
        let ext = extension(name);
        return if ext.is_some_and(|e| CSV.extensions.contains(&e.as_str())) {
            Sniffed::Known(CSV)
        } else {
            Sniffed::Known(TEXT)
        };
    }
    Sniffed::Unknown
}

/// UTF-8 (a character cut at the end of the head is fine) with no NUL or
/// control characters other than tab, line feed, carriage return and form
/// feed; a BOM is allowed.
fn looks_like_text(head: &[u8]) -> bool {
    if head.is_empty() {
        return true;
    }
    let text = match std::str::from_utf8(head) {
        Ok(s) => s,
        // Only an incomplete last character (cut by the head) is allowed.
        Err(e) if e.error_len().is_none() && head.len() - e.valid_up_to() < 4 => {
            match std::str::from_utf8(&head[..e.valid_up_to()]) {
                Ok(s) => s,
                Err(_) => return false,
            }
        }
        Err(_) => return false,
    };
    !text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r' | '\u{c}'))
}

/// The lowercase extension of a name, if it has one.
pub fn extension(name: &str) -> Option<String> {
    let (stem, ext) = name.rsplit_once('.')?;
    if stem.is_empty() || ext.is_empty() || ext.len() > 10 {
        return None;
    }
    Some(ext.to_ascii_lowercase())
}

/// Whether the name's extension agrees with the content. A name without
/// an extension agrees with anything (the download adds the right one).
pub fn extension_agrees(name: &str, kind: &Kind) -> bool {
    match extension(name) {
        None => true,
        Some(ext) => {
            kind.extensions.contains(&ext.as_str())
                // `.txt` holding CSV, or `.csv` holding text, is the same thing.
                || (kind.mime.starts_with("text/")
                    && (TEXT.extensions.contains(&ext.as_str())
                        || CSV.extensions.contains(&ext.as_str())))
        }
    }
}

/// The longest stored name, in characters.
pub const MAX_NAME_CHARS: usize = 200;

/// A name safe to store, show and send back in `Content-Disposition`: the
/// last path component only (no `..`, no folders, either slash), no control
/// or bidirectional-override characters, trimmed of dots and spaces at the
/// ends, at most `MAX_NAME_CHARS` characters with the extension kept.
/// Never empty: `archivo` when nothing is left.
pub fn sanitise_name(raw: &str) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = last
        .chars()
        .filter(|c| !c.is_control() && !is_bidi_control(*c))
        .map(|c| match c {
            ':' | '*' | '?' | '"' | '<' | '>' | '|' => '_',
            c => c,
        })
        .collect();
    let trimmed = cleaned.trim_matches(|c: char| c == '.' || c.is_whitespace());
    let mut name = if trimmed.is_empty() {
        "archivo".to_owned()
    } else {
        trimmed.to_owned()
    };
    if name.chars().count() > MAX_NAME_CHARS {
        let ext = extension(&name).filter(|e| e.chars().count() <= 10);
        let keep = MAX_NAME_CHARS - ext.as_ref().map_or(0, |e| e.chars().count() + 1);
        let stem: String = name.chars().take(keep).collect();
        name = match ext {
            Some(e) => format!("{}.{e}", stem.trim_end_matches('.')),
            None => stem,
        };
    }
    name
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    const PDF_BYTES: &[u8] = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n";
    const PNG_BYTES: &[u8] = &[0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13];
    /// The 64-byte header of an x86-64 Linux program.
    fn elf() -> Vec<u8> {
        let mut h = vec![0x7f, b'E', b'L', b'F', 2, 1, 1, 0];
        h.resize(64, 0);
        h[16] = 2; // executable
        h[18] = 0x3e; // x86-64
        h
    }

    #[test]
    fn types_come_from_the_content() {
        assert_eq!(sniff(PDF_BYTES, "foto.jpg"), Sniffed::Known(PDF));
        assert_eq!(sniff(PNG_BYTES, "x"), Sniffed::Known(PNG));
        assert_eq!(
            sniff(&elf(), "foto.jpg"),
            Sniffed::Other("application/x-executable".into())
        );
        assert_eq!(
            sniff(b"rut;nombre\n1-9;Ana\n", "clientes.csv"),
            Sniffed::Known(CSV)
        );
        assert_eq!(
            sniff("Guía de despacho ñandú\n".as_bytes(), "nota.txt"),
            Sniffed::Known(TEXT)
        );
        assert_eq!(
            sniff(&[0, 1, 2, 3, 0xff, 0xfe, 0], "datos.bin"),
            Sniffed::Unknown
        );
        assert!(matches!(
            sniff(b"<html><body>x</body></html>", "a.txt"),
            Sniffed::Other(_)
        ));
    }

    #[test]
    fn a_character_cut_by_the_head_is_still_text() {
        let mut head = "ñandú ".repeat(10).into_bytes();
        head.push(0xc3); // first byte of a two-byte character
        assert!(looks_like_text(&head));
        assert!(!looks_like_text(b"abc\xff\xfe def"));
    }

    #[test]
    fn lying_extensions_are_found() {
        assert!(!extension_agrees("foto.jpg", &PDF));
        assert!(extension_agrees("Factura.PDF", &PDF));
        assert!(extension_agrees("sin_extension", &PNG));
        assert!(extension_agrees("datos.txt", &CSV));
        assert!(!extension_agrees("datos.exe", &TEXT));
    }

    #[test]
    fn names_cannot_escape_or_deceive() {
        assert_eq!(sanitise_name("../../etc/passwd"), "passwd");
        assert_eq!(sanitise_name("..\\..\\windows\\system.ini"), "system.ini");
        assert_eq!(sanitise_name("/"), "archivo");
        assert_eq!(sanitise_name(".."), "archivo");
        assert_eq!(sanitise_name("a\u{0}b\r\nc.txt"), "abc.txt");
        assert_eq!(sanitise_name("factura\u{202e}fdp.exe"), "facturafdp.exe");
        assert_eq!(sanitise_name("  .oculto.  "), "oculto");
        assert_eq!(sanitise_name("a:b*c?.pdf"), "a_b_c_.pdf");
        let long = format!("{}.pdf", "x".repeat(500));
        let name = sanitise_name(&long);
        assert_eq!(name.chars().count(), MAX_NAME_CHARS);
        assert!(name.ends_with(".pdf"));
        assert_eq!(
            sanitise_name("Informe técnico Nº 3.docx"),
            "Informe técnico Nº 3.docx"
        );
    }
}
