//! QR codes: the module matrix (error correction level M), a PNG of it,
//! and drawing it on a page as vector rectangles.
//!
//! Owns how a code is encoded and painted. It must not decide what a code
//! points to: callers pass the text (usually a URL with a token).

use image::{GrayImage, ImageEncoder, Luma, codecs::png::PngEncoder};
use qrcode::{Color, EcLevel, QrCode};

use crate::Error;
use crate::page::{Page, Rgb};

/// The light margin scanners expect around a code, in modules.
pub const DEFAULT_QUIET_ZONE: u32 = 4;

/// The dark and light modules of an encoded QR code, without quiet zone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QrMatrix {
    width: usize,
    dark: Vec<bool>,
}

impl QrMatrix {
    /// Modules per side (21 for version 1, 4 more per version).
    pub fn width(&self) -> usize {
        self.width
    }

    /// Whether the module at column `x`, row `y` is dark; outside the
    /// symbol is light.
    pub fn is_dark(&self, x: usize, y: usize) -> bool {
        x < self.width && y < self.width && self.dark[y * self.width + x]
    }
}

/// Encodes `text` (as UTF-8 bytes) at error correction level M, choosing
/// the smallest version that holds it.
pub fn matrix(text: &str) -> Result<QrMatrix, Error> {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M)
        .map_err(|e| Error::Qr(e.to_string()))?;
    Ok(QrMatrix {
        width: code.width(),
        dark: code
            .to_colors()
            .into_iter()
            .map(|c| c == Color::Dark)
            .collect(),
    })
}

/// A grayscale PNG of the code: `module_px` pixels per module and a light
/// margin of `quiet_zone` modules on every side.
pub fn png(text: &str, module_px: u32, quiet_zone: u32) -> Result<Vec<u8>, Error> {
    let code = matrix(text)?;
    let module_px = module_px.max(1);
    let modules = code.width as u32 + 2 * quiet_zone;
    let side = modules
        .checked_mul(module_px)
        .ok_or_else(|| Error::Qr(format!("{modules} modules of {module_px} px overflow")))?;
    let img = GrayImage::from_fn(side, side, |px, py| {
        let (mx, my) = (px / module_px, py / module_px);
        let dark = mx >= quiet_zone
            && my >= quiet_zone
            && code.is_dark((mx - quiet_zone) as usize, (my - quiet_zone) as usize);
        Luma([if dark { 0 } else { 255 }])
    });
    let mut out = Vec::new();
    PngEncoder::new(&mut out).write_image(
        img.as_raw(),
        side,
        side,
        image::ExtendedColorType::L8,
    )?;
    Ok(out)
}

impl Page {
    /// Draws `code` into the square of side `size` points whose top-left
    /// corner is (`x`, `y`), quiet zone included: the square is painted
    /// white first so the code scans on coloured backgrounds too. Dark
    /// modules of a row are merged into runs and filled as one path.
    pub fn qr(&mut self, code: &QrMatrix, x: f32, y: f32, size: f32, quiet_zone: u32) {
        let modules = code.width() as f32 + 2.0 * quiet_zone as f32;
        let module = size / modules;
        let origin_x = x + quiet_zone as f32 * module;
        let origin_y = y + quiet_zone as f32 * module;
        self.fill_rect(x, y, size, size, Rgb::WHITE);

        let mut rects = Vec::new();
        for row in 0..code.width() {
            let mut col = 0;
            while col < code.width() {
                if !code.is_dark(col, row) {
                    col += 1;
                    continue;
                }
                let start = col;
                while col < code.width() && code.is_dark(col, row) {
                    col += 1;
                }
                rects.push((
                    origin_x + start as f32 * module,
                    origin_y + row as f32 * module,
                    (col - start) as f32 * module,
                    module,
                ));
            }
        }
        self.fill_rects(Rgb::BLACK, &rects);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::page::PageSize;

    #[test]
    fn short_text_is_version_one() {
        let code = matrix("hola").expect("encodes");
        assert_eq!(code.width(), 21);
        // Finder pattern corners are dark, the separator next to it light.
        assert!(code.is_dark(0, 0));
        assert!(code.is_dark(20, 0));
        assert!(code.is_dark(0, 20));
        assert!(!code.is_dark(7, 0));
        assert!(!code.is_dark(21, 0));
    }

    #[test]
    fn too_much_data_is_an_error_not_a_panic() {
        let long = "x".repeat(5000);
        assert!(matches!(matrix(&long), Err(Error::Qr(_))));
    }

    #[test]
    fn png_has_the_requested_size() {
        let bytes = png("hola", 4, 4).expect("png");
        let decoded = image::load_from_memory(&bytes).expect("decodes");
        assert_eq!(decoded.width(), (21 + 8) * 4);
        let gray = decoded.to_luma8();
        assert_eq!(gray.get_pixel(0, 0).0, [255]);
        assert_eq!(gray.get_pixel(16, 16).0, [0]);
    }

    #[test]
    fn drawn_code_is_one_filled_path() {
        let code = matrix("hola").expect("encodes");
        let mut page = Page::new(PageSize::A4);
        page.qr(&code, 10.0, 10.0, 58.0, 4);
        let ops = String::from_utf8_lossy(page.content()).into_owned();
        // White background, then the runs of dark modules in black.
        assert!(
            ops.starts_with("q 1 1 1 rg 10 773.89 58 58 re f Q\nq 0 0 0 rg\n"),
            "{ops}"
        );
        assert_eq!(ops.matches("f Q").count(), 2);
        // The top-left finder row is a run of seven modules of 2 pt.
        assert!(ops.contains("18 821.89 14 2 re"), "{ops}");
    }
}
