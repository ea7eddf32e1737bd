//! Code 128 barcodes: the symbols of a text (code set B, with runs of
//! digits packed two to a symbol in code set C), the check symbol, the bar
//! and space widths, and drawing them on a page as filled rectangles.
//!
//! Owns how a text becomes bars (ISO/IEC 15417). It must not decide what a
//! code carries: callers pass the text (an order number, a serial).

use crate::Error;
use crate::page::{Page, Rgb};

/// The light margin scanners need on each side, in modules (the standard
/// asks for at least ten).
pub const DEFAULT_QUIET_ZONE: u32 = 10;

/// Bar and space widths of symbol values 0–105, in modules, bar first:
/// six elements adding up to eleven modules.
const PATTERNS: [[u8; 6]; 106] = [
    [2, 1, 2, 2, 2, 2],
    [2, 2, 2, 1, 2, 2],
    [2, 2, 2, 2, 2, 1],
    [1, 2, 1, 2, 2, 3],
    [1, 2, 1, 3, 2, 2],
    [1, 3, 1, 2, 2, 2],
    [1, 2, 2, 2, 1, 3],
    [1, 2, 2, 3, 1, 2],
    [1, 3, 2, 2, 1, 2],
    [2, 2, 1, 2, 1, 3],
    [2, 2, 1, 3, 1, 2],
    [2, 3, 1, 2, 1, 2],
    [1, 1, 2, 2, 3, 2],
    [1, 2, 2, 1, 3, 2],
    [1, 2, 2, 2, 3, 1],
    [1, 1, 3, 2, 2, 2],
    [1, 2, 3, 1, 2, 2],
    [1, 2, 3, 2, 2, 1],
    [2, 2, 3, 2, 1, 1],
    [2, 2, 1, 1, 3, 2],
    [2, 2, 1, 2, 3, 1],
    [2, 1, 3, 2, 1, 2],
    [2, 2, 3, 1, 1, 2],
    [3, 1, 2, 1, 3, 1],
    [3, 1, 1, 2, 2, 2],
    [3, 2, 1, 1, 2, 2],
    [3, 2, 1, 2, 2, 1],
    [3, 1, 2, 2, 1, 2],
    [3, 2, 2, 1, 1, 2],
    [3, 2, 2, 2, 1, 1],
    [2, 1, 2, 1, 2, 3],
    [2, 1, 2, 3, 2, 1],
    [2, 3, 2, 1, 2, 1],
    [1, 1, 1, 3, 2, 3],
    [1, 3, 1, 1, 2, 3],
    [1, 3, 1, 3, 2, 1],
    [1, 1, 2, 3, 1, 3],
    [1, 3, 2, 1, 1, 3],
    [1, 3, 2, 3, 1, 1],
    [2, 1, 1, 3, 1, 3],
    [2, 3, 1, 1, 1, 3],
    [2, 3, 1, 3, 1, 1],
    [1, 1, 2, 1, 3, 3],
    [1, 1, 2, 3, 3, 1],
    [1, 3, 2, 1, 3, 1],
    [1, 1, 3, 1, 2, 3],
    [1, 1, 3, 3, 2, 1],
    [1, 3, 3, 1, 2, 1],
    [3, 1, 3, 1, 2, 1],
    [2, 1, 1, 3, 3, 1],
    [2, 3, 1, 1, 3, 1],
    [2, 1, 3, 1, 1, 3],
    [2, 1, 3, 3, 1, 1],
    [2, 1, 3, 1, 3, 1],
    [3, 1, 1, 1, 2, 3],
    [3, 1, 1, 3, 2, 1],
    [3, 3, 1, 1, 2, 1],
    [3, 1, 2, 1, 1, 3],
    [3, 1, 2, 3, 1, 1],
    [3, 3, 2, 1, 1, 1],
    [3, 1, 4, 1, 1, 1],
    [2, 2, 1, 4, 1, 1],
    [4, 3, 1, 1, 1, 1],
    [1, 1, 1, 2, 2, 4],
    [1, 1, 1, 4, 2, 2],
    [1, 2, 1, 1, 2, 4],
    [1, 2, 1, 4, 2, 1],
    [1, 4, 1, 1, 2, 2],
    [1, 4, 1, 2, 2, 1],
    [1, 1, 2, 2, 1, 4],
    [1, 1, 2, 4, 1, 2],
    [1, 2, 2, 1, 1, 4],
    [1, 2, 2, 4, 1, 1],
    [1, 4, 2, 1, 1, 2],
    [1, 4, 2, 2, 1, 1],
    [2, 4, 1, 2, 1, 1],
    [2, 2, 1, 1, 1, 4],
    [4, 1, 3, 1, 1, 1],
    [2, 4, 1, 1, 1, 2],
    [1, 3, 4, 1, 1, 1],
    [1, 1, 1, 2, 4, 2],
    [1, 2, 1, 1, 4, 2],
    [1, 2, 1, 2, 4, 1],
    [1, 1, 4, 2, 1, 2],
    [1, 2, 4, 1, 1, 2],
    [1, 2, 4, 2, 1, 1],
    [4, 1, 1, 2, 1, 2],
    [4, 2, 1, 1, 1, 2],
    [4, 2, 1, 2, 1, 1],
    [2, 1, 2, 1, 4, 1],
    [2, 1, 4, 1, 2, 1],
    [4, 1, 2, 1, 2, 1],
    [1, 1, 1, 1, 4, 3],
    [1, 1, 1, 3, 4, 1],
    [1, 3, 1, 1, 4, 1],
    [1, 1, 4, 1, 1, 3],
    [1, 1, 4, 3, 1, 1],
    [4, 1, 1, 1, 1, 3],
    [4, 1, 1, 3, 1, 1],
    [1, 1, 3, 1, 4, 1],
    [1, 1, 4, 1, 3, 1],
    [3, 1, 1, 1, 4, 1],
    [4, 1, 1, 1, 3, 1],
    [2, 1, 1, 4, 1, 2],
    [2, 1, 1, 2, 1, 4],
    [2, 1, 1, 2, 3, 2],
];

