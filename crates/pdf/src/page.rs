//! One page and the drawing operations on it.
//!
//! Coordinates are points (1/72 inch) measured from the **top-left** corner
//! of the page, `y` growing downwards, because that is how callers lay out
//! reports. For text, `y` is the baseline. Conversion to PDF's bottom-left
//! space happens here and nowhere else. This module must not know about
//! objects, offsets or compression: the writer does.

use crate::encoding::{to_win_ansi, write_literal};
use crate::font::{Font, text_width};

/// A page size in points.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PageSize {
    pub width: f32,
    pub height: f32,
}

impl PageSize {
    /// ISO A4 portrait, 210 × 297 mm.
    pub const A4: PageSize = PageSize {
        width: 595.28,
        height: 841.89,
    };
    /// ISO A4 landscape, 297 × 210 mm.
    pub const A4_LANDSCAPE: PageSize = PageSize {
        width: 841.89,
        height: 595.28,
    };

    /// A custom size in points; non-positive or non-finite sides become
    /// one point so the file stays valid.
    pub fn new(width: f32, height: f32) -> Self {
        let side = |v: f32| if v.is_finite() && v >= 1.0 { v } else { 1.0 };
        Self {
            width: side(width),
            height: side(height),
        }
    }

    /// A size from millimetres.
    pub fn from_mm(width: f32, height: f32) -> Self {
        Self::new(mm(width), mm(height))
    }

    /// The same size turned a quarter.
    pub fn rotated(self) -> Self {
        Self {
            width: self.height,
            height: self.width,
        }
    }
}

/// Millimetres to points.
pub fn mm(value: f32) -> f32 {
    value * 72.0 / 25.4
}

/// An RGB colour, one byte per channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Rgb {
    pub r: u8,
    pub g: u8,
    pub b: u8,
}

impl Rgb {
    pub const BLACK: Rgb = Rgb::new(0, 0, 0);
    pub const WHITE: Rgb = Rgb::new(255, 255, 255);
    pub const GRAY: Rgb = Rgb::new(128, 128, 128);
    pub const LIGHT_GRAY: Rgb = Rgb::new(230, 230, 230);

    pub const fn new(r: u8, g: u8, b: u8) -> Self {
        Self { r, g, b }
    }

    /// From `0xRRGGBB`.
    pub const fn hex(rgb: u32) -> Self {
        Self::new((rgb >> 16) as u8, (rgb >> 8) as u8, rgb as u8)
    }

    /// The operands PDF expects, each channel in 0..=1 with three decimals,
    /// e.g. `0.863 0.208 0.271`.
    pub fn operands(self) -> String {
        format!(
            "{} {} {}",
            channel(self.r),
            channel(self.g),
            channel(self.b)
        )
    }
}

fn channel(v: u8) -> String {
    num(f32::from(v) / 255.0)
}

/// How a rectangle is painted.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RectStyle {
    pub fill: Option<Rgb>,
    /// Outline colour and line width in points.
    pub stroke: Option<(Rgb, f32)>,
}

/// A handle to an image added with [`crate::Document::add_image`]. It only
/// means something on pages of the document that returned it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ImageId(pub(crate) usize);

/// Horizontal alignment of a text run relative to its anchor.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Align {
    #[default]
    Left,
    Center,
    Right,
}

/// A page being drawn. Operations are appended to its content stream in
/// call order, so later drawing covers earlier drawing.
#[derive(Clone, Debug)]
pub struct Page {
    size: PageSize,
    content: Vec<u8>,
    images: Vec<usize>,
    text_color: Rgb,
}

impl Page {
    pub(crate) fn new(size: PageSize) -> Self {
        Self {
            size,
            content: Vec::new(),
            images: Vec::new(),
            text_color: Rgb::BLACK,
        }
    }

    pub fn size(&self) -> PageSize {
        self.size
    }

    pub fn width(&self) -> f32 {
        self.size.width
    }

    pub fn height(&self) -> f32 {
        self.size.height
    }

    /// The uncompressed content stream drawn so far (PDF operators), for
    /// snapshots and checks; the file holds it Flate-compressed.
    pub fn content(&self) -> &[u8] {
        &self.content
    }

    pub(crate) fn image_indices(&self) -> &[usize] {
        &self.images
    }

    /// Colour of the text drawn after this call (black by default).
    pub fn set_text_color(&mut self, color: Rgb) {
        self.text_color = color;
    }

    /// Draws `text` with its baseline starting at (`x`, `y`) and returns its
    /// width in points.
    pub fn text(&mut self, x: f32, y: f32, size: f32, font: Font, text: &str) -> f32 {
        self.text_aligned(x, y, size, font, text, Align::Left)
    }

    /// Draws `text` so that it ends at `right`.
    pub fn text_right(&mut self, right: f32, y: f32, size: f32, font: Font, text: &str) -> f32 {
        self.text_aligned(right, y, size, font, text, Align::Right)
    }

    /// Draws `text` centred on `center`.
    pub fn text_centered(&mut self, center: f32, y: f32, size: f32, font: Font, text: &str) -> f32 {
        self.text_aligned(center, y, size, font, text, Align::Center)
    }

    /// Draws `text` anchored at `x` with the given alignment.
    pub fn text_aligned(
        &mut self,
        x: f32,
        y: f32,
        size: f32,
        font: Font,
        text: &str,
        align: Align,
    ) -> f32 {
        let width = text_width(font, size, text);
        let left = match align {
            Align::Left => x,
            Align::Center => x - width / 2.0,
            Align::Right => x - width,
        };
        if text.is_empty() {
            return 0.0;
        }
        let ops = format!(
            "BT {} rg /{} {} Tf {} {} Td ",
            self.text_color.operands(),
            font.resource_name(),
            num(size),
            num(left),
            num(self.flip(y)),
        );
        self.content.extend_from_slice(ops.as_bytes());
        write_literal(&mut self.content, &to_win_ansi(text));
        self.content.extend_from_slice(b" Tj ET\n");
        width
    }

