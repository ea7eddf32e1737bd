//! The two standard Type1 fonts the crate draws with and their metrics.
//!
//! Owns the advance widths of Helvetica and Helvetica-Bold (Adobe's Core 14
//! AFM values, indexed by WinAnsi code 32..=255) and the measuring and line
//! wrapping built on them. It must not draw: pages and layout call it.

use crate::encoding::to_win_ansi;

/// A standard Type1 font; viewers supply the glyphs, nothing is embedded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Font {
    Helvetica,
    HelveticaBold,
}

impl Font {
    /// The PostScript name written as `/BaseFont`.
    pub fn base_name(self) -> &'static str {
        match self {
            Font::Helvetica => "Helvetica",
            Font::HelveticaBold => "Helvetica-Bold",
        }
    }

    /// The resource name pages use in `Tf`.
    pub(crate) fn resource_name(self) -> &'static str {
        match self {
            Font::Helvetica => "F1",
            Font::HelveticaBold => "F2",
        }
    }

    /// Advance width of one WinAnsi code in thousandths of an em.
    pub fn code_width(self, code: u8) -> u16 {
        let table = match self {
            Font::Helvetica => &HELVETICA,
            Font::HelveticaBold => &HELVETICA_BOLD,
        };
        // Codes below 32 are never written (encoding maps them to '?' or a
        // space); measure them as a space rather than panic.
        table[usize::from(code.max(32)) - 32]
    }
}

/// Width in points of `text` set in `font` at `size` points, measured on
/// the bytes that are actually written (so `?` replacements count).
pub fn text_width(font: Font, size: f32, text: &str) -> f32 {
    let units: u32 = to_win_ansi(text)
        .into_iter()
        .map(|code| u32::from(font.code_width(code)))
        .sum();
    units as f32 * size / 1000.0
}

/// Breaks `text` into lines no wider than `max_width` points. Existing
/// line breaks are kept, words are split at whitespace, and a word wider
/// than a whole line is cut between characters. An empty text gives one
/// empty line so callers keep the vertical space.
pub fn wrap(font: Font, size: f32, text: &str, max_width: f32) -> Vec<String> {
    let mut lines = Vec::new();
    for paragraph in text.split('\n') {
        let mut line = String::new();
        for word in paragraph.split_whitespace() {
            let candidate = if line.is_empty() {
                word.to_owned()
            } else {
                format!("{line} {word}")
            };
            if text_width(font, size, &candidate) <= max_width {
                line = candidate;
                continue;
            }
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            // The word alone may still be too wide: cut it.
            for c in word.chars() {
                let mut next = line.clone();
                next.push(c);
                if !line.is_empty() && text_width(font, size, &next) > max_width {
                    lines.push(std::mem::take(&mut line));
                    line.push(c);
                } else {
                    line = next;
                }
            }
        }
        lines.push(line);
    }
    lines
}

/// Shortens `text` with a trailing ellipsis so it fits in `max_width`.
pub fn truncate(font: Font, size: f32, text: &str, max_width: f32) -> String {
    if text_width(font, size, text) <= max_width {
        return text.to_owned();
    }
    let mut kept: String = text.to_owned();
    while !kept.is_empty() {
        kept.pop();
        let candidate = format!("{}…", kept.trim_end());
        if text_width(font, size, &candidate) <= max_width {
            return candidate;
        }
    }
    String::new()
}