/// The stop pattern: seven elements, thirteen modules (the last bar is
/// the termination bar).
const STOP: [u8; 7] = [2, 3, 3, 1, 1, 1, 2];

pub const START_B: u8 = 104;
pub const START_C: u8 = 105;
/// In code set B, switches to C; in C, value 100 switches to B.
const CODE_C: u8 = 99;
const CODE_B: u8 = 100;

/// An encoded Code 128 symbol: its symbol values from the start code to
/// the check symbol (the stop pattern is implied).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Code128 {
    symbols: Vec<u8>,
}

impl Code128 {
    /// The symbol values: start, data (with code-set switches), check.
    pub fn symbols(&self) -> &[u8] {
        &self.symbols
    }

    /// The check symbol: the start value plus each following value times
    /// its position, modulo 103.
    pub fn check(&self) -> u8 {
        self.symbols.last().copied().unwrap_or(0)
    }

    /// Bar and space widths in modules, bar first, stop pattern included
    /// (no quiet zone).
    pub fn widths(&self) -> Vec<u8> {
        let mut out: Vec<u8> = self
            .symbols
            .iter()
            .flat_map(|&s| PATTERNS[usize::from(s)])
            .collect();
        out.extend_from_slice(&STOP);
        out
    }

    /// Width of the symbol in modules, without quiet zone: 11 per symbol
    /// and 13 for the stop.
    pub fn modules(&self) -> u32 {
        self.symbols.len() as u32 * 11 + 13
    }
}

/// The check value of `symbols` (start code first).
pub fn checksum(symbols: &[u8]) -> u8 {
    let sum: u32 = symbols
        .iter()
        .enumerate()
        .map(|(i, &s)| u32::from(s) * (i as u32).max(1))
        .sum();
    (sum % 103) as u8
}