    /// A straight line from (`x1`, `y1`) to (`x2`, `y2`).
    pub fn line(&mut self, x1: f32, y1: f32, x2: f32, y2: f32, width: f32, color: Rgb) {
        let ops = format!(
            "q {} RG {} w {} {} m {} {} l S Q\n",
            color.operands(),
            num(width),
            num(x1),
            num(self.flip(y1)),
            num(x2),
            num(self.flip(y2)),
        );
        self.push(&ops);
    }

    /// A rectangle whose top-left corner is (`x`, `y`).
    pub fn rect(&mut self, x: f32, y: f32, w: f32, h: f32, style: RectStyle) {
        let paint = match (style.fill, style.stroke) {
            (None, None) => return,
            (Some(_), None) => "f",
            (None, Some(_)) => "S",
            (Some(_), Some(_)) => "B",
        };
        let mut ops = String::from("q ");
        if let Some(fill) = style.fill {
            ops.push_str(&format!("{} rg ", fill.operands()));
        }
        if let Some((color, width)) = style.stroke {
            ops.push_str(&format!("{} RG {} w ", color.operands(), num(width)));
        }
        ops.push_str(&format!(
            "{} {} {} {} re {paint} Q\n",
            num(x),
            num(self.flip(y + h)),
            num(w),
            num(h)
        ));
        self.push(&ops);
    }

    /// A filled rectangle without outline.
    pub fn fill_rect(&mut self, x: f32, y: f32, w: f32, h: f32, color: Rgb) {
        self.rect(
            x,
            y,
            w,
            h,
            RectStyle {
                fill: Some(color),
                stroke: None,
            },
        );
    }

    /// An outlined rectangle without fill.
    pub fn stroke_rect(&mut self, x: f32, y: f32, w: f32, h: f32, width: f32, color: Rgb) {
        self.rect(
            x,
            y,
            w,
            h,
            RectStyle {
                fill: None,
                stroke: Some((color, width)),
            },
        );
    }

    /// Draws an image scaled into the box whose top-left corner is
    /// (`x`, `y`). Keeping the aspect ratio is the caller's choice.
    pub fn image(&mut self, image: ImageId, x: f32, y: f32, w: f32, h: f32) {
        if !self.images.contains(&image.0) {
            self.images.push(image.0);
        }
        let ops = format!(
            "q {} 0 0 {} {} {} cm /Im{} Do Q\n",
            num(w),
            num(h),
            num(x),
            num(self.flip(y + h)),
            image.0 + 1
        );
        self.push(&ops);
    }

    /// Fills many rectangles (top-left `x`, `y`, `w`, `h`) as one path, so
    /// touching rectangles render without seams.
    pub(crate) fn fill_rects(&mut self, color: Rgb, rects: &[(f32, f32, f32, f32)]) {
        if rects.is_empty() {
            return;
        }
        let mut ops = format!("q {} rg\n", color.operands());
        for &(x, y, w, h) in rects {
            ops.push_str(&format!(
                "{} {} {} {} re\n",
                num(x),
                num(self.flip(y + h)),
                num(w),
                num(h)
            ));
        }
        ops.push_str("f Q\n");
        self.push(&ops);
    }

    fn flip(&self, y: f32) -> f32 {
        self.size.height - y
    }

    fn push(&mut self, ops: &str) {
        self.content.extend_from_slice(ops.as_bytes());
    }
}

/// Formats a number for a content stream: at most three decimals, no
/// exponent, no `NaN` (which would corrupt the stream).
pub(crate) fn num(value: f32) -> String {
    if !value.is_finite() {
        return "0".to_owned();
    }
    let text = format!("{value:.3}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    match text {
        "-0" | "" => "0".to_owned(),
        other => other.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_short_and_finite() {
        assert_eq!(num(12.0), "12");
        assert_eq!(num(0.5), "0.5");
        assert_eq!(num(841.89), "841.89");
        assert_eq!(num(-0.0001), "0");
        assert_eq!(num(f32::NAN), "0");
        assert_eq!(num(1.0 / 3.0), "0.333");
    }

    #[test]
    fn y_is_measured_from_the_top() {
        let mut page = Page::new(PageSize::new(100.0, 200.0));
        page.fill_rect(10.0, 20.0, 30.0, 40.0, Rgb::hex(0xFF0000));
        let ops = String::from_utf8_lossy(page.content()).into_owned();
        // Bottom-left corner in PDF space: y = 200 - (20 + 40) = 140.
        assert!(ops.contains("1 0 0 rg 10 140 30 40 re f"), "{ops}");
    }

    #[test]
    fn right_aligned_text_ends_at_the_anchor() {
        let mut page = Page::new(PageSize::A4);
        let w = page.text_right(100.0, 50.0, 10.0, Font::Helvetica, "AA");
        assert!((w - 13.34).abs() < 1e-3);
        let ops = String::from_utf8_lossy(page.content()).into_owned();
        assert!(ops.contains("86.66 791.89 Td (AA) Tj"), "{ops}");
    }

    #[test]
    fn colours_are_written_as_fractions() {
        assert_eq!(Rgb::hex(0xDC3545).operands(), "0.863 0.208 0.271");
        assert_eq!(Rgb::WHITE.operands(), "1 1 1");
    }
}