// Helvetica, WinAnsi codes 0x20..=0xFF (undefined codes carry the bullet
// width, as the PDF specification says viewers show them).
const HELVETICA: [u16; 224] = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, // 0x20
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, // 0x30
    1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778, // 0x40
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556, // 0x50
    333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556, // 0x60
    556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584, 350, // 0x70
    556, 350, 222, 556, 333, 1000, 556, 556, 333, 1000, 667, 333, 1000, 350, 611, 350, // 0x80
    350, 222, 222, 333, 333, 350, 556, 1000, 333, 1000, 500, 333, 944, 350, 500, 667, // 0x90
    278, 333, 556, 556, 556, 556, 260, 556, 333, 737, 370, 556, 584, 333, 737, 333, // 0xa0
    400, 584, 333, 333, 333, 556, 537, 278, 333, 333, 365, 556, 834, 834, 834, 611, // 0xb0
    667, 667, 667, 667, 667, 667, 1000, 722, 667, 667, 667, 667, 278, 278, 278, 278, // 0xc0
    722, 722, 778, 778, 778, 778, 778, 584, 778, 722, 722, 722, 722, 667, 667, 611, // 0xd0
    556, 556, 556, 556, 556, 556, 889, 500, 556, 556, 556, 556, 278, 278, 278, 278, // 0xe0
    556, 556, 556, 556, 556, 556, 556, 584, 611, 556, 556, 556, 556, 500, 556, 500, // 0xf0
];
const HELVETICA_BOLD: [u16; 224] = [
    278, 333, 474, 556, 556, 889, 722, 238, 333, 333, 389, 584, 278, 333, 278, 278, // 0x20
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 333, 333, 584, 584, 584, 611, // 0x30
    975, 722, 722, 722, 722, 667, 611, 778, 722, 278, 556, 722, 611, 833, 722, 778, // 0x40
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 333, 278, 333, 584, 556, // 0x50
    333, 556, 611, 556, 611, 556, 333, 611, 611, 278, 278, 556, 278, 889, 611, 611, // 0x60
    611, 611, 389, 556, 333, 611, 556, 778, 556, 556, 500, 389, 280, 389, 584, 350, // 0x70
    556, 350, 278, 556, 500, 1000, 556, 556, 333, 1000, 667, 333, 1000, 350, 611, 350, // 0x80
    350, 278, 278, 500, 500, 350, 556, 1000, 333, 1000, 556, 333, 944, 350, 500, 667, // 0x90
    278, 333, 556, 556, 556, 556, 280, 556, 333, 737, 370, 556, 584, 333, 737, 333, // 0xa0
    400, 584, 333, 333, 333, 611, 556, 278, 333, 333, 365, 556, 834, 834, 834, 611, // 0xb0
    722, 722, 722, 722, 722, 722, 1000, 722, 667, 667, 667, 667, 278, 278, 278, 278, // 0xc0
    722, 722, 778, 778, 778, 778, 778, 584, 778, 722, 722, 722, 722, 667, 667, 611, // 0xd0
    556, 556, 556, 556, 556, 556, 889, 556, 556, 556, 556, 556, 278, 278, 278, 278, // 0xe0
    611, 611, 611, 611, 611, 611, 611, 584, 611, 611, 611, 611, 611, 556, 611, 556, // 0xf0
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_follow_the_afm_files() {
        assert_eq!(Font::Helvetica.code_width(b'A'), 667);
        assert_eq!(Font::HelveticaBold.code_width(b'A'), 722);
        assert_eq!(Font::Helvetica.code_width(b' '), 278);
        assert_eq!(Font::Helvetica.code_width(b'i'), 222);
        assert_eq!(Font::Helvetica.code_width(b'@'), 1015);
        assert_eq!(Font::HelveticaBold.code_width(b'@'), 975);
        assert_eq!(Font::Helvetica.code_width(0xF1), 556); // ñ
        assert_eq!(Font::HelveticaBold.code_width(0xF1), 611);
        assert_eq!(Font::Helvetica.code_width(0x80), 556); // €
        assert_eq!(Font::Helvetica.code_width(0x97), 1000); // —
        assert_eq!(Font::Helvetica.code_width(0xB0), 400); // °
    }

    #[test]
    fn text_width_scales_with_size() {
        assert!((text_width(Font::Helvetica, 10.0, "A") - 6.67).abs() < 1e-4);
        assert!((text_width(Font::Helvetica, 12.0, "Año") - 12.0 * 1.779).abs() < 1e-4);
        // A character outside WinAnsi is measured as the '?' that is drawn.
        assert_eq!(
            text_width(Font::Helvetica, 10.0, "漢"),
            text_width(Font::Helvetica, 10.0, "?")
        );
    }

    #[test]
    fn wrap_keeps_lines_within_the_width() {
        let text = "Calibración vencida del equipo de medición en la planta de Ñuñoa";
        let lines = wrap(Font::Helvetica, 10.0, text, 120.0);
        assert!(lines.len() > 2, "{lines:?}");
        for line in &lines {
            assert!(text_width(Font::Helvetica, 10.0, line) <= 120.0, "{line}");
        }
        assert_eq!(lines.join(" "), text);
    }

    #[test]
    fn wrap_cuts_a_word_longer_than_the_line() {
        let lines = wrap(Font::Helvetica, 10.0, "WWWWWWWWWWWWWWWWWWWW", 50.0);
        assert!(lines.len() >= 4, "{lines:?}");
        assert_eq!(lines.concat(), "WWWWWWWWWWWWWWWWWWWW");
    }

    #[test]
    fn wrap_keeps_explicit_breaks_and_empty_text() {
        assert_eq!(wrap(Font::Helvetica, 10.0, "a\nb", 500.0), ["a", "b"]);
        assert_eq!(wrap(Font::Helvetica, 10.0, "", 500.0), [""]);
    }

    #[test]
    fn truncate_adds_an_ellipsis_only_when_needed() {
        assert_eq!(truncate(Font::Helvetica, 10.0, "corto", 100.0), "corto");
        let cut = truncate(Font::Helvetica, 10.0, "un texto bastante largo", 50.0);
        assert!(cut.ends_with('…'), "{cut}");
        assert!(text_width(Font::Helvetica, 10.0, &cut) <= 50.0);
    }
}