/// Length of the run of ASCII digits at the start of `chars`.
fn digit_run(chars: &[char]) -> usize {
    chars.iter().take_while(|c| c.is_ascii_digit()).count()
}

/// Encodes printable ASCII `text` (space to `~`) in code set B, packing a
/// run of digits in code set C where that makes the code shorter: four or
/// more at the start or the end, six or more in between.
pub fn encode(text: &str) -> Result<Code128, Error> {
    let chars: Vec<char> = text.chars().collect();
    if chars.is_empty() {
        return Err(Error::Barcode("nothing to encode".into()));
    }
    if let Some(bad) = chars.iter().find(|c| !(' '..='~').contains(*c)) {
        return Err(Error::Barcode(format!(
            "{bad:?} is not printable ASCII (Code 128 set B)"
        )));
    }
    let mut symbols = Vec::with_capacity(chars.len() + 3);
    let mut in_c = false;
    let mut i = 0;
    while i < chars.len() {
        let run = digit_run(&chars[i..]);
        let at_start = i == 0;
        let to_end = i + run == chars.len();
        let worth = if at_start || to_end {
            run >= 4
        } else {
            run >= 6
        };
        if worth {
            // An odd run keeps its first digit in set B (or, at the very
            // start, its last one goes back to B).
            let (lead, pairs) = if run % 2 == 1 && !at_start {
                (1, run - 1)
            } else {
                (0, run - run % 2)
            };
            if lead == 1 {
                push_b(&mut symbols, &mut in_c, chars[i]);
                i += 1;
            }
            if symbols.is_empty() {
                symbols.push(START_C);
            } else if !in_c {
                symbols.push(CODE_C);
            }
            in_c = true;
            for pair in chars[i..i + pairs].chunks(2) {
                let tens = pair[0] as u8 - b'0';
                let units = pair[1] as u8 - b'0';
                symbols.push(tens * 10 + units);
            }
            i += pairs;
            continue;
        }
        push_b(&mut symbols, &mut in_c, chars[i]);
        i += 1;
    }
    symbols.push(checksum(&symbols));
    Ok(Code128 { symbols })
}

/// One character in code set B, switching to it first if needed.
fn push_b(symbols: &mut Vec<u8>, in_c: &mut bool, c: char) {
    if symbols.is_empty() {
        symbols.push(START_B);
    } else if *in_c {
        symbols.push(CODE_B);
    }
    *in_c = false;
    symbols.push(c as u8 - b' ');
}

