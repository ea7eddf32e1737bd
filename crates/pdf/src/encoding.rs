//! WinAnsiEncoding: the single-byte code page the standard 14 Type1 fonts
//! are addressed with, and the escaping of PDF literal strings.
//!
//! Owns the mapping from Unicode to the bytes a content stream holds. It
//! must not know about fonts or layout: every other module encodes through
//! [`to_win_ansi`] so that widths and drawn glyphs can never disagree.

/// The byte written for a character WinAnsi cannot represent.
pub const REPLACEMENT: u8 = b'?';

/// Maps one character to its WinAnsi code, or `None` when the code page
/// has no such character (CJK, emoji, most symbols, control characters).
pub fn win_ansi_code(c: char) -> Option<u8> {
    let code = c as u32;
    match code {
        0x20..=0x7E | 0xA0..=0xFF => u8::try_from(code).ok(),
        _ => match c {
            '€' => Some(0x80),
            '‚' => Some(0x82),
            'ƒ' => Some(0x83),
            '„' => Some(0x84),
            '…' => Some(0x85),
            '†' => Some(0x86),
            '‡' => Some(0x87),
            'ˆ' => Some(0x88),
            '‰' => Some(0x89),
            'Š' => Some(0x8A),
            '‹' => Some(0x8B),
            'Œ' => Some(0x8C),
            'Ž' => Some(0x8E),
            '‘' => Some(0x91),
            '’' => Some(0x92),
            '“' => Some(0x93),
            '”' => Some(0x94),
            '•' => Some(0x95),
            '–' => Some(0x96),
            '—' => Some(0x97),
            '˜' => Some(0x98),
            '™' => Some(0x99),
            'š' => Some(0x9A),
            '›' => Some(0x9B),
            'œ' => Some(0x9C),
            'ž' => Some(0x9E),
            'Ÿ' => Some(0x9F),
            // Tabs and line breaks inside a single text run read as spaces.
            '\t' | '\n' | '\r' => Some(b' '),
            _ => None,
        },
    }
}

/// Encodes text as WinAnsi bytes; characters outside the code page become
/// [`REPLACEMENT`] (`?`).
pub fn to_win_ansi(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| win_ansi_code(c).unwrap_or(REPLACEMENT))
        .collect()
}

/// Writes `bytes` as a PDF literal string, parentheses included. Bytes
/// outside printable ASCII are written as octal escapes so the file stays
/// 7-bit clean and no byte can end the string early.
pub(crate) fn write_literal(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(b'(');
    for &b in bytes {
        match b {
            b'(' | b')' | b'\\' => {
                out.push(b'\\');
                out.push(b);
            }
            0x20..=0x7E => out.push(b),
            _ => out.extend_from_slice(format!("\\{b:03o}").as_bytes()),
        }
    }
    out.push(b')');
}

/// Writes a text string for the document information dictionary: UTF-16BE
/// with a byte order mark, as a hex string, so any title survives.
pub(crate) fn write_text_string(out: &mut Vec<u8>, text: &str) {
    out.extend_from_slice(b"<FEFF");
    for unit in text.encode_utf16() {
        out.extend_from_slice(format!("{unit:04X}").as_bytes());
    }
    out.push(b'>');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spanish_letters_map_to_latin1_codes() {
        assert_eq!(win_ansi_code('é'), Some(0xE9));
        assert_eq!(win_ansi_code('ñ'), Some(0xF1));
        assert_eq!(win_ansi_code('Ñ'), Some(0xD1));
        assert_eq!(win_ansi_code('ü'), Some(0xFC));
        assert_eq!(win_ansi_code('¿'), Some(0xBF));
        assert_eq!(win_ansi_code('¡'), Some(0xA1));
        assert_eq!(win_ansi_code('°'), Some(0xB0));
        assert_eq!(win_ansi_code('º'), Some(0xBA));
    }

    #[test]
    fn windows_1252_specials_use_the_0x80_row() {
        assert_eq!(win_ansi_code('€'), Some(0x80));
        assert_eq!(win_ansi_code('—'), Some(0x97));
        assert_eq!(win_ansi_code('“'), Some(0x93));
        assert_eq!(win_ansi_code('…'), Some(0x85));
    }

    #[test]
    fn characters_outside_the_code_page_become_question_marks() {
        assert_eq!(win_ansi_code('漢'), None);
        assert_eq!(to_win_ansi("a漢😀b"), b"a??b".to_vec());
        // C1 controls share numbers with cp1252's row but are not its letters.
        assert_eq!(to_win_ansi("\u{0080}\u{0097}"), b"??".to_vec());
    }

    #[test]
    fn literal_strings_escape_delimiters_and_high_bytes() {
        let mut out = Vec::new();
        write_literal(&mut out, &to_win_ansi("(a\\b) ñ"));
        assert_eq!(out, b"(\\(a\\\\b\\) \\361)".to_vec());
    }

    #[test]
    fn info_strings_are_utf16_with_bom() {
        let mut out = Vec::new();
        write_text_string(&mut out, "Añ");
        assert_eq!(out, b"<FEFF004100F1>".to_vec());
    }
}