impl Page {
    /// Draws `code` into the box of `width` × `height` points whose
    /// top-left corner is (`x`, `y`), `quiet_zone` modules of white on
    /// each side included: the box is painted white first. The bars are
    /// filled as one path.
    pub fn code128(
        &mut self,
        code: &Code128,
        x: f32,
        y: f32,
        width: f32,
        height: f32,
        quiet_zone: u32,
    ) {
        let modules = code.modules() as f32 + 2.0 * quiet_zone as f32;
        let module = width / modules;
        self.fill_rect(x, y, width, height, Rgb::WHITE);
        let mut at = x + quiet_zone as f32 * module;
        let mut rects = Vec::new();
        for (i, w) in code.widths().into_iter().enumerate() {
            let w = f32::from(w) * module;
            if i % 2 == 0 {
                rects.push((at, y, w, height));
            }
            at += w;
        }
        self.fill_rects(Rgb::BLACK, &rects);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::page::PageSize;

    #[test]
    fn every_pattern_is_eleven_modules_and_unique() {
        for (value, p) in PATTERNS.iter().enumerate() {
            assert_eq!(p.iter().map(|&w| u32::from(w)).sum::<u32>(), 11, "{value}");
        }
        assert_eq!(STOP.iter().map(|&w| u32::from(w)).sum::<u32>(), 13);
        let mut seen = std::collections::HashSet::new();
        assert!(PATTERNS.iter().all(|p| seen.insert(*p)));
    }

    #[test]
    fn the_published_check_digit_examples() {
        // Wikipedia's "Code 128" article, PJJ123C in code set A:
        // 103 + 48·1 + 42·2 + 42·3 + 17·4 + 18·5 + 19·6 + 35·7 = 878,
        // remainder 54.
        assert_eq!(checksum(&[103, 48, 42, 42, 17, 18, 19, 35]), 54);
        // barcodeisland.com's HI345678 (start A, H I, code C, 34 56 78): 67.
        assert_eq!(checksum(&[103, 40, 41, 99, 34, 56, 78]), 67);
        // barcoderesource.com's set B "abcdef" (97) and set C "345678" (73),
        // encoded here end to end.
        let b = encode("abcdef").expect("encodes");
        assert_eq!(b.symbols(), [104, 65, 66, 67, 68, 69, 70, 97]);
        let c = encode("345678").expect("encodes");
        assert_eq!(c.symbols(), [105, 34, 56, 78, 73]);
        // The same PJJ123C in code set B starts one higher: 55.
        let code = encode("PJJ123C").expect("encodes");
        assert_eq!(code.symbols(), [104, 48, 42, 42, 17, 18, 19, 35, 55]);
        assert_eq!(code.check(), 55);
        // As bars and spaces: start B is 211214, P (48) is 313121, and
        // the stop pattern 2331112 closes it.
        let widths = code.widths();
        assert_eq!(&widths[..6], &[2, 1, 1, 2, 1, 4]);
        assert_eq!(&widths[6..12], &[3, 1, 3, 1, 2, 1]);
        assert_eq!(&widths[widths.len() - 7..], &STOP);
        assert_eq!(code.modules(), 9 * 11 + 13);
    }

    #[test]
    fn digit_runs_go_to_code_set_c() {
        // Trailing six digits: B for "OS-2026-", then C for 00 01 23.
        let code = encode("OS-2026-000123").expect("encodes");
        let s = code.symbols();
        assert_eq!(s[0], START_B);
        let c_at = s.iter().position(|&v| v == CODE_C).expect("switches to C");
        assert_eq!(&s[c_at + 1..s.len() - 1], &[0, 1, 23]);
        assert_eq!(s.len(), 1 + 8 + 1 + 3 + 1);
        // All digits, even: start in C.
        assert_eq!(
            encode("123456").unwrap().symbols()[..4],
            [START_C, 12, 34, 56]
        );
        // Odd at the start: pairs in C, the last digit back in B.
        let odd = encode("12345").unwrap();
        assert_eq!(odd.symbols()[..5], [START_C, 12, 34, CODE_B, 21]);
        // A short run stays in B.
        assert_eq!(
            encode("A12B").unwrap().symbols()[..5],
            [START_B, 33, 17, 18, 34]
        );
    }

    #[test]
    fn checksum_matches_the_definition() {
        let code = encode("OS-2026-000123").unwrap();
        let s = code.symbols();
        assert_eq!(checksum(&s[..s.len() - 1]), code.check());
    }

    #[test]
    fn non_ascii_is_refused() {
        assert!(matches!(encode("Ñuñoa"), Err(Error::Barcode(_))));
        assert!(matches!(encode(""), Err(Error::Barcode(_))));
        assert!(matches!(encode("a\nb"), Err(Error::Barcode(_))));
    }

    #[test]
    fn drawn_bars_are_one_path_inside_the_quiet_zone() {
        let code = encode("AB").unwrap();
        let mut page = Page::new(PageSize::A4);
        let modules = code.modules() + 20;
        page.code128(&code, 10.0, 10.0, modules as f32, 30.0, 10);
        let ops = String::from_utf8_lossy(page.content()).into_owned();
        assert!(ops.starts_with("q 1 1 1 rg 10 801.89"), "{ops}");
        assert_eq!(ops.matches("f Q").count(), 2);
        // First bar of start B: 2 modules wide, after 10 of quiet zone.
        assert!(ops.contains("\n20 801.89 2 30 re\n"), "{ops}");
    }
}
